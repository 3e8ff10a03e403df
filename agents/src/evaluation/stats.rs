//! Statistics of evaluation tables: mean ± std over seeds and paired 95% intervals over
//! identical episodes.

use serde::{Deserialize, Serialize};

pub use crate::report::mean_std;

/// The mean of `a − b` over paired episodes with its 95% interval (normal approximation:
/// mean ± 1.96 · sd / √n, sd the sample standard deviation of the differences).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedDiff {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    /// Paired episodes.
    pub n: usize,
}

impl PairedDiff {
    /// `+12.3 [+8.1, +16.5]` in percentage points.
    pub fn points(&self) -> String {
        format!(
            "{:+.1} [{:+.1}, {:+.1}]",
            100.0 * self.mean,
            100.0 * self.lo,
            100.0 * self.hi
        )
    }
}

/// Paired difference of per-episode scores `a[i] − b[i]`; `None` when the lengths differ or
/// nothing is paired.
pub fn paired(a: &[f64], b: &[f64]) -> Option<PairedDiff> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let n = a.len();
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    let half = 1.96 * (var / n as f64).sqrt();
    Some(PairedDiff {
        mean,
        lo: mean - half,
        hi: mean + half,
        n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_interval_matches_hand_computation() {
        // Differences 1, 0, 1, 0: mean 0.5, sample sd 0.57735, half-width 1.96 * 0.288675.
        let d = paired(&[1.0, 1.0, 1.0, 0.0], &[0.0, 1.0, 0.0, 0.0]).unwrap();
        assert!((d.mean - 0.5).abs() < 1e-12);
        assert!((d.hi - d.mean - 1.96 * 0.288_675_134_6).abs() < 1e-9);
        assert_eq!(d.n, 4);
        assert!(paired(&[1.0], &[1.0, 0.0]).is_none());
        // Identical policies: zero difference, zero width.
        let z = paired(&[1.0, 0.0], &[1.0, 0.0]).unwrap();
        assert_eq!((z.mean, z.lo, z.hi), (0.0, 0.0, 0.0));
    }
}
