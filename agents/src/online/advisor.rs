//! The action advisor of VARL: on an advised step every simulator's current view is rendered
//! with the project's renderer at the world model's frame size and the world model suggests an
//! action for all of them in one batched request ([`AdviceSource`], `[online] advice`):
//! * `lookahead` (default): the model imagines the outcome of every candidate action
//!   ([`best_candidates`]) and the candidate whose imagined perceived state the instruction's
//!   own test scores highest ([`PerceivedGoal::reward`]: success, else the shaped progress) is
//!   suggested; ties go to the first candidate;
//! * `action-head`: the model's forward with no action (imagination's step 0:
//!   `(s_t, G, no action) → a_t`).
//!
//! The scripted expert is the oracle advisor.

use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use vlgor_rl::online::AdviceSource;
use vlgor_sim::validate::perceive;
use vlgor_sim::{Action, EnvKind, EnvSpec};
use vlgor_vlm::SentenceEncoder;
use vlgor_vlm::perception::StateReadout;
use vlgor_vlm::world_model::objects::read_objects;
use vlgor_vlm::world_model::{
    CachedText, Candidates, StateCanvas, VisualHead, WorldModel, best_candidates, imagine,
};

use super::slots::Slot;
use crate::context::Context;
use crate::error::CliError;
use crate::imagination::PerceivedGoal;
use crate::imagination::goals::candidate_actions;
use crate::vlm_run::{VlmRun, load_readout, renderer, vlm_error};

/// The world model loaded for advice, with its text source and the renderer its object-state
/// head draws with.
pub struct WorldModelAdvisor {
    model: WorldModel,
    text: CachedText<SentenceEncoder>,
    renderer: vlgor_render::Renderer,
    /// The simulator advised.
    kind: EnvKind,
    /// The readout of predicted frames (look-ahead with a head that predicts frames).
    readout: Option<StateReadout>,
    source: AdviceSource,
    candidates: usize,
    /// The goals of the running episodes, by episode index (look-ahead).
    goals: HashMap<u64, PerceivedGoal>,
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
        let source = ctx.config.online.advice;
        let readout = match (source, model.config().visual_head) {
            (AdviceSource::Lookahead, VisualHead::Direct | VisualHead::Transform) => Some(
                load_readout(ctx, &VlmRun::new(dir).readout_dir(), spec.kind())?,
            ),
            _ => None,
        };
        Ok(WorldModelAdvisor {
            model,
            text: CachedText::new(encoder),
            renderer,
            kind: spec.kind(),
            readout,
            source,
            candidates: ctx.config.online.lookahead_candidates,
            goals: HashMap::new(),
            stage,
        })
    }

    /// One suggestion per slot, from one render batch and one batched model forward.
    fn suggest(&mut self, slots: &[Slot], rng: &mut ChaCha8Rng) -> Result<Vec<Action>, CliError> {
        let mut scenes = Vec::with_capacity(slots.len());
        for s in slots {
            scenes.push(s.env.scene(s.env.cameras()[0])?);
        }
        let frames = self
            .renderer
            .render_batch(&scenes)
            .map_err(|e| CliError::Other(e.into()))?;
        match self.source {
            AdviceSource::ActionHead => self.action_head(slots, &frames.pixels),
            AdviceSource::Lookahead => self.lookahead(slots, &frames.pixels, rng),
        }
    }

    /// Look-ahead advice: the candidate whose imagined outcome scores highest.
    fn lookahead(
        &mut self,
        slots: &[Slot],
        frames: &[u8],
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<Action>, CliError> {
        let kind = self.kind;
        let actions: Vec<Vec<Action>> = slots
            .iter()
            .map(|s| candidate_actions(&s.instruction, kind, self.candidates, rng))
            .collect();
        let objects = if self.model.config().visual_head == VisualHead::ObjectState {
            let o = slots
                .iter()
                .map(|s| read_objects(kind, &s.env.state(), &s.env.observation()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(vlm_error)?;
            Some(o)
        } else {
            None
        };
        let texts: Vec<&str> = slots.iter().map(|s| s.instruction.text.as_str()).collect();
        // Each running episode's goal is built once (a Meta-World goal resets a simulator).
        self.goals
            .retain(|e, _| slots.iter().any(|s| s.record.episode == *e));
        for s in slots {
            if let std::collections::hash_map::Entry::Vacant(e) = self.goals.entry(s.record.episode)
            {
                let start = perceive(kind, s.start_obs());
                e.insert(PerceivedGoal::new(&s.instruction, s.seed, &start)?);
            }
        }
        let goals: Vec<&PerceivedGoal> = slots
            .iter()
            .map(|s| &self.goals[&s.record.episode])
            .collect();
        let now: Vec<Vec<f32>> = slots.iter().map(|s| perceive(kind, s.obs())).collect();
        let best = best_candidates(
            &self.model,
            &mut self.text,
            &Candidates {
                env: kind,
                instructions: &texts,
                frames,
                objects: objects.as_deref(),
                actions: &actions,
            },
            self.readout.as_ref(),
            &now,
            &mut |i, now, next| goals[i].reward(now, next),
        )
        .map_err(vlm_error)?;
        // Ties, and candidates scored −∞ throughout, go to the first candidate.
        Ok(best
            .into_iter()
            .zip(&actions)
            .map(|(b, cands)| b.unwrap_or(cands[0]))
            .collect())
    }

    /// Action-head advice: the model's action from the frame and the instruction alone.
    fn action_head(&mut self, slots: &[Slot], frames: &[u8]) -> Result<Vec<Action>, CliError> {
        let texts: Vec<&str> = slots.iter().map(|s| s.instruction.text.as_str()).collect();
        let mut canvas = StateCanvas::new(
            &mut self.renderer,
            slots.iter().map(|s| s.env.state()).collect(),
            slots.iter().map(|s| s.instruction.goal.clone()).collect(),
        )
        .map_err(vlm_error)?;
        let out = imagine(
            &self.model,
            &mut self.text,
            &texts,
            frames,
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
            Advisor::WorldModel(m) => m.suggest(slots, rng)?,
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
