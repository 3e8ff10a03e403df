//! Writing frames to files: one PNG per frame, an animated GIF per rollout, and a
//! "real | imagined" strip (two frame sequences side by side with small labels, rasterised
//! from a TrueType font by `ab_glyph`).
//! GIF frame delays are in milliseconds (rounded to GIF's 10 ms unit); GIFs loop forever.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::RenderError;
use crate::frame::{Frame, FrameBatch};

fn out_err(path: &Path, e: impl std::fmt::Display) -> RenderError {
    RenderError::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn check_frame(f: &Frame) -> Result<(), RenderError> {
    if f.width == 0 || f.height == 0 || f.pixels.len() != (f.width * f.height * 3) as usize {
        return Err(RenderError::OutputArgs(format!(
            "frame of {}x{} has {} bytes; expected width * height * 3 = {} (and a non-empty size)",
            f.width,
            f.height,
            f.pixels.len(),
            f.width as usize * f.height as usize * 3
        )));
    }
    Ok(())
}

/// Writes `frame` as an 8-bit RGB PNG.
pub fn save_png(path: impl AsRef<Path>, frame: &Frame) -> Result<(), RenderError> {
    let path = path.as_ref();
    check_frame(frame)?;
    let file = File::create(path).map_err(|e| out_err(path, e))?;
    let mut enc = png::Encoder::new(BufWriter::new(file), frame.width, frame.height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(|e| out_err(path, e))?;
    w.write_image_data(&frame.pixels)
        .map_err(|e| out_err(path, e))?;
    w.finish().map_err(|e| out_err(path, e))
}

/// Writes every frame of `batch` as `dir/{prefix}_{i:04}.png`; returns the paths.
pub fn save_batch_pngs(
    dir: impl AsRef<Path>,
    prefix: &str,
    batch: &FrameBatch,
) -> Result<Vec<PathBuf>, RenderError> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).map_err(|e| out_err(dir, e))?;
    batch
        .frames()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let p = dir.join(format!("{prefix}_{i:04}.png"));
            save_png(&p, f).map(|_| p)
        })
        .collect()
}

/// Writes `frames` (all of one size) as a looping animated GIF, `frame_delay_ms` per frame.
pub fn save_gif(
    path: impl AsRef<Path>,
    frames: &[Frame],
    frame_delay_ms: u32,
) -> Result<(), RenderError> {
    let path = path.as_ref();
    let first = frames.first().ok_or_else(|| {
        RenderError::OutputArgs("save_gif needs at least one frame, got 0".into())
    })?;
    for f in frames {
        check_frame(f)?;
        if (f.width, f.height) != (first.width, first.height) {
            return Err(RenderError::OutputArgs(format!(
                "GIF frames must share one size: {}x{} vs {}x{}",
                f.width, f.height, first.width, first.height
            )));
        }
    }
    if first.width > u16::MAX as u32 || first.height > u16::MAX as u32 {
        return Err(RenderError::OutputArgs(format!(
            "GIF frames are at most 65535x65535, got {}x{}",
            first.width, first.height
        )));
    }
    let file = File::create(path).map_err(|e| out_err(path, e))?;
    let mut enc = gif::Encoder::new(
        BufWriter::new(file),
        first.width as u16,
        first.height as u16,
        &[],
    )
    .map_err(|e| out_err(path, e))?;
    enc.set_repeat(gif::Repeat::Infinite)
        .map_err(|e| out_err(path, e))?;
    let delay = (frame_delay_ms / 10).clamp(1, u16::MAX as u32) as u16;
    for f in frames {
        let mut g = gif::Frame::from_rgb_speed(f.width as u16, f.height as u16, &f.pixels, 10);
        g.delay = delay;
        enc.write_frame(&g).map_err(|e| out_err(path, e))?;
    }
    Ok(())
}

/// The label font: DejaVu Sans from the Debian package fonts-dejavu-core (installed by setup).
pub const LABEL_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// Height of the label strip above each panel (pixels).
pub const LABEL_HEIGHT: u32 = 10;
/// Gap between the two panels (pixels).
pub const PANEL_GAP: u32 = 2;
/// Label glyph height (ascent to descent, pixels).
const LABEL_PX: f32 = 9.0;
const LABEL_BG: [u8; 3] = [40, 40, 40];
const LABEL_FG: [u8; 3] = [255, 255, 255];

/// [`LABEL_FONT`], read once; the error names the file and the package that provides it.
fn label_font() -> Result<&'static FontVec, RenderError> {
    static FONT: OnceLock<Result<FontVec, String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let bytes = std::fs::read(LABEL_FONT).map_err(|e| {
            format!("{LABEL_FONT}: {e} (install the Debian package fonts-dejavu-core)")
        })?;
        FontVec::try_from_vec(bytes).map_err(|e| format!("{LABEL_FONT}: not a usable font: {e}"))
    })
    .as_ref()
    .map_err(|e| RenderError::Font(e.clone()))
}

/// Draws `text` antialiased into the label strip from `x0`, clipped at `x_end`.
fn draw_text(img: &mut Frame, font: &FontVec, x0: u32, x_end: u32, text: &str) {
    let scaled = font.as_scaled(PxScale::from(LABEL_PX));
    let baseline = 1.0 + scaled.ascent();
    let mut caret = x0 as f32;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        previous = Some(id);
        let glyph = id.with_scale_and_position(LABEL_PX, point(caret, baseline));
        caret += scaled.h_advance(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue; // whitespace
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let x = bounds.min.x as i64 + i64::from(gx);
            let y = bounds.min.y as i64 + i64::from(gy);
            if x < 0 || y < 0 || x >= i64::from(x_end) || y >= i64::from(LABEL_HEIGHT) {
                return;
            }
            let (x, y) = (x as u32, y as u32);
            if x < img.width && y < img.height {
                let i = ((y * img.width + x) * 3) as usize;
                for (k, v) in img.pixels[i..i + 3].iter_mut().enumerate() {
                    let (bg, fg) = (f32::from(*v), f32::from(LABEL_FG[k]));
                    *v = (bg + (fg - bg) * coverage.clamp(0.0, 1.0)).round() as u8;
                }
            }
        });
    }
}

/// One image with `real` on the left and `imagined` on the right (same size), a 2-pixel gap
/// and, if `labels`, a [`LABEL_HEIGHT`]-pixel strip on top reading "REAL" and "IMAGINED" in
/// [`LABEL_FONT`] (clipped to the panel width; an error if the font cannot be read).
pub fn side_by_side(real: &Frame, imagined: &Frame, labels: bool) -> Result<Frame, RenderError> {
    check_frame(real)?;
    check_frame(imagined)?;
    if (real.width, real.height) != (imagined.width, imagined.height) {
        return Err(RenderError::OutputArgs(format!(
            "real and imagined frames must share one size: {}x{} vs {}x{}",
            real.width, real.height, imagined.width, imagined.height
        )));
    }
    let (w, h) = (real.width, real.height);
    let font = if labels { Some(label_font()?) } else { None };
    let top = if labels { LABEL_HEIGHT } else { 0 };
    let mut img = Frame::filled(2 * w + PANEL_GAP, h + top, LABEL_BG);
    for (panel, f) in [real, imagined].into_iter().enumerate() {
        let x0 = panel as u32 * (w + PANEL_GAP);
        for y in 0..h {
            let src = &f.pixels[(y * w * 3) as usize..((y + 1) * w * 3) as usize];
            let d = (((y + top) * img.width + x0) * 3) as usize;
            img.pixels[d..d + src.len()].copy_from_slice(src);
        }
        if let Some(font) = font {
            draw_text(&mut img, font, x0 + 1, x0 + w, ["REAL", "IMAGINED"][panel]);
        }
    }
    Ok(img)
}

/// Writes the "real | imagined" strip of two frame sequences. A `.png` path needs exactly one
/// frame per side; any other path gets a looping GIF. Sequences of different lengths are
/// padded by repeating the shorter one's last frame.
pub fn save_side_by_side(
    path: impl AsRef<Path>,
    real: &[Frame],
    imagined: &[Frame],
    frame_delay_ms: u32,
) -> Result<(), RenderError> {
    let path = path.as_ref();
    if real.is_empty() || imagined.is_empty() {
        return Err(RenderError::OutputArgs(format!(
            "side-by-side needs frames on both sides, got {} real and {} imagined",
            real.len(),
            imagined.len()
        )));
    }
    let n = real.len().max(imagined.len());
    let at = |s: &[Frame], i: usize| s[i.min(s.len() - 1)].clone();
    let strip: Vec<Frame> = (0..n)
        .map(|i| side_by_side(&at(real, i), &at(imagined, i), true))
        .collect::<Result<_, _>>()?;
    let is_png = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if is_png {
        if n != 1 {
            return Err(RenderError::OutputArgs(format!(
                "{} is a PNG path but the sequences have {n} frames; use a .gif path",
                path.display()
            )));
        }
        return save_png(path, &strip[0]);
    }
    save_gif(path, &strip, frame_delay_ms)
}
