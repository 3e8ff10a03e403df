//! PSNR / SSIM / MED against closed forms and a direct (non-separable) SSIM reference.

use vlgor_vlm::metrics::{PSNR_CAP_DB, med, psnr, ssim, to_unit};

fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 33) as f64 / (1u64 << 31) as f64) as f32
}

#[test]
fn identical_images_give_ssim_one_and_capped_psnr() {
    let mut s = 1;
    let a: Vec<f32> = (0..16 * 16 * 3).map(|_| lcg(&mut s)).collect();
    assert_eq!(psnr(&a, &a, 1.0), Some(PSNR_CAP_DB));
    let v = ssim(&a, &a, 16, 16, 3, 1.0).unwrap();
    assert!((v - 1.0).abs() < 1e-12, "{v}");
}

#[test]
fn constant_offset_gives_closed_form_psnr() {
    let a = vec![0.25f32; 12 * 12 * 3];
    let b: Vec<f32> = a.iter().map(|x| x + 0.1).collect();
    // MSE = 0.01 -> PSNR = 10 log10(1 / 0.01) = 20 dB.
    let p = psnr(&a, &b, 1.0).unwrap();
    assert!((p - 20.0).abs() < 1e-4, "{p}");
    // u8 scale: offset 5 levels -> 10 log10(255^2 / 25).
    let u: Vec<u8> = vec![100; 48];
    let v: Vec<u8> = vec![105; 48];
    let p = psnr(&to_unit(&u), &to_unit(&v), 1.0).unwrap();
    let want = 10.0 * (255f64 * 255.0 / 25.0).log10();
    assert!((p - want).abs() < 1e-3, "{p} vs {want}");
    assert_eq!(psnr(&a, &b[1..], 1.0), None);
}

#[test]
fn constant_images_have_closed_form_ssim() {
    // Flat images: variances 0, so SSIM = (2 mx my + C1) / (mx^2 + my^2 + C1).
    let (x, y) = (0.2f64, 0.6f64);
    let a = vec![x as f32; 11 * 13];
    let b = vec![y as f32; 11 * 13];
    let c1 = (0.01f64).powi(2);
    let want = (2.0 * x * y + c1) / (x * x + y * y + c1);
    let got = ssim(&a, &b, 11, 13, 1, 1.0).unwrap();
    assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    assert_eq!(ssim(&a, &b, 10, 13, 1, 1.0), None);
}

/// Straightforward SSIM: for each valid window position, weighted means/variances with the
/// full 2-D Gaussian (no separability), per channel, averaged.
fn reference_ssim(a: &[f32], b: &[f32], h: usize, w: usize, c: usize) -> f64 {
    let mut g2 = [[0f64; 11]; 11];
    let mut sum = 0.0;
    for (i, row) in g2.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let (di, dj) = (i as f64 - 5.0, j as f64 - 5.0);
            *v = (-(di * di + dj * dj) / (2.0 * 1.5 * 1.5)).exp();
            sum += *v;
        }
    }
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let mut total = 0.0;
    for ch in 0..c {
        let px = |img: &[f32], y: usize, x: usize| f64::from(img[(y * w + x) * c + ch]);
        let mut acc = 0.0;
        let mut count = 0;
        for y0 in 0..=h - 11 {
            for x0 in 0..=w - 11 {
                let (mut mx, mut my, mut xx, mut yy, mut xy) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for (i, row) in g2.iter().enumerate() {
                    for (j, gij) in row.iter().enumerate() {
                        let g = gij / sum;
                        let (p, q) = (px(a, y0 + i, x0 + j), px(b, y0 + i, x0 + j));
                        mx += g * p;
                        my += g * q;
                        xx += g * p * p;
                        yy += g * q * q;
                        xy += g * p * q;
                    }
                }
                let (vx, vy, cxy) = (xx - mx * mx, yy - my * my, xy - mx * my);
                acc += ((2.0 * mx * my + c1) * (2.0 * cxy + c2))
                    / ((mx * mx + my * my + c1) * (vx + vy + c2));
                count += 1;
            }
        }
        total += acc / count as f64;
    }
    total / c as f64
}

#[test]
fn ssim_matches_a_direct_reference_on_random_images() {
    let mut s = 42;
    let (h, w, c) = (15, 17, 3);
    let a: Vec<f32> = (0..h * w * c).map(|_| lcg(&mut s)).collect();
    let b: Vec<f32> = a
        .iter()
        .map(|x| (x + 0.3 * (lcg(&mut s) - 0.5)).clamp(0.0, 1.0))
        .collect();
    let got = ssim(&a, &b, h, w, c, 1.0).unwrap();
    let want = reference_ssim(&a, &b, h, w, c);
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    assert!(got < 0.99 && got > 0.0, "{got}");
}

#[test]
fn med_normalises_by_the_workspace() {
    let bounds = [(-0.6, 0.6), (-0.3, 0.7)];
    // dx = 0.12 m of a 1.2 m range = 0.1, dy = 0 -> 0.1.
    let v = med(&[0.12, 0.1], &[0.0, 0.1], &bounds).unwrap();
    assert!((v - 0.1).abs() < 1e-6, "{v}");
    let v = med(&[0.12, 0.2], &[0.0, 0.1], &bounds).unwrap();
    assert!((v - (0.01f64 + 0.01).sqrt()).abs() < 1e-6, "{v}");
    assert_eq!(med(&[0.0], &[0.0, 0.0], &bounds), None);
    assert_eq!(med(&[0.0], &[0.0], &[(1.0, 1.0)]), None);
}
