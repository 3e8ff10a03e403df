//! How imagination turns the action head's output into actions: greedily (the paper) or by
//! seeded draws (generate and verify).

use tch::{Kind, Tensor};
use vlgor_sim::Action;

use super::config::ActionSpace;

/// How imagination picks each next action from the action head ([`decode_actions`]).
pub enum ActionChoice<'r> {
    /// argmax of the logits (discrete) or the predicted vector clamped to [-1, 1] (continuous):
    /// the paper's imagination.
    Greedy,
    /// A draw from softmax(logits / temperature) (discrete), or the predicted vector plus
    /// N(0, temperature²) noise per coordinate, clamped (continuous); `rng` makes it
    /// reproducible.
    Sampled {
        temperature: f64,
        rng: &'r mut dyn rand::RngCore,
    },
    /// One-step look-ahead: the model imagines every candidate the judge names and the one it
    /// scores highest is taken (see [`super::lookahead`]); the first action of a rollout, which
    /// has no imagined state to judge from yet, is chosen the same way.
    Lookahead(&'r mut dyn LookaheadJudge),
}

/// Names the candidate actions of each rollout and scores their imagined outcomes.
pub trait LookaheadJudge {
    /// Candidate actions of rollout `i`; `proposed` is the action head's greedy choice for it
    /// (a judge may search around it or ignore it).
    fn candidates(&mut self, i: usize, proposed: Action) -> Vec<Action>;
    /// Score of rollout `i` moving from perceived state `now` to imagined `next` (higher is
    /// better; ties go to the first candidate).
    fn score(&mut self, i: usize, now: &[f32], next: &[f32]) -> f32;
}

pub fn decode_actions(space: ActionSpace, out: &Tensor, choice: &mut ActionChoice) -> Vec<Action> {
    let rows = out.size().first().copied().unwrap_or(0).max(0) as usize;
    let flat = Vec::<f32>::try_from(
        out.to_kind(Kind::Float)
            .to_device(tch::Device::Cpu)
            .flatten(0, -1),
    )
    .unwrap_or_default();
    let width = flat.len().checked_div(rows).unwrap_or(0);
    let chunks = flat.chunks(width.max(1)).take(rows);
    match (space, choice) {
        (ActionSpace::Discrete { .. }, ActionChoice::Greedy | ActionChoice::Lookahead(_)) => {
            chunks.map(|l| Action::Discrete(argmax(l) as u32)).collect()
        }
        (ActionSpace::Discrete { .. }, ActionChoice::Sampled { temperature, rng }) => chunks
            .map(|l| Action::Discrete(sample_softmax(l, *temperature, &mut **rng) as u32))
            .collect(),
        (ActionSpace::Continuous { dim }, choice) => chunks
            .map(|c| {
                let mut a = [0f32; 4];
                for (k, slot) in a.iter_mut().enumerate().take(dim.min(4)) {
                    let noise = match choice {
                        ActionChoice::Greedy | ActionChoice::Lookahead(_) => 0.0,
                        ActionChoice::Sampled { temperature, rng } => {
                            (*temperature * standard_normal(&mut **rng)) as f32
                        }
                    };
                    *slot = (c[k] + noise).clamp(-1.0, 1.0);
                }
                Action::Continuous(a)
            })
            .collect(),
    }
}

fn argmax(l: &[f32]) -> usize {
    l.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv { (i, v) } else { (bi, bv) }
        })
        .0
}

/// Index drawn from softmax(logits / temperature); temperature <= 0 is the argmax.
fn sample_softmax(logits: &[f32], temperature: f64, rng: &mut dyn rand::RngCore) -> usize {
    if temperature <= 0.0 || logits.is_empty() {
        return argmax(logits);
    }
    let top = logits[argmax(logits)] as f64;
    let weights: Vec<f64> = logits
        .iter()
        .map(|&v| ((v as f64 - top) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut u = uniform(rng) * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    logits.len() - 1
}

/// Uniform in [0, 1) from 53 random bits.
fn uniform(rng: &mut dyn rand::RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard normal draw (Box–Muller).
pub fn standard_normal(rng: &mut dyn rand::RngCore) -> f64 {
    let u1 = uniform(rng).max(f64::MIN_POSITIVE);
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn draws_follow_the_softmax_and_repeat_for_a_seed() {
        let logits = [0.0f32, (2.0f32).ln(), 0.0, f32::NEG_INFINITY];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 40_000;
        let mut counts = [0usize; 4];
        for _ in 0..n {
            counts[sample_softmax(&logits, 1.0, &mut rng)] += 1;
        }
        // softmax = 1/4, 1/2, 1/4, 0
        assert_eq!(counts[3], 0);
        for (c, p) in counts.iter().zip([0.25, 0.5, 0.25]) {
            assert!((*c as f64 / n as f64 - p).abs() < 0.01, "{counts:?}");
        }
        let mut a = ChaCha8Rng::seed_from_u64(9);
        let mut b = ChaCha8Rng::seed_from_u64(9);
        let xs: Vec<usize> = (0..64)
            .map(|_| sample_softmax(&logits, 2.0, &mut a))
            .collect();
        let ys: Vec<usize> = (0..64)
            .map(|_| sample_softmax(&logits, 2.0, &mut b))
            .collect();
        assert_eq!(xs, ys);
    }

    #[test]
    fn zero_temperature_and_greedy_are_the_argmax() {
        let logits = Tensor::from_slice(&[0.1f32, 3.0, -1.0, 0.2, 0.0, 5.0]).view([2, 3]);
        let space = ActionSpace::Discrete { n: 3 };
        let greedy = decode_actions(space, &logits, &mut ActionChoice::Greedy);
        assert_eq!(greedy, vec![Action::Discrete(1), Action::Discrete(2)]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let cold = decode_actions(
            space,
            &logits,
            &mut ActionChoice::Sampled {
                temperature: 1e-6,
                rng: &mut rng,
            },
        );
        assert_eq!(cold, greedy);
    }

    #[test]
    fn continuous_draws_add_clamped_noise() {
        let out = Tensor::from_slice(&[0.5f32, -0.99]).view([1, 2]);
        let space = ActionSpace::Continuous { dim: 2 };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut spread = 0.0f32;
        for _ in 0..200 {
            let a = decode_actions(
                space,
                &out,
                &mut ActionChoice::Sampled {
                    temperature: 0.3,
                    rng: &mut rng,
                },
            );
            let Action::Continuous(v) = a[0] else {
                panic!("not continuous")
            };
            assert!(v[..2].iter().all(|x| (-1.0..=1.0).contains(x)));
            spread += (v[0] - 0.5).abs();
        }
        assert!(spread / 200.0 > 0.1, "no noise: {spread}");
    }
}
