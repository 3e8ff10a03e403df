//! Seeded batch samplers: transitions, length-h sub-trajectories, and real : imagined mixes.

use rand::Rng;

use super::Dataset;

/// Which dataset a sampled item comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Real,
    Imagined,
}

/// A window of `h` consecutive transitions of one episode, starting at step `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub episode: usize,
    pub start: usize,
}

/// `batch` transition indices drawn uniformly with replacement.
pub fn sample_transitions(data: &Dataset, batch: usize, rng: &mut impl Rng) -> Vec<usize> {
    let n = data.transitions();
    assert!(n > 0, "cannot sample from an empty dataset");
    (0..batch).map(|_| rng.random_range(0..n)).collect()
}

/// `batch` windows of `h` consecutive transitions (for world-model training), uniform over all
/// valid start positions of episodes at least `h` long. `None` when no episode is long enough.
pub fn sample_windows(
    data: &Dataset,
    batch: usize,
    h: usize,
    rng: &mut impl Rng,
) -> Option<Vec<Window>> {
    // Valid starts per episode: length - h + 1; draw proportionally.
    let counts: Vec<usize> = data
        .episodes
        .iter()
        .map(|e| (e.length + 1).saturating_sub(h))
        .collect();
    let total: usize = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let mut cumulative = Vec::with_capacity(counts.len());
    let mut acc = 0;
    for c in &counts {
        acc += c;
        cumulative.push(acc);
    }
    Some(
        (0..batch)
            .map(|_| {
                let k = rng.random_range(0..total);
                let episode = cumulative.partition_point(|&c| c <= k);
                let before = if episode == 0 {
                    0
                } else {
                    cumulative[episode - 1]
                };
                Window {
                    episode,
                    start: k - before,
                }
            })
            .collect(),
    )
}

/// Mixes real and imagined transitions at a fixed share per batch: every batch holds exactly
/// `round(ratio * batch)` imagined items, placed at random positions.
pub struct MixedSampler<'a> {
    pub real: &'a Dataset,
    pub imagined: &'a Dataset,
    /// Share of imagined items in each batch, in [0, 1].
    pub ratio: f32,
}

impl MixedSampler<'_> {
    pub fn sample(&self, batch: usize, rng: &mut impl Rng) -> Vec<(Source, usize)> {
        let n_imagined = ((self.ratio.clamp(0.0, 1.0) * batch as f32).round() as usize).min(batch);
        let mut items: Vec<(Source, usize)> =
            sample_transitions(self.real, batch - n_imagined, rng)
                .into_iter()
                .map(|i| (Source::Real, i))
                .collect();
        if n_imagined > 0 {
            items.extend(
                sample_transitions(self.imagined, n_imagined, rng)
                    .into_iter()
                    .map(|i| (Source::Imagined, i)),
            );
        }
        // Fisher–Yates so the two sources interleave.
        for i in (1..items.len()).rev() {
            let j = rng.random_range(0..=i);
            items.swap(i, j);
        }
        items
    }
}
