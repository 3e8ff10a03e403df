//! The per-object part of the frame check: at each object's projected centre, a small patch of
//! the frame against the same patch of its state's render. A frame whose objects carry the
//! wrong colours (e.g. two balls' colours swapped) fails here even when the whole frame's PSNR
//! passes, since the objects cover few of its pixels.

use vlgor_sim::Camera;
use vlgor_sim::validate::replay::Snapshot;
use vlgor_sim::validate::{Reason, ValidatorConfig, Violation};

/// The world points whose colour is compared: CLEVR ball centres, the Meta-World object's
/// observed point.
pub fn object_points(snap: &Snapshot) -> Vec<(String, [f32; 3])> {
    match snap {
        Snapshot::Clevr { balls } => balls
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("ball {i}"), *b))
            .collect(),
        Snapshot::MetaWorld { key, .. } => vec![("the object".to_string(), *key)],
    }
}

/// Half width (px) of the compared patch in a `size`-pixel frame: 1 px at 64 px.
fn patch_radius(size: usize) -> i64 {
    (size / 64).max(1) as i64
}

/// PSNR (dB, peak 1) between `a` and `b` (unit RGB, `size`² pixels) over the patch at pixel
/// (x, y); `None` when the patch lies outside the frame.
pub fn patch_psnr(a: &[f32], b: &[f32], size: usize, x: f32, y: f32) -> Option<f32> {
    let (cx, cy) = (x.floor() as i64, y.floor() as i64);
    let r = patch_radius(size);
    let (mut se, mut n) = (0f64, 0usize);
    for py in cy - r..=cy + r {
        for px in cx - r..=cx + r {
            if px < 0 || py < 0 || px >= size as i64 || py >= size as i64 {
                continue;
            }
            let o = 3 * (py as usize * size + px as usize);
            for c in 0..3 {
                se += ((a[o + c] - b[o + c]) as f64).powi(2);
            }
            n += 3;
        }
    }
    if n == 0 {
        return None;
    }
    let mse = se / n as f64;
    Some(if mse <= 1e-12 {
        f32::INFINITY
    } else {
        (-10.0 * mse.log10()) as f32
    })
}

/// The worst object of frame `j` whose patch PSNR is under `cfg.min_object_psnr_db`, as a
/// [`Reason::FrameConsistency`] violation (magnitude: dB under the threshold).
pub fn object_color_violation(
    j: usize,
    frame: &[f32],
    render: &[f32],
    size: usize,
    camera: &Camera,
    points: &[(String, [f32; 3])],
    cfg: &ValidatorConfig,
) -> Option<Violation> {
    let worst = points
        .iter()
        .filter_map(|(name, p)| {
            let (x, y) = vlgor_render::project(camera, *p, size as u32, size as u32)?;
            Some((name, patch_psnr(frame, render, size, x, y)?))
        })
        .filter(|(_, psnr)| *psnr < cfg.min_object_psnr_db)
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let (name, psnr) = worst;
    Some(Violation::new(
        j,
        Reason::FrameConsistency,
        cfg.min_object_psnr_db - psnr,
        format!(
            "frame {j}: {name} does not look like its state's render where it stands (patch PSNR {psnr:.1} dB < {:.1} dB; wrong colour?)",
            cfg.min_object_psnr_db
        ),
    ))
}
