//! The `tensorflow.Event` protocol buffer, scalar summaries only, encoded and decoded by hand.

use super::record::{push_record, read_records};

/// What the first event of every file declares.
pub const FILE_VERSION: &str = "brain.Event:2";

/// One scalar point of a curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    pub tag: String,
    pub step: i64,
    pub value: f32,
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, ((field as u64) << 3) | wire as u64);
}

fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// `Event{wall_time, step, file_version | summary}`.
fn event(wall_time: f64, step: i64, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut e = Vec::new();
    key(&mut e, 1, 1);
    e.extend_from_slice(&wall_time.to_le_bytes());
    if step != 0 {
        key(&mut e, 2, 0);
        varint(&mut e, step as u64);
    }
    body(&mut e);
    e
}

fn scalar_event(s: &Scalar) -> Vec<u8> {
    let mut value = Vec::new();
    bytes_field(&mut value, 1, s.tag.as_bytes());
    key(&mut value, 2, 5);
    value.extend_from_slice(&s.value.to_le_bytes());
    let mut summary = Vec::new();
    bytes_field(&mut summary, 1, &value);
    event(0.0, s.step, |e| bytes_field(e, 5, &summary))
}

/// A whole event file: the file-version event, then one event per scalar (wall time 0).
pub fn encode_events(scalars: &[Scalar]) -> Vec<u8> {
    let mut out = Vec::new();
    push_record(
        &mut out,
        &event(0.0, 0, |e| bytes_field(e, 3, FILE_VERSION.as_bytes())),
    );
    for s in scalars {
        push_record(&mut out, &scalar_event(s));
    }
    out
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.at).ok_or("truncated varint")?;
            self.at += 1;
            v |= ((byte & 0x7F) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let s = self.b.get(self.at..self.at + n).ok_or("truncated field")?;
        self.at += n;
        Ok(s)
    }

    /// The next (field, wire type, payload) where payload holds fixed or delimited bytes, or
    /// the varint value as 8 little-endian bytes.
    fn field(&mut self) -> Result<Option<(u32, u8, Vec<u8>)>, String> {
        if self.at >= self.b.len() {
            return Ok(None);
        }
        let k = self.varint()?;
        let (field, wire) = ((k >> 3) as u32, (k & 7) as u8);
        let payload = match wire {
            0 => self.varint()?.to_le_bytes().to_vec(),
            1 => self.take(8)?.to_vec(),
            2 => {
                let n = self.varint()? as usize;
                self.take(n)?.to_vec()
            }
            5 => self.take(4)?.to_vec(),
            w => return Err(format!("unsupported wire type {w}")),
        };
        Ok(Some((field, wire, payload)))
    }
}

fn fields(b: &[u8]) -> Result<Vec<(u32, u8, Vec<u8>)>, String> {
    let mut r = Reader { b, at: 0 };
    let mut out = Vec::new();
    while let Some(f) = r.field()? {
        out.push(f);
    }
    Ok(out)
}

/// The scalars of an event file (CRCs checked; the file-version event must come first).
pub fn decode_events(bytes: &[u8]) -> Result<Vec<Scalar>, String> {
    let records = read_records(bytes)?;
    let first = records.first().ok_or("no events")?;
    let version = fields(first)?
        .into_iter()
        .find(|(f, w, _)| *f == 3 && *w == 2)
        .map(|(_, _, p)| String::from_utf8_lossy(&p).into_owned());
    if version.as_deref() != Some(FILE_VERSION) {
        return Err(format!(
            "first event is not the file version {FILE_VERSION}"
        ));
    }
    let mut out = Vec::new();
    for rec in &records[1..] {
        let mut step = 0i64;
        let mut summary = None;
        for (f, w, p) in fields(rec)? {
            match (f, w) {
                (2, 0) => step = u64::from_le_bytes(p.try_into().expect("8 bytes")) as i64,
                (5, 2) => summary = Some(p),
                _ => {}
            }
        }
        let Some(summary) = summary else { continue };
        for (f, _, value) in fields(&summary)? {
            if f != 1 {
                continue;
            }
            let (mut tag, mut v) = (String::new(), None);
            for (vf, vw, p) in fields(&value)? {
                match (vf, vw) {
                    (1, 2) => tag = String::from_utf8_lossy(&p).into_owned(),
                    (2, 5) => v = Some(f32::from_le_bytes(p.try_into().expect("4 bytes"))),
                    _ => {}
                }
            }
            if let Some(value) = v {
                out.push(Scalar { tag, step, value });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_round_trip() {
        let s = vec![
            Scalar {
                tag: "train/loss".into(),
                step: 1,
                value: 0.5,
            },
            Scalar {
                tag: "train/lr".into(),
                step: 300_000,
                value: 1e-4,
            },
            Scalar {
                tag: "eval/success_rate".into(),
                step: 0,
                value: -2.25,
            },
        ];
        let bytes = encode_events(&s);
        assert_eq!(decode_events(&bytes).unwrap(), s);
        assert_eq!(bytes, encode_events(&s), "same scalars, same bytes");
    }

    #[test]
    fn known_encoding_of_one_scalar() {
        // Event{wall_time: 0, step: 3, summary{value{tag: "a", simple_value: 1.0}}}
        let e = scalar_event(&Scalar {
            tag: "a".into(),
            step: 3,
            value: 1.0,
        });
        let want: Vec<u8> = [
            &[0x09][..],
            &[0; 8],
            &[0x10, 0x03, 0x2A, 0x0A, 0x0A, 0x08, 0x0A, 0x01, b'a', 0x15],
            &1.0f32.to_le_bytes(),
        ]
        .concat();
        assert_eq!(e, want);
    }
}
