//! Rollout quality metrics (Table 1 of the paper): PSNR, SSIM and MED.
//!
//! Images are `[H, W, C]` row-major, values in [0, `max_value`] (u8 frames: convert with
//! [`to_unit`] and use `max_value` 1). SSIM follows Wang et al. (2004) as torchmetrics does:
//! 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, computed per channel over the
//! "valid" region (window fully inside the image), the SSIM map averaged, then the channels
//! averaged.

/// PSNR is capped here (dB) for identical images, where MSE = 0 would give infinity.
pub const PSNR_CAP_DB: f64 = 100.0;
/// SSIM window size and Gaussian sigma.
pub const SSIM_WINDOW: usize = 11;
pub const SSIM_SIGMA: f64 = 1.5;
pub const SSIM_K1: f64 = 0.01;
pub const SSIM_K2: f64 = 0.03;

/// u8 pixels to [0, 1] floats.
pub fn to_unit(pixels: &[u8]) -> Vec<f32> {
    pixels.iter().map(|&p| f32::from(p) / 255.0).collect()
}

/// Mean squared error; `None` when the lengths differ or are zero.
pub fn mse(a: &[f32], b: &[f32]) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    Some(
        a.iter()
            .zip(b)
            .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
            .sum::<f64>()
            / a.len() as f64,
    )
}

/// PSNR = 10 log10(MAX^2 / MSE) in dB, capped at [`PSNR_CAP_DB`]; `None` on mismatched lengths.
pub fn psnr(a: &[f32], b: &[f32], max_value: f64) -> Option<f64> {
    let m = mse(a, b)?;
    if m == 0.0 {
        return Some(PSNR_CAP_DB);
    }
    Some((10.0 * (max_value * max_value / m).log10()).min(PSNR_CAP_DB))
}

/// The normalised 1-D Gaussian window.
fn gaussian_window() -> [f64; SSIM_WINDOW] {
    let mut w = [0f64; SSIM_WINDOW];
    let c = (SSIM_WINDOW / 2) as f64;
    for (i, v) in w.iter_mut().enumerate() {
        *v = (-((i as f64 - c).powi(2)) / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
    }
    let s: f64 = w.iter().sum();
    w.map(|v| v / s)
}

/// Separable "valid" Gaussian filter of a `h x w` plane.
fn filter(plane: &[f64], h: usize, w: usize, g: &[f64; SSIM_WINDOW]) -> Vec<f64> {
    let (oh, ow) = (h + 1 - SSIM_WINDOW, w + 1 - SSIM_WINDOW);
    let mut rows = vec![0f64; h * ow];
    for y in 0..h {
        for x in 0..ow {
            rows[y * ow + x] = (0..SSIM_WINDOW).map(|k| g[k] * plane[y * w + x + k]).sum();
        }
    }
    let mut out = vec![0f64; oh * ow];
    for y in 0..oh {
        for x in 0..ow {
            out[y * ow + x] = (0..SSIM_WINDOW)
                .map(|k| g[k] * rows[(y + k) * ow + x])
                .sum();
        }
    }
    out
}

/// Mean SSIM of two `[h, w, channels]` images (see the module docs). `None` when the sizes do not
/// match `h * w * channels` or the image is smaller than the 11x11 window.
pub fn ssim(
    a: &[f32],
    b: &[f32],
    h: usize,
    w: usize,
    channels: usize,
    max_value: f64,
) -> Option<f64> {
    if a.len() != h * w * channels
        || b.len() != a.len()
        || h < SSIM_WINDOW
        || w < SSIM_WINDOW
        || channels == 0
    {
        return None;
    }
    let g = gaussian_window();
    let c1 = (SSIM_K1 * max_value).powi(2);
    let c2 = (SSIM_K2 * max_value).powi(2);
    let mut total = 0f64;
    for ch in 0..channels {
        let x: Vec<f64> = (0..h * w)
            .map(|i| f64::from(a[i * channels + ch]))
            .collect();
        let y: Vec<f64> = (0..h * w)
            .map(|i| f64::from(b[i * channels + ch]))
            .collect();
        let prod = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(u, v)| u * v).collect::<Vec<f64>>();
        let mx = filter(&x, h, w, &g);
        let my = filter(&y, h, w, &g);
        let sxx = filter(&prod(&x, &x), h, w, &g);
        let syy = filter(&prod(&y, &y), h, w, &g);
        let sxy = filter(&prod(&x, &y), h, w, &g);
        let mut sum = 0f64;
        for i in 0..mx.len() {
            let (ux, uy) = (mx[i], my[i]);
            let vx = sxx[i] - ux * ux;
            let vy = syy[i] - uy * uy;
            let cxy = sxy[i] - ux * uy;
            sum += ((2.0 * ux * uy + c1) * (2.0 * cxy + c2))
                / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
        }
        total += sum / mx.len() as f64;
    }
    Some(total / channels as f64)
}

/// MED: Euclidean distance between the main object's predicted and true positions after mapping
/// each coordinate to [0, 1] by the workspace `bounds` (low, high) per axis. `None` on mismatched
/// dimensions or an empty axis range.
pub fn med(pred: &[f32], truth: &[f32], bounds: &[(f32, f32)]) -> Option<f64> {
    if pred.len() != truth.len() || pred.len() != bounds.len() || bounds.iter().any(|(l, h)| h <= l)
    {
        return None;
    }
    let d2: f64 = pred
        .iter()
        .zip(truth)
        .zip(bounds)
        .map(|((p, t), (l, h))| (f64::from(p - t) / f64::from(h - l)).powi(2))
        .sum();
    Some(d2.sqrt())
}
