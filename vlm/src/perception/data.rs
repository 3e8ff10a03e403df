//! Rendered frames with ground-truth states for training and testing the readout: seeded
//! episodes of the real simulators, a few random actions in, drawn by the real renderer.

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

/// Renders `n` frames: episode `i` starts from seed `seed * 1_000_003 + i` (a fresh layout; for
/// Meta-World task `i % 10`) and takes 0..=`max_random_steps` random actions. The renderer's
/// output size must be square; its default camera is used.
pub fn render_labelled(
    kind: ReadoutKind,
    renderer: &mut Renderer,
    n: usize,
    seed: u64,
    max_random_steps: usize,
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
        let steps = rng.random_range(0..=max_random_steps);
        for _ in 0..steps {
            let a = env.random_action(&mut rng);
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
