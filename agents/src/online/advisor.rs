//! The action advisor of VARL: on an advised step every simulator's current view is rendered
//! with the project's renderer at the world model's frame size, and the world model's forward
//! with no action (imagination's step 0: `(s_0, G, no action) → a_0`) gives the suggested
//! action for all of them in one batched request. The scripted expert is the oracle advisor.

use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::time::Instant;
use vlgor_sim::{Action, Env, EnvSpec};
use vlgor_vlm::SentenceEncoder;
use vlgor_vlm::world_model::{CachedText, StateCanvas, WorldModel, imagine};

use super::slots::Slot;
use crate::context::Context;
use crate::error::CliError;
use crate::vlm_run::{VlmRun, renderer, vlm_error};

/// The world model loaded for advice, with its text source, renderer and the spare simulator
/// its object-state head draws from.
pub struct WorldModelAdvisor {
    model: WorldModel,
    text: CachedText<SentenceEncoder>,
    renderer: vlgor_render::Renderer,
    canvas_env: Box<dyn Env>,
    /// The stage advising (`lora`, `full` or `base`).
    pub stage: &'static str,
}

/// Who suggests actions.
pub enum Advisor {
    WorldModel(Box<WorldModelAdvisor>),
    Expert,
}

/// An advisor with the wall time and the number of its requests.
pub struct TimedAdvisor {
    pub advisor: Advisor,
    pub seconds: f64,
    pub requests: u64,
}

impl WorldModelAdvisor {
    /// Loads the world model of run directory `dir` for `spec`'s simulator.
    pub fn load(ctx: &Context, dir: &Path, spec: EnvSpec) -> Result<Self, CliError> {
        let (model, stage) = VlmRun::new(dir).load_for_inference(ctx)?;
        if model.config().env != spec.kind() {
            return Err(CliError::Input(format!(
                "--vlm {}: the world model was trained for {}, not {}",
                dir.display(),
                model.config().env.name(),
                spec.kind().name()
            )));
        }
        let encoder =
            SentenceEncoder::from_env(ctx.device).map_err(|e| CliError::Input(e.to_string()))?;
        let renderer = renderer(ctx, model.config().image_size)?;
        Ok(WorldModelAdvisor {
            model,
            text: CachedText::new(encoder),
            renderer,
            canvas_env: spec.make(),
            stage,
        })
    }

    /// One suggestion per slot, from one render batch and one model forward.
    fn suggest(&mut self, slots: &[Slot]) -> Result<Vec<Action>, CliError> {
        let mut scenes = Vec::with_capacity(slots.len());
        for s in slots {
            scenes.push(s.env.scene(s.env.cameras()[0])?);
        }
        let frames = self
            .renderer
            .render_batch(&scenes)
            .map_err(|e| CliError::Other(e.into()))?;
        let texts: Vec<&str> = slots.iter().map(|s| s.instruction.text.as_str()).collect();
        let mut canvas = StateCanvas {
            env: &mut *self.canvas_env,
            renderer: &mut self.renderer,
            states: slots.iter().map(|s| s.env.state()).collect(),
        };
        let out = imagine(
            &self.model,
            &mut self.text,
            &texts,
            &frames.pixels,
            0,
            None,
            Some(&mut canvas),
        )
        .map_err(vlm_error)?;
        out.actions
            .iter()
            .map(|a| {
                a.first().copied().ok_or_else(|| {
                    CliError::Other(anyhow::anyhow!("the world model suggested no action"))
                })
            })
            .collect()
    }
}

impl TimedAdvisor {
    pub fn new(advisor: Advisor) -> Self {
        TimedAdvisor {
            advisor,
            seconds: 0.0,
            requests: 0,
        }
    }

    /// One suggestion per slot (the expert draws its noise-free action with `rng`).
    pub fn suggest(
        &mut self,
        slots: &mut [Slot],
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<Action>, CliError> {
        let start = Instant::now();
        let out = match &mut self.advisor {
            Advisor::WorldModel(m) => m.suggest(slots)?,
            Advisor::Expert => slots
                .iter_mut()
                .map(|s| s.env.expert_action(0.0, rng))
                .collect(),
        };
        self.seconds += start.elapsed().as_secs_f64();
        self.requests += 1;
        Ok(out)
    }
}
