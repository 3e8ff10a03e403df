//! One simulator running one episode at a time, seeded exactly like `vlgor eval`'s episodes:
//! the episode seed draws the instruction, the initial state and the scripted policies' random
//! choices ([`vlgor_sim::episode`]).

use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use vlgor_sim::episode::{action_rng, instruction_rng};
use vlgor_sim::{Action, Env, EnvSpec, Level, SimError};

/// What one step gave, in Gymnasium's terms.
#[derive(Clone, Copy, Debug, Default)]
pub struct Transition {
    pub reward: f32,
    /// The instruction's goal holds after this step.
    pub success: bool,
    /// The episode ended through the task: success (as in `vlgor eval`), a task terminal, or
    /// the one push of a step-level goal.
    pub terminated: bool,
    /// The episode reached its horizon without terminating.
    pub truncated: bool,
}

/// A simulator with its episode bookkeeping.
pub struct Slot {
    pub spec: EnvSpec,
    pub env: Box<dyn Env>,
    pub level: Level,
    /// The running episode's seed.
    pub episode_seed: u64,
    actions: ChaCha8Rng,
    /// The running episode ended; the next step must be preceded by a reset.
    pub done: bool,
}

impl Slot {
    pub fn new(spec: EnvSpec, level: Level) -> Result<Slot, SimError> {
        check_level(spec, level)?;
        Ok(Slot {
            spec,
            env: spec.make(),
            level,
            episode_seed: 0,
            actions: action_rng(0),
            done: true,
        })
    }

    /// Starts the episode of `episode_seed` at `level`: the instruction sampled from the seed,
    /// the initial state drawn from it.
    pub fn reset(&mut self, episode_seed: u64, level: Level) -> Result<(), SimError> {
        check_level(self.spec, level)?;
        let instruction = self
            .spec
            .sample_instruction(level, &mut instruction_rng(episode_seed));
        self.env.reset(episode_seed, &instruction)?;
        self.level = level;
        self.episode_seed = episode_seed;
        self.actions = action_rng(episode_seed);
        self.done = false;
        Ok(())
    }

    /// One step; the episode ends at success, a task terminal or the horizon.
    pub fn step(&mut self, action: &Action) -> Result<Transition, SimError> {
        if self.done {
            return Err(SimError::InvalidChoice(
                "step after the episode ended: call reset first".into(),
            ));
        }
        let o = self.env.step(action)?;
        let at_horizon = o.timeout || self.env.steps() >= self.env.horizon();
        // A step-level goal (CLEVR directional) is decided by its one push: the task ends
        // there, it is not cut short by a time limit.
        let decided = at_horizon && self.env.instruction().goal.is_step_level();
        let terminated = o.success || o.terminal || decided;
        let truncated = !terminated && at_horizon;
        self.done = terminated || truncated;
        Ok(Transition {
            reward: o.reward,
            success: o.success,
            terminated,
            truncated,
        })
    }

    /// The scripted expert's action; with probability `noise` a random one (the episode's own
    /// action stream, as in `vlgor eval --policy expert`).
    pub fn expert_action(&mut self, noise: f32) -> Action {
        self.env.expert_action(noise, &mut self.actions)
    }

    /// A uniformly random action from the episode's action stream (`--policy random`).
    pub fn random_action(&mut self) -> Action {
        self.env.random_action(&mut self.actions)
    }

    /// A fresh episode seed for auto-resets, drawn from the running episode's action stream.
    pub fn next_seed(&mut self) -> u64 {
        self.actions.next_u64()
    }

    /// The instruction's goal spec as JSON.
    pub fn goal_json(&self) -> String {
        serde_json::to_string(&self.env.instruction().goal).unwrap_or_else(|_| "{}".into())
    }
}

fn check_level(spec: EnvSpec, level: Level) -> Result<(), SimError> {
    let valid = Level::of_env(spec.kind());
    if valid.contains(&level) {
        return Ok(());
    }
    let names: Vec<&str> = valid.iter().map(|l| l.name()).collect();
    Err(SimError::unknown("level", level.name(), &names))
}
