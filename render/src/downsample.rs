//! Box-filter downsampling of the supersampled RGBA8 layers into RGB8 frames, on the CPU at
//! read-back. Each output pixel is the rounded mean of its k x k block:
//! `(sum + k*k/2) / (k*k)` per channel, integer arithmetic, so results are exact and
//! deterministic. Frames are split over up to 4 threads.

/// Where the supersampled pixels of one frame lie in the read-back buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SourceLayout {
    /// Output size (pixels).
    pub width: usize,
    pub height: usize,
    /// Supersampling factor.
    pub k: usize,
    /// Bytes between rows of the supersampled image (>= width * k * 4, padded for copies).
    pub row_pitch: usize,
    /// Bytes between frames (= row_pitch * height * k).
    pub frame_pitch: usize,
}

impl SourceLayout {
    fn out_len(&self) -> usize {
        self.width * self.height * 3
    }
}

/// k = 2 fast path: each output pixel reads one 8-byte pair of texels from each of two rows
/// and sums channels in 16-bit lanes of a u64 (no lane can overflow: 4 x 255 < 65536).
fn filter_2(src: &[u8], l: &SourceLayout, out: &mut [u8]) {
    const M: u64 = 0x00FF_00FF_00FF_00FF;
    let w = l.width;
    for (y, out_row) in out.chunks_exact_mut(w * 3).enumerate() {
        let r0 = &src[2 * y * l.row_pitch..][..w * 8];
        let r1 = &src[(2 * y + 1) * l.row_pitch..][..w * 8];
        for ((o, a), b) in out_row
            .chunks_exact_mut(3)
            .zip(r0.chunks_exact(8))
            .zip(r1.chunks_exact(8))
        {
            let a = u64::from_le_bytes(a.try_into().unwrap_or([0; 8]));
            let b = u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
            // Lanes (low to high): R0, B0, R1, B1 and G0, A0, G1, A1, each summed over rows.
            let even = (a & M) + (b & M);
            let odd = ((a >> 8) & M) + ((b >> 8) & M);
            let rb = (even & 0xFFFF_FFFF) + (even >> 32);
            let ga = (odd & 0xFFFF_FFFF) + (odd >> 32);
            o[0] = (((rb & 0xFFFF) + 2) >> 2) as u8;
            o[1] = (((ga & 0xFFFF) + 2) >> 2) as u8;
            o[2] = ((((rb >> 16) & 0xFFFF) + 2) >> 2) as u8;
        }
    }
}

fn filter_k(src: &[u8], l: &SourceLayout, out: &mut [u8]) {
    let (w, k) = (l.width, l.k);
    let kk = (k * k) as u32;
    let mut acc = vec![0u32; w * 3];
    for (y, out_row) in out.chunks_exact_mut(w * 3).enumerate() {
        acc.fill(0);
        for dy in 0..k {
            let row = &src[(y * k + dy) * l.row_pitch..][..w * k * 4];
            for (x, a) in acc.chunks_exact_mut(3).enumerate() {
                for texel in row[x * k * 4..(x + 1) * k * 4].chunks_exact(4) {
                    a[0] += texel[0] as u32;
                    a[1] += texel[1] as u32;
                    a[2] += texel[2] as u32;
                }
            }
        }
        for (o, a) in out_row.iter_mut().zip(&acc) {
            *o = ((a + kk / 2) / kk) as u8;
        }
    }
}

fn filter_frames(src: &[u8], l: &SourceLayout, out: &mut [u8]) {
    for (i, o) in out.chunks_exact_mut(l.out_len()).enumerate() {
        let s = &src[i * l.frame_pitch..];
        match l.k {
            2 => filter_2(s, l, o),
            _ => filter_k(s, l, o),
        }
    }
}

/// Downsamples `out.len() / (width * height * 3)` consecutive frames of `src` into `out`.
pub(crate) fn box_filter(src: &[u8], l: &SourceLayout, out: &mut [u8]) {
    let frames = out.len() / l.out_len();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
        .min(frames);
    if threads <= 1 {
        filter_frames(src, l, out);
        return;
    }
    let per = frames.div_ceil(threads);
    std::thread::scope(|s| {
        for (t, o) in out.chunks_mut(per * l.out_len()).enumerate() {
            let src = &src[t * per * l.frame_pitch..];
            s.spawn(move || filter_frames(src, l, o));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The k = 2 fast path and the general path agree, and both round to nearest.
    #[test]
    fn fast_and_general_paths_agree() {
        let (w, h) = (5, 3);
        let row_pitch = w * 2 * 4 + 12;
        let l = SourceLayout {
            width: w,
            height: h,
            k: 2,
            row_pitch,
            frame_pitch: row_pitch * h * 2,
        };
        let src: Vec<u8> = (0..l.frame_pitch * 3)
            .map(|i| (i * 37 % 251) as u8)
            .collect();
        let mut fast = vec![0; w * h * 3 * 3];
        let mut general = fast.clone();
        box_filter(&src, &l, &mut fast);
        for (i, o) in general.chunks_exact_mut(l.out_len()).enumerate() {
            filter_k(&src[i * l.frame_pitch..], &l, o);
        }
        assert_eq!(fast, general);
        let p = |x: usize, y: usize, c: usize| src[y * row_pitch + x * 4 + c] as u32;
        let want = (p(2, 0, 1) + p(3, 0, 1) + p(2, 1, 1) + p(3, 1, 1) + 2) / 4;
        assert_eq!(fast[3 + 1] as u32, want);
    }
}
