//! Rendered frames with ground-truth states for training and testing the readout: seeded
//! episodes of the real simulators, a few random actions in (and optionally partway through a
//! noisy scripted-expert run), drawn by the real renderer.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vlgor_render::Renderer;
use vlgor_sim::spec::Simulators;
use vlgor_sim::{Env, EnvSpec, Level};

use super::readout::ReadoutKind;
use crate::world_model::WorldModelError;

/// Frames u8 [N, H, W, 3] and their true states (metres, [`ReadoutKind::dim`] values each).
#[derive(Clone, Debug, Default)]
pub struct LabelledFrames {
    pub size: i64,
    pub pixels: Vec<u8>,
    pub states: Vec<Vec<f32>>,
}

impl LabelledFrames {
    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Frame `i`'s bytes.
    pub fn frame(&self, i: usize) -> &[u8] {
        let fl = (self.size * self.size * 3) as usize;
        &self.pixels[i * fl..(i + 1) * fl]
    }
}

/// The state a readout of `kind` should produce for `env` now.
pub fn true_state(kind: ReadoutKind, env: &dyn Env) -> Vec<f32> {
    let obs = env.observation();
    match kind {
        ReadoutKind::Clevr => obs[..10].to_vec(),
        ReadoutKind::MetaWorld => obs[..7].to_vec(),
    }
}

/// Share of random actions in the expert runs of [`LabelledStates::expert_steps`].
pub const LABELLED_EXPERT_NOISE: f32 = 0.2;

/// Which simulator states the labelled frames show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelledStates {
    /// Random actions after the reset: 0..=this many.
    pub random_steps: usize,
    /// When nonzero, half of the frames (a fair coin per frame) are taken instead after
    /// 0..=this many steps of the scripted expert with [`LABELLED_EXPERT_NOISE`] random actions
    /// (stopping at success): mid-episode states, the arm far from its start and the object
    /// pushed, grasped or placed, as real and imagined rollouts show them. 0 draws no coin, so
    /// the frames are those of `random_steps` alone.
    pub expert_steps: usize,
}

impl LabelledStates {
    /// Frames after up to `steps` random actions from a reset.
    pub fn near_reset(steps: usize) -> LabelledStates {
        LabelledStates {
            random_steps: steps,
            expert_steps: 0,
        }
    }
}

/// Renders `n` frames: episode `i` starts from seed `seed * 1_000_003 + i` (a fresh layout; for
/// Meta-World task `i % 10`) and is taken to one of the states `states` describes. The
/// renderer's output size must be square; its default camera is used.
pub fn render_labelled(
    kind: ReadoutKind,
    renderer: &mut Renderer,
    n: usize,
    seed: u64,
    states_of: LabelledStates,
) -> Result<LabelledFrames, WorldModelError> {
    let rc = renderer.config();
    if rc.width != rc.height {
        return Err(WorldModelError::BadInput(format!(
            "renderer is {}x{}; need square frames",
            rc.width, rc.height
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut scenes = Vec::with_capacity(n);
    let mut states = Vec::with_capacity(n);
    let mut sims = Simulators::new();
    for i in 0..n {
        let ep_seed = seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
        let spec = EnvSpec::cycle(kind.env(), i);
        let ins = spec.sample_instruction(Level::Seen, &mut rng);
        let env = sims.get(spec);
        env.reset(ep_seed, &ins)?;
        let expert = states_of.expert_steps > 0 && rng.random_bool(0.5);
        let steps = if expert {
            rng.random_range(0..=states_of.expert_steps)
        } else {
            rng.random_range(0..=states_of.random_steps)
        };
        for _ in 0..steps {
            let a = if expert {
                env.expert_action(LABELLED_EXPERT_NOISE, &mut rng)
            } else {
                env.random_action(&mut rng)
            };
            let out = env.step(&a)?;
            if out.terminal || out.timeout {
                break;
            }
        }
        scenes.push(env.scene(env.cameras()[0])?);
        states.push(true_state(kind, env));
    }
    let mut pixels = Vec::with_capacity(n * (rc.width * rc.height * 3) as usize);
    for chunk in scenes.chunks(64) {
        pixels.extend_from_slice(&renderer.render_batch(chunk)?.pixels);
    }
    Ok(LabelledFrames {
        size: rc.width as i64,
        pixels,
        states,
    })
}
