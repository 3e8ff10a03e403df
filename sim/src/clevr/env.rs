//! [`ClevrEnv`]: the CLEVR-Robot environment behind the shared [`Env`] trait.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::expert::plan;
use super::goal::{ClevrGoal, Direction};
use super::judge::{StepJudges, judge_push};
use super::layout::sample_positions;
use super::physics::{NUM_ACTIONS, NUM_BALLS, REACH_X, REACH_Y, WorldState, decode_action, push};
use super::tasks::split;
use super::templates::relation_training;
use super::text::instruction;
use super::view::{CAMERAS, scene};
use crate::{Action, Env, EnvKind, GoalSpec, Instruction, Level, Scene, SimError, StepOutcome};

/// Episode length in steps (KALM / ImagineBench).
pub const HORIZON: usize = 50;
/// Episode length of a directional goal: one push decides it (KALM's step level).
pub const STEP_LEVEL_HORIZON: usize = 1;
/// A directional goal's ball starts with at least this much room (m) along the asked
/// direction, so the goal is reachable.
pub const MOVE_ROOM: f32 = 0.3;

/// CLEVR-Robot: five balls, 40 discrete pushes, language goals.
///
/// State vector ([`Env::state`], [`ClevrEnv::STATE_LEN`] floats): the world (per ball position
/// 3, rotation 4, linear velocity 3, angular velocity 3; pusher position 3), the ball centres at
/// the episode's start (10), the step counter (1). The instruction is not part of it.
#[derive(Clone, Debug)]
pub struct ClevrEnv {
    world: WorldState,
    start: [[f32; 2]; NUM_BALLS],
    steps: usize,
    instruction: Instruction,
    goal: ClevrGoal,
    /// The step-level judges of the episode's first push (directional goals only).
    first_push: Option<StepJudges>,
}

impl Default for ClevrEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl ClevrEnv {
    /// Floats in the state vector.
    pub const STATE_LEN: usize = WorldState::LEN + 2 * NUM_BALLS + 1;

    /// An environment holding a seeded scene and a training instruction; call [`Env::reset`].
    pub fn new() -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let goal = split().training[0].clone();
        let instruction = instruction(goal.clone(), &relation_training()[0], Level::Seen)
            .expect("relation goals always render");
        let xy = sample_positions(&mut rng);
        ClevrEnv {
            world: WorldState::resting(&xy),
            start: xy,
            steps: 0,
            instruction,
            goal,
            first_push: None,
        }
    }

    /// The current goal.
    pub fn goal(&self) -> &ClevrGoal {
        &self.goal
    }

    /// The full physical state.
    pub fn world(&self) -> &WorldState {
        &self.world
    }

    /// Ball centres now (m).
    pub fn ball_xy(&self) -> [[f32; 2]; NUM_BALLS] {
        self.world.ball_xy()
    }

    /// Ball centres at the episode's start (m).
    pub fn start_xy(&self) -> [[f32; 2]; NUM_BALLS] {
        self.start
    }

    /// Whether the goal holds now.
    pub fn is_success(&self) -> bool {
        self.goal.is_success(&self.ball_xy(), &self.start)
    }

    /// Replaces the instruction mid-episode (e.g. relabelling), keeping the physical state.
    pub fn set_instruction(&mut self, instruction: &Instruction) -> Result<(), SimError> {
        self.goal = clevr_goal(instruction)?;
        self.instruction = instruction.clone();
        Ok(())
    }

    /// The scripted expert's push (0..40) for the current state, without noise.
    pub fn expert_push(&self) -> u32 {
        plan(&self.goal, &self.world, &self.start) as u32
    }
}

fn clevr_goal(instruction: &Instruction) -> Result<ClevrGoal, SimError> {
    match &instruction.goal {
        GoalSpec::Clevr(g) => Ok(g.clone()),
        GoalSpec::MetaWorld(m) => Err(SimError::GoalMismatch(format!(
            "the CLEVR environment got Meta-World goal '{}'; use a CLEVR instruction",
            m.task
        ))),
    }
}

/// Whether the initial scene `xy` gives `goal` a fair start: not already achieved, and for a
/// directional goal [`MOVE_ROOM`] of space between the ball and the wall.
fn fair_start(goal: &ClevrGoal, xy: &[[f32; 2]; NUM_BALLS]) -> bool {
    if goal.is_success(xy, xy) {
        return false;
    }
    match goal {
        ClevrGoal::Move { ball, direction } => {
            let [x, y] = xy[*ball];
            let room = match direction {
                Direction::Right => REACH_X[1] - x,
                Direction::Left => x - REACH_X[0],
                Direction::Behind => REACH_Y[1] - y,
                Direction::Front => y - REACH_Y[0],
            };
            room >= MOVE_ROOM
        }
        _ => true,
    }
}

impl Env for ClevrEnv {
    fn kind(&self) -> EnvKind {
        EnvKind::Clevr
    }

    /// Draws the scene from `seed` (redrawing while the goal is already achieved or a
    /// directional goal has no room) and starts pursuing `instruction`.
    fn reset(&mut self, seed: u64, instruction: &Instruction) -> Result<(), SimError> {
        let goal = clevr_goal(instruction)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut xy = sample_positions(&mut rng);
        while !fair_start(&goal, &xy) {
            xy = sample_positions(&mut rng);
        }
        self.world = WorldState::resting(&xy);
        self.start = xy;
        self.steps = 0;
        self.goal = goal;
        self.instruction = instruction.clone();
        self.first_push = None;
        Ok(())
    }

    fn step(&mut self, action: &Action) -> Result<StepOutcome, SimError> {
        let a = match action {
            Action::Discrete(a) => *a,
            Action::Continuous(_) => {
                return Err(SimError::InvalidAction(format!(
                    "CLEVR takes Discrete(0..{NUM_ACTIONS}) actions, got {action:?}"
                )));
            }
        };
        let (ball, dir) = decode_action(a)?;
        let prev = self.world.ball_xy();
        push(&mut self.world, ball, dir)?;
        self.steps += 1;
        let next = self.world.ball_xy();
        if let (ClevrGoal::Move { ball, direction }, 1) = (&self.goal, self.steps) {
            self.first_push = Some(judge_push(*ball, *direction, a, &prev, &next));
        }
        let success = self.goal.is_success(&next, &self.start);
        Ok(StepOutcome {
            reward: self.goal.reward(&prev, &next, &self.start),
            success,
            terminal: success,
            timeout: !success && self.steps >= self.horizon(),
        })
    }

    /// The ten ball x/y values (m), ball by ball.
    fn observation(&self) -> Vec<f32> {
        self.world.ball_xy().iter().flatten().copied().collect()
    }

    fn state(&self) -> Vec<f32> {
        let mut s = Vec::with_capacity(Self::STATE_LEN);
        self.world.write(&mut s);
        s.extend(self.start.iter().flatten());
        s.push(self.steps as f32);
        s
    }

    fn set_state(&mut self, state: &[f32]) -> Result<(), SimError> {
        if state.len() != Self::STATE_LEN {
            return Err(SimError::InvalidState(format!(
                "CLEVR state needs {} floats, got {}",
                Self::STATE_LEN,
                state.len()
            )));
        }
        let world = WorldState::read(&state[..WorldState::LEN])?;
        let rest = &state[WorldState::LEN..];
        let steps = rest[2 * NUM_BALLS];
        if !(steps >= 0.0 && steps.fract() == 0.0) {
            return Err(SimError::InvalidState(format!(
                "CLEVR step counter must be a non-negative integer, got {steps}"
            )));
        }
        self.world = world;
        self.start = std::array::from_fn(|i| [rest[2 * i], rest[2 * i + 1]]);
        self.steps = steps as usize;
        Ok(())
    }

    fn scene(&self, camera: &str) -> Result<Scene, SimError> {
        scene(&self.world, camera)
    }

    fn cameras(&self) -> &'static [&'static str] {
        &CAMERAS
    }

    fn expert_action(&mut self, noise: f32, rng: &mut dyn RngCore) -> Action {
        if rng.random::<f32>() < noise {
            return self.random_action(rng);
        }
        Action::Discrete(self.expert_push())
    }

    fn random_action(&self, rng: &mut dyn RngCore) -> Action {
        Action::Discrete(rng.random_range(0..NUM_ACTIONS as u32))
    }

    fn instruction(&self) -> &Instruction {
        &self.instruction
    }

    fn steps(&self) -> usize {
        self.steps
    }

    /// 50 pushes; one for a directional goal (KALM's step level).
    fn horizon(&self) -> usize {
        if self.goal.is_step_level() {
            STEP_LEVEL_HORIZON
        } else {
            HORIZON
        }
    }

    fn step_judges(&self) -> Option<StepJudges> {
        self.first_push
    }
}
