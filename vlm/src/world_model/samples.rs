//! Fine-tuning samples rendered from simulator rollouts (in memory), for tests, benchmarks and
//! small CLI runs; the CLI may instead implement [`super::SampleProvider`] over a dataset.
//!
//! From an episode s_0..s_T with actions a_0..a_{T-1} and keyframe stride h:
//! * the first step (s_0, G, no action) -> a_0 (action only), and
//! * for every t with t + h <= T: (s_t, G, ā_t) -> (s_{t+h}, ā_{t+h}), where the final
//!   transition (t + 2h > T, e.g. an episode's goal-completing push) has no next action: a
//!   frame-only sample whose action loss is masked,
//!
//! where ā_t is the keyframe action: a_t for CLEVR (h = 1), the mean of a_t..a_{t+h-1} for
//! Meta-World (an imagined action is held for h steps, so the mean is what holding it replays).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vlgor_render::Renderer;
use vlgor_sim::{Action, Env, EnvKind, EnvSpec, Level};

use super::error::WorldModelError;
use super::objects::{object_count, read_objects};
use super::train::SampleBatch;

/// How rollouts are driven.
#[derive(Clone, Copy, Debug)]
pub struct RolloutPlan {
    pub env: EnvKind,
    pub episodes: usize,
    /// Environment steps per episode (capped by the env's horizon).
    pub steps: usize,
    /// Keyframe stride h.
    pub horizon_steps: usize,
    /// Probability of a random instead of the expert action at each step (1 = random rollout).
    pub noise: f32,
    pub seed: u64,
}

/// The keyframe action over `window` (CLEVR: the first; Meta-World: the mean).
pub fn keyframe_action(window: &[Action]) -> Action {
    match window.first() {
        Some(Action::Continuous(_)) => {
            let mut m = [0f32; 4];
            for a in window {
                if let Action::Continuous(v) = a {
                    for k in 0..4 {
                        m[k] += v[k] / window.len() as f32;
                    }
                }
            }
            Action::Continuous(m)
        }
        Some(a) => *a,
        None => Action::Discrete(0),
    }
}

/// Runs `plan.episodes` seeded rollouts (instructions of level Seen; Meta-World cycles the ten
/// tasks), renders every state with the renderer's default-camera view and returns the samples.
pub fn render_rollout_samples(
    renderer: &mut Renderer,
    plan: &RolloutPlan,
) -> Result<SampleBatch, WorldModelError> {
    let h = plan.horizon_steps;
    if h == 0 || plan.steps < h {
        return Err(WorldModelError::BadInput(format!(
            "steps {} must be >= horizon_steps {h} (and h >= 1)",
            plan.steps
        )));
    }
    let tracked = object_count(plan.env) > 0;
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let mut out = SampleBatch::default();
    for ep in 0..plan.episodes {
        let spec = EnvSpec::cycle(plan.env, ep);
        let ins = spec.sample_instruction(Level::Seen, &mut rng);
        let mut env = spec.make();
        env.reset(plan.seed.wrapping_mul(7919).wrapping_add(ep as u64), &ins)?;
        let text = env.instruction().text.clone();
        let mut scenes = vec![env.scene(env.cameras()[0])?];
        let mut objects = Vec::new();
        let mut track = |env: &dyn Env| -> Result<(), WorldModelError> {
            if tracked {
                objects.push(read_objects(plan.env, &env.state(), &env.observation())?);
            }
            Ok(())
        };
        track(&*env)?;
        let mut actions = Vec::new();
        for _ in 0..plan.steps.min(env.horizon()) {
            let a = if rng.random::<f32>() < plan.noise {
                env.random_action(&mut rng)
            } else {
                env.expert_action(0.0, &mut rng)
            };
            let o = env.step(&a)?;
            actions.push(a);
            scenes.push(env.scene(env.cameras()[0])?);
            track(&*env)?;
            if o.terminal || o.timeout {
                break;
            }
        }
        let frames = renderer.render_batch(&scenes)?;
        let fl = frames.frame_len();
        let frame = |i: usize| &frames.pixels[i * fl..(i + 1) * fl];
        out.frames.extend_from_slice(frame(0));
        out.target_frames.extend_from_slice(frame(0));
        out.instructions.push(text.clone());
        out.actions.push(None);
        out.has_target_frame.push(false);
        out.target_actions
            .push(Some(keyframe_action(&actions[..h.min(actions.len())])));
        push_objects(&mut out, &objects, 0, 0);
        let t_len = actions.len();
        let mut t = 0;
        while t + h <= t_len {
            out.frames.extend_from_slice(frame(t));
            out.target_frames.extend_from_slice(frame(t + h));
            out.instructions.push(text.clone());
            out.actions.push(Some(keyframe_action(&actions[t..t + h])));
            out.has_target_frame.push(true);
            out.target_actions
                .push((t + 2 * h <= t_len).then(|| keyframe_action(&actions[t + h..t + 2 * h])));
            push_objects(&mut out, &objects, t, t + h);
            t += 1;
        }
    }
    Ok(out)
}

/// Appends the tracked objects of states `from` and `to` (nothing when none are tracked).
fn push_objects(out: &mut SampleBatch, objects: &[Vec<f32>], from: usize, to: usize) {
    if let (Some(a), Some(b)) = (objects.get(from), objects.get(to)) {
        out.objects.extend_from_slice(a);
        out.target_objects.extend_from_slice(b);
    }
}
