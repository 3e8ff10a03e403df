//! Rendered pixels: [`Frame`] (one RGB8 image) and [`FrameBatch`] (N images, contiguous
//! `[N, H, W, 3]`, row 0 = top of the image).

/// One RGB8 image, rows top to bottom, `pixels.len() == height * width * 3`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Frame {
    /// The RGB value at column `x`, row `y` (row 0 = top); `None` outside the image.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = ((y * self.width + x) * 3) as usize;
        Some([self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]])
    }

    /// A frame of one colour.
    pub fn filled(width: u32, height: u32, rgb: [u8; 3]) -> Frame {
        Frame {
            width,
            height,
            pixels: rgb.repeat((width * height) as usize),
        }
    }
}

/// N RGB8 frames of one size in one contiguous buffer, shape `[n, height, width, 3]`
/// (row-major, ready to become a `u8` tensor of that shape).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameBatch {
    pub n: usize,
    pub height: u32,
    pub width: u32,
    pub pixels: Vec<u8>,
}

impl FrameBatch {
    /// `[n, height, width, 3]`.
    pub fn shape(&self) -> [usize; 4] {
        [self.n, self.height as usize, self.width as usize, 3]
    }

    /// Bytes per frame (`height * width * 3`).
    pub fn frame_len(&self) -> usize {
        self.height as usize * self.width as usize * 3
    }

    /// The pixels of frame `i` without copying; `None` if `i >= n`.
    pub fn frame_pixels(&self, i: usize) -> Option<&[u8]> {
        (i < self.n).then(|| &self.pixels[i * self.frame_len()..(i + 1) * self.frame_len()])
    }

    /// A copy of frame `i`; `None` if `i >= n`.
    pub fn frame(&self, i: usize) -> Option<Frame> {
        self.frame_pixels(i).map(|p| Frame {
            width: self.width,
            height: self.height,
            pixels: p.to_vec(),
        })
    }

    /// All frames as separate [`Frame`]s.
    pub fn frames(&self) -> Vec<Frame> {
        (0..self.n).filter_map(|i| self.frame(i)).collect()
    }
}
