//! The simulators of an online run, stepped together: each slot runs one training episode at a
//! time; finished episodes are replaced by the next one in slot order. An episode is fixed by its
//! index (seed and instruction drawn from it, as evaluation draws its episodes), and a slot
//! remembers the actions of its running episode, so a resumed run rebuilds every simulator
//! exactly by replaying them.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use vlgor_sim::{Action, Env, EnvSpec, Instruction, Level, StepOutcome};

use crate::error::CliError;

/// Offset of the training episodes' seed from the run seed, so training never meets the
/// evaluation episodes (drawn with the run seed itself).
const TRAIN_SEED_OFFSET: u64 = 0x7A1_0000_0001;

/// What a checkpoint records of a slot: its episode and the actions taken in it so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlotRecord {
    pub episode: u64,
    pub actions: Vec<Action>,
}

/// One simulator and its running episode.
pub struct Slot {
    pub env: Box<dyn Env>,
    pub record: SlotRecord,
    pub instruction: Instruction,
    /// The episode's reset seed (goals are judged from its start).
    pub seed: u64,
    /// Observations of the running episode so far (`o_0 .. o_t`): the first is the start
    /// ([`Slot::start_obs`]), the last the current one ([`Slot::obs`]); hindsight relabelling
    /// reads the whole when the episode ends.
    pub trajectory: Vec<Vec<f32>>,
}

/// Seed and instruction of training episode `index`.
pub fn training_episode(spec: EnvSpec, level: Level, seed: u64, index: u64) -> (u64, Instruction) {
    let s = vlgor_sim::episode::episode_seed(
        seed.wrapping_add(TRAIN_SEED_OFFSET),
        level,
        index as usize,
    );
    let mut rng = vlgor_sim::episode::instruction_rng(s);
    (s, spec.sample_instruction(level, &mut rng))
}

impl Slot {
    /// A simulator running training episode `record.episode`, with `record.actions` replayed.
    pub fn start(
        spec: EnvSpec,
        level: Level,
        seed: u64,
        record: SlotRecord,
    ) -> Result<Slot, CliError> {
        let (s, instruction) = training_episode(spec, level, seed, record.episode);
        let mut env = spec.make();
        env.reset(s, &instruction)?;
        let mut trajectory = vec![env.observation()];
        for a in &record.actions {
            env.step(a)?;
            trajectory.push(env.observation());
        }
        Ok(Slot {
            trajectory,
            seed: s,
            env,
            record,
            instruction,
        })
    }

    /// Starts training episode `episode` in this slot.
    pub fn restart(
        &mut self,
        spec: EnvSpec,
        level: Level,
        seed: u64,
        episode: u64,
    ) -> Result<(), CliError> {
        let (s, instruction) = training_episode(spec, level, seed, episode);
        self.env.reset(s, &instruction)?;
        self.instruction = instruction;
        self.record = SlotRecord {
            episode,
            actions: Vec::new(),
        };
        self.seed = s;
        self.trajectory = vec![self.env.observation()];
        Ok(())
    }

    /// The current observation.
    pub fn obs(&self) -> &[f32] {
        self.trajectory.last().map_or(&[], |o| o.as_slice())
    }

    /// The episode's first observation.
    pub fn start_obs(&self) -> &[f32] {
        self.trajectory.first().map_or(&[], |o| o.as_slice())
    }

    /// Whether the episode is over after `outcome`.
    pub fn finished(&self, outcome: &StepOutcome) -> bool {
        outcome.success
            || outcome.terminal
            || outcome.timeout
            || self.env.steps() >= self.env.horizon()
    }
}

/// Steps every slot with its action, in parallel; outcomes in slot order.
pub fn step_all(slots: &mut [Slot], actions: &[Action]) -> Result<Vec<StepOutcome>, CliError> {
    let results: Vec<Result<StepOutcome, String>> = slots
        .par_iter_mut()
        .zip(actions.par_iter())
        .map(|(slot, a)| {
            slot.env
                .step(a)
                .map_err(|e| format!("training episode {}: {e}", slot.record.episode))
        })
        .collect();
    results
        .into_iter()
        .map(|r| r.map_err(|e| CliError::Other(anyhow::anyhow!(e))))
        .collect()
}
