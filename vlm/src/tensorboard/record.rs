//! TFRecord framing with masked CRC-32C (Castagnoli), as TensorFlow's record writer does.

/// CRC-32C (Castagnoli polynomial, reflected 0x82F63B78) of `bytes`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    let mut crc = !0u32;
    for &b in bytes {
        crc = table[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// TFRecord's masked CRC: rotate right by 15 and add a constant.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let c = crc32c(bytes);
    (c.rotate_right(15)).wrapping_add(0xA282_EAD8)
}

/// Appends one framed record holding `payload` to `out`.
pub fn push_record(out: &mut Vec<u8>, payload: &[u8]) {
    let len = (payload.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&masked_crc(payload).to_le_bytes());
}

/// Splits `bytes` into record payloads, checking both CRCs of every record.
pub fn read_records(bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let head = bytes
            .get(at..at + 12)
            .ok_or_else(|| format!("truncated record header at byte {at}"))?;
        let (len_bytes, len_crc) = head.split_at(8);
        if masked_crc(len_bytes).to_le_bytes() != len_crc {
            return Err(format!("length CRC mismatch at byte {at}"));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes")) as usize;
        let body = at + 12;
        let payload = bytes
            .get(body..body.saturating_add(len))
            .ok_or_else(|| format!("truncated record payload at byte {body}"))?;
        let crc = bytes
            .get(body + len..body + len + 4)
            .ok_or_else(|| format!("missing payload CRC at byte {}", body + len))?;
        if masked_crc(payload).to_le_bytes() != crc {
            return Err(format!("payload CRC mismatch in the record at byte {at}"));
        }
        out.push(payload);
        at = body + len + 4;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_values() {
        // RFC 3720 B.4 / the usual "123456789" check value.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
    }

    #[test]
    fn records_round_trip_and_corruption_is_caught() {
        let mut buf = Vec::new();
        push_record(&mut buf, b"hello");
        push_record(&mut buf, b"");
        push_record(&mut buf, &[7u8; 300]);
        let recs = read_records(&buf).unwrap();
        assert_eq!(recs, vec![&b"hello"[..], &b""[..], &[7u8; 300][..]]);
        let mut bad = buf.clone();
        bad[13] ^= 1;
        assert!(read_records(&bad).unwrap_err().contains("CRC"));
        assert!(read_records(&buf[..buf.len() - 2]).is_err());
    }
}
