//! [`MetaWorldEnv`]: one task's simulator behind the shared [`Env`] trait.
//!
//! Action `[dx, dy, dz, grip]` in [-1, 1]^4: the hand target moves by `clip(a[:3]) * 0.01` m,
//! clipped to the task's bounds; `grip > 0` closes the fingers, otherwise they open. One step is
//! 0.0125 s; the horizon is 500 steps. Observation: the original's 39-d vector
//! `[hand(3), gripper(1), object(3), object quat (w, x, y, z)(4), zeros(7), previous 18, goal(3)]`.

use glam::Vec3;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::expert::ExpertView;
use super::goal::{MetaWorldGoal, Stage, constraint_holds, stage_done};
use super::layout::{Layout, ObjectJoint};
use super::physics::{PhysState, World};
use super::reward::{self, EpisodeContext, Perceived};
use super::scene::SceneView;
use super::task::Task;
use crate::env::{Action, Env, EnvKind, StepOutcome};
use crate::language::{GoalSpec, Instruction, InstructionParts, Level};
use crate::{Scene, SimError};

/// Episode length (steps).
pub const HORIZON: usize = 500;
pub use super::physics::ACTION_SCALE;
/// Object height (m, table surface = 0) below which it has fallen off the table.
pub const OFF_TABLE_Z: f32 = -0.25;
/// Length of [`Env::state`] vectors (82). Layout: hand position (3), hand velocity (3), hand
/// target (3), gripper command (+1 closing / -1 opening), right finger, left finger and object
/// bodies (13 each: position, quaternion (x, y, z, w), linear and angular velocity), layout base
/// (3), task goal (3), object point at reset (3), path start (3), previous observation frame
/// (18), step counter, stage index, constraint-violated flag. Joint positions are implied by the
/// object's pose.
pub const STATE_LEN: usize = PhysState::LEN + 12 + 18 + 3;

/// A Meta-World task simulator.
pub struct MetaWorldEnv {
    pub(crate) task: Task,
    pub(crate) layout: Layout,
    world: World,
    pub(crate) phys: PhysState,
    pub(crate) base: [f32; 3],
    /// The task's sampled (unmodified) goal point.
    pub(crate) task_goal: [f32; 3],
    pub(crate) object_init: [f32; 3],
    /// TCP (reach) or object point at reset: the start of a straight-line constraint.
    pub(crate) start: [f32; 3],
    prev_obs: [f32; 18],
    steps: usize,
    pub(crate) stage: usize,
    violated: bool,
    pub(crate) goal: MetaWorldGoal,
    instruction: Instruction,
    /// Warm start of the arm's inverse kinematics (visual only).
    pub(crate) arm_q: std::sync::Mutex<[f32; 7]>,
}

fn plain_instruction(task: Task) -> Instruction {
    Instruction {
        text: format!("complete the {} task", task.name()),
        parts: InstructionParts {
            template: "complete the {target} task".into(),
            target: task.name().into(),
            behavior: String::new(),
        },
        goal: GoalSpec::MetaWorld(MetaWorldGoal::plain(task)),
        level: Level::Seen,
    }
}

fn uniform(rng: &mut ChaCha8Rng, lo: [f32; 3], hi: [f32; 3]) -> [f32; 3] {
    let mut out = [0.0; 3];
    for i in 0..3 {
        out[i] = if hi[i] > lo[i] {
            rng.random_range(lo[i]..hi[i])
        } else {
            lo[i]
        };
    }
    out
}

impl MetaWorldEnv {
    /// A simulator of `task`, reset with seed 0 and the plain task instruction.
    pub fn new(task: Task) -> MetaWorldEnv {
        let base = task.base_range().0;
        let layout = Layout::new(task, base, [0.0, 0.8, 0.05]);
        let world = World::new(&layout, Vec3::from(task.hand_init()));
        let phys = world.initial_state(Vec3::from(task.hand_init()));
        let mut env = MetaWorldEnv {
            task,
            layout,
            world,
            phys,
            base,
            task_goal: [0.0; 3],
            object_init: [0.0; 3],
            start: [0.0; 3],
            prev_obs: [0.0; 18],
            steps: 0,
            stage: 0,
            violated: false,
            goal: MetaWorldGoal::plain(task),
            instruction: plain_instruction(task),
            arm_q: std::sync::Mutex::new(super::arm::REFERENCE_Q),
        };
        let instr = env.instruction.clone();
        env.reset(0, &instr)
            .expect("plain instruction matches its own task");
        env
    }

    pub fn task(&self) -> Task {
        self.task
    }

    /// The goal being pursued (stages and constraint).
    pub fn goal(&self) -> &MetaWorldGoal {
        &self.goal
    }

    /// Index of the stage being pursued (== number of stages once all are reached).
    pub fn stage(&self) -> usize {
        self.stage
    }

    /// Whether the instruction's path constraint has been violated in this episode.
    pub fn violated(&self) -> bool {
        self.violated
    }

    /// The current perceived state (what the observation shows).
    pub fn perceived(&self) -> Perceived {
        let o = &self.phys.object;
        let key = o.pos + o.rot * self.layout.object.key_local;
        Perceived {
            hand: self.phys.hand_pos.to_array(),
            gripper: self.phys.gripper_opening(),
            object: key.to_array(),
            joint: self.layout.object.q_of(o.pos, o.rot),
        }
    }

    /// The goal point of the current stage (the observation's last three values).
    pub fn goal_point(&self) -> [f32; 3] {
        self.goal.goal_point(self.task_goal, self.stage)
    }

    /// Episode constants for the reward functions, with the current stage's goal point.
    pub fn context(&self) -> EpisodeContext {
        EpisodeContext {
            goal: self.goal_point(),
            object_init: self.object_init,
            hand_init: self.task.hand_init(),
        }
    }

    /// How this episode's object point maps to its joint position (see [`ObjectJoint`]).
    pub fn object_joint(&self) -> ObjectJoint {
        ObjectJoint::new(&self.layout.object)
    }

    /// Hand target (mocap) position (m).
    pub fn hand_target(&self) -> [f32; 3] {
        self.phys.mocap.to_array()
    }

    fn current18(&self) -> [f32; 18] {
        let p = self.perceived();
        let q = self.phys.object.rot;
        let mut o = [0.0; 18];
        o[..3].copy_from_slice(&p.hand);
        o[3] = p.gripper;
        o[4..7].copy_from_slice(&p.object);
        o[7..11].copy_from_slice(&[q.w, q.x, q.y, q.z]);
        o
    }

    fn sample_goal(&self, rng: &mut ChaCha8Rng, base: [f32; 3]) -> [f32; 3] {
        let far =
            |g: [f32; 3]| ((g[0] - base[0]).powi(2) + (g[1] - base[1]).powi(2)).sqrt() >= 0.15;
        let mut draw = |lo: [f32; 3], hi: [f32; 3]| {
            let mut g = uniform(rng, lo, hi);
            for _ in 0..100 {
                if far(g) {
                    break;
                }
                g = uniform(rng, lo, hi);
            }
            g
        };
        match self.task {
            Task::Reach | Task::PickPlace => draw([-0.1, 0.8, 0.05], [0.1, 0.9, 0.3]),
            Task::Push => draw([-0.1, 0.8, base[2]], [0.1, 0.9, base[2]]),
            Task::CoffeePush => {
                let g = uniform(rng, [-0.05, 0.7, 0.0], [0.05, 0.75, 0.0]);
                [g[0], g[1], super::layout::MUG_HALF]
            }
            _ => [0.0; 3],
        }
    }

    /// Articulated tasks: the observed point at the goal joint position.
    fn articulated_goal(&self) -> [f32; 3] {
        let obj = &self.layout.object;
        let q = match self.task {
            Task::ButtonPress => super::layout::BUTTON_PRESS_DEPTH + 0.02,
            Task::CoffeeButtonPress => 0.03,
            Task::DoorUnlock => 0.0,
            Task::DoorOpen | Task::FaucetOpen => {
                if self.task == Task::DoorOpen {
                    -std::f32::consts::FRAC_PI_2
                } else {
                    std::f32::consts::FRAC_PI_2
                }
            }
            Task::WindowOpen => 0.2,
            _ => 0.0,
        };
        let (pos, rot) = obj.pose_at(q);
        (pos + rot * obj.key_local).to_array()
    }

    fn rebuild(&mut self, base: [f32; 3], goal: [f32; 3]) {
        self.layout = Layout::new(self.task, base, goal);
        self.world = World::new(&self.layout, Vec3::from(self.task.hand_init()));
        self.base = base;
    }

    /// Evaluates stages and constraint after a step; returns (reward, success).
    /// The outcome [`Env::step`] reports for the step from full state `from` to full state
    /// `to` (reward, success, terminal, timeout), recomputed from the two states: the goal's
    /// stage and path constraint advance from `from`'s as they do in a step. Leaves the
    /// environment at `to` with the recomputed progress.
    pub fn transition_outcome(
        &mut self,
        from: &[f32],
        to: &[f32],
    ) -> Result<StepOutcome, SimError> {
        self.set_state(from)?;
        let prev = self.perceived();
        let (stage, violated) = (self.stage, self.violated);
        self.set_state(to)?;
        self.stage = stage;
        self.violated = violated;
        let (reward, success) = self.evaluate(&prev);
        let o = &self.phys.object;
        let off_table = o.pos.z < OFF_TABLE_Z || o.pos.length() >= 10.0;
        Ok(StepOutcome {
            reward,
            success: success && !off_table,
            terminal: off_table,
            timeout: self.steps >= HORIZON,
        })
    }

    fn evaluate(&mut self, prev: &Perceived) -> (f32, bool) {
        let p = self.perceived();
        let ctx0 = EpisodeContext {
            goal: self.task_goal,
            ..self.context()
        };
        if let Some(c) = self.goal.constraint {
            let seg_goal = self.goal.goal_point(self.task_goal, 0);
            if !constraint_holds(self.task, &c, self.start, seg_goal, prev, &p, self.steps) {
                self.violated = true;
            }
        }
        let n = self.goal.stages.len();
        if self.stage < n && stage_done(self.task, &self.goal.stages[self.stage], &ctx0, &p) {
            self.stage += 1;
        }
        let long = reward::Sigmoid::LongTail;
        let hand_init = self.task.hand_init();
        // Reward: finished stages count 10 each, the current one its shaped reward; averaged
        // over the stages (max 10), halved once the path constraint is violated.
        let r_stage = match self.goal.stages.get(self.stage) {
            None => 10.0,
            Some(Stage::TaskGoal { .. }) => reward::reward(self.task, &self.context(), &p),
            Some(Stage::Partial { fraction }) => {
                let off = (reward::travel_fraction(self.task, p.joint) - fraction).abs();
                10.0 * reward::tolerance(off, 0.0, 0.1, 1.0, long)
            }
            Some(Stage::HandAt { offset }) => {
                let t = [0, 1, 2].map(|i| hand_init[i] + offset[i]);
                10.0 * reward::tolerance(reward::dist(p.hand, t), 0.0, 0.05, 0.3, long)
            }
            Some(Stage::HandAbove { z }) => {
                10.0 * reward::tolerance(z - p.hand[2], f32::MIN, 0.0, 0.2, long)
            }
        };
        let done = self.stage.min(n) as f32;
        let mut r = if self.stage >= n {
            10.0
        } else {
            (10.0 * done + r_stage.min(10.0)) / n as f32
        };
        if self.violated {
            r *= 0.5;
        }
        (r, self.stage >= n && !self.violated)
    }
}

impl Env for MetaWorldEnv {
    fn kind(&self) -> EnvKind {
        EnvKind::MetaWorld
    }

    fn reset(&mut self, seed: u64, instruction: &Instruction) -> Result<(), SimError> {
        let goal = match &instruction.goal {
            GoalSpec::MetaWorld(g) => g.clone(),
            other => {
                return Err(SimError::GoalMismatch(format!(
                    "Meta-World {} got a non-Meta-World goal {other:?}",
                    self.task
                )));
            }
        };
        if goal.task != self.task {
            return Err(SimError::GoalMismatch(format!(
                "instruction is for task '{}' but this environment runs '{}'",
                goal.task, self.task
            )));
        }
        if goal.stages.is_empty() {
            return Err(SimError::GoalMismatch("goal has no stages".into()));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (lo, hi) = self.task.base_range();
        let mut base = uniform(&mut rng, lo, hi);
        let mut task_goal = self.sample_goal(&mut rng, base);
        // A moved (counterfactual) goal must not already hold at the start: redraw the layout
        // while the moved goal lies within 0.1 m (xy) of the object.
        if self.task.has_free_object() {
            let moved = |g: [f32; 3]| goal.goal_point(g, 0);
            for _ in 0..100 {
                let m = moved(task_goal);
                if m == task_goal
                    || ((m[0] - base[0]).powi(2) + (m[1] - base[1]).powi(2)).sqrt() >= 0.1
                {
                    break;
                }
                base = uniform(&mut rng, lo, hi);
                task_goal = self.sample_goal(&mut rng, base);
            }
        }
        // The coffee machine sits behind the goal, so the layout depends on it.
        self.rebuild(base, task_goal);
        if !self.task.has_position_goal() {
            task_goal = self.articulated_goal();
        }
        self.task_goal = task_goal;
        self.phys = self.world.initial_state(Vec3::from(self.task.hand_init()));
        self.goal = goal;
        self.instruction = instruction.clone();
        self.steps = 0;
        self.stage = 0;
        self.violated = false;
        let p = self.perceived();
        self.object_init = p.object;
        self.start = if self.task == Task::Reach {
            p.tcp()
        } else {
            p.object
        };
        self.prev_obs = self.current18();
        Ok(())
    }

    /// Steps the hand toward `action`'s target. Ends the episode (`terminal`) when the object
    /// falls off the table; only non-finite physics is an error.
    fn step(&mut self, action: &Action) -> Result<StepOutcome, SimError> {
        let a = match action {
            Action::Continuous(a) if a.iter().all(|v| v.is_finite()) => *a,
            other => {
                return Err(SimError::InvalidAction(format!(
                    "Meta-World expects Continuous([dx, dy, dz, grip]) with finite values, got {other:?}"
                )));
            }
        };
        let prev = self.perceived();
        self.prev_obs = self.current18();
        let (lo, hi) = self.task.hand_bounds();
        let d =
            Vec3::new(a[0], a[1], a[2]).clamp(Vec3::splat(-1.0), Vec3::splat(1.0)) * ACTION_SCALE;
        self.phys.mocap = (self.phys.mocap + d).clamp(Vec3::from(lo), Vec3::from(hi));
        self.phys.grip = if a[3] > 0.0 { 1.0 } else { -1.0 };
        self.world.step(&mut self.phys);
        let o = &self.phys.object;
        if !(o.pos.is_finite() && o.rot.is_finite()) {
            return Err(SimError::PhysicsDiverged(format!(
                "{} object at {:?} after step {}",
                self.task, o.pos, self.steps
            )));
        }
        // An object knocked off the table falls (there is no floor): the episode ends there,
        // unsuccessfully, instead of simulating a fall forever.
        let off_table = o.pos.z < OFF_TABLE_Z || o.pos.length() >= 10.0;
        self.steps += 1;
        let (reward, success) = self.evaluate(&prev);
        Ok(StepOutcome {
            reward,
            success: success && !off_table,
            terminal: off_table,
            timeout: self.steps >= HORIZON,
        })
    }

    fn observation(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(39);
        v.extend_from_slice(&self.current18());
        v.extend_from_slice(&self.prev_obs);
        v.extend_from_slice(&self.goal_point());
        v
    }

    fn state(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(STATE_LEN);
        self.phys.push(&mut v);
        for a in [self.base, self.task_goal, self.object_init, self.start] {
            v.extend_from_slice(&a);
        }
        v.extend_from_slice(&self.prev_obs);
        v.push(self.steps as f32);
        v.push(self.stage as f32);
        v.push(self.violated as u8 as f32);
        v
    }

    fn set_state(&mut self, s: &[f32]) -> Result<(), SimError> {
        if s.len() != STATE_LEN {
            return Err(SimError::InvalidState(format!(
                "Meta-World state has {} values, expected {STATE_LEN}",
                s.len()
            )));
        }
        if let Some(i) = s.iter().position(|v| !v.is_finite()) {
            return Err(SimError::InvalidState(format!("value {i} is not finite")));
        }
        let o = PhysState::LEN;
        let v3 = |i: usize| [s[i], s[i + 1], s[i + 2]];
        let (base, task_goal) = (v3(o), v3(o + 3));
        let steps = s[o + 30];
        let stage = s[o + 31];
        if steps < 0.0 || stage < 0.0 || stage as usize > self.goal.stages.len() {
            return Err(SimError::InvalidState(format!(
                "step {steps} / stage {stage} out of range (goal has {} stages)",
                self.goal.stages.len()
            )));
        }
        let layout_goal = if self.task == Task::CoffeePush {
            task_goal
        } else {
            [0.0, 0.8, 0.05]
        };
        let cur_goal = if self.task == Task::CoffeePush {
            self.task_goal
        } else {
            [0.0, 0.8, 0.05]
        };
        if base.map(f32::to_bits) != self.base.map(f32::to_bits)
            || layout_goal.map(f32::to_bits) != cur_goal.map(f32::to_bits)
        {
            self.rebuild(base, layout_goal);
        }
        self.phys = PhysState::read(&s[..o]);
        self.task_goal = task_goal;
        self.object_init = v3(o + 6);
        self.start = v3(o + 9);
        self.prev_obs.copy_from_slice(&s[o + 12..o + 30]);
        self.steps = steps as usize;
        self.stage = stage as usize;
        self.violated = s[o + 32] != 0.0;
        Ok(())
    }

    fn scene(&self, camera: &str) -> Result<Scene, SimError> {
        let view = SceneView {
            task: self.task,
            layout: &self.layout,
            phys: &self.phys,
            goal_point: self.goal_point(),
            arm_q: &self.arm_q,
        };
        super::scene::build_scene(&view, camera)
    }

    fn cameras(&self) -> &'static [&'static str] {
        super::scene::CAMERAS
    }

    fn expert_action(&mut self, noise: f32, rng: &mut dyn RngCore) -> Action {
        if noise > 0.0 && rng.random::<f32>() < noise {
            return self.random_action(rng);
        }
        let view = ExpertView {
            perceived: self.perceived(),
            goal_point: self.goal_point(),
            goal: &self.goal,
            stage: self.stage,
            task: self.task,
            hand_target: self.hand_target(),
        };
        Action::Continuous(super::expert::expert(&view))
    }

    fn random_action(&self, rng: &mut dyn RngCore) -> Action {
        let mut a = [0.0; 4];
        for v in &mut a {
            *v = rng.random_range(-1.0..=1.0);
        }
        Action::Continuous(a)
    }

    fn instruction(&self) -> &Instruction {
        &self.instruction
    }

    fn steps(&self) -> usize {
        self.steps
    }

    fn horizon(&self) -> usize {
        HORIZON
    }
}
