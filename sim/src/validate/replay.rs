//! Dynamics replay: set the simulator to s_k, apply a_k for `h` env steps (terminal flags
//! ignored), and compare the objects with s_{k+1}. Catches the wrong ball moving, a ball moving
//! without contact, and a frozen state where the action should move something.

use glam::Vec3;

use super::config::ValidatorConfig;
use super::perceive::{
    check_perceived, check_state, clevr_from_perceived, env_of, instruction_of,
    metaworld_from_perceived,
};
use super::reason::{Reason, Violation};
use crate::clevr::physics::{NUM_BALLS, WorldState};
use crate::metaworld::physics::PhysState;
use crate::metaworld::{MetaWorldEnv, MetaWorldGoal, Task};
use crate::spec::Simulators;
use crate::{Action, Env, GoalSpec, SimError};

/// The geometry of one full state that the checks look at (m; quaternions `[x, y, z, w]`).
#[derive(Clone, Debug, PartialEq)]
pub enum Snapshot {
    Clevr {
        /// Ball centres.
        balls: [[f32; 3]; NUM_BALLS],
    },
    MetaWorld {
        task: Task,
        /// Hand body position.
        hand: [f32; 3],
        /// The object's observed point (puck, mug, handle, button face...).
        key: [f32; 3],
        /// The object body's centre, orientation and linear velocity (m/s; zero in perceived
        /// states).
        object: [f32; 3],
        object_rot: [f32; 4],
        object_vel: [f32; 3],
        /// Right and left finger pad centres and orientations.
        pads: [[f32; 3]; 2],
        pad_rots: [[f32; 4]; 2],
    },
}

/// Owns the simulators the validation runs ([`Simulators`]: each made on first use).
/// Deterministic: the same inputs give the same results.
pub struct Replayer {
    sims: Simulators,
}

impl Default for Replayer {
    fn default() -> Self {
        Self::new()
    }
}

impl Replayer {
    pub fn new() -> Replayer {
        Replayer {
            sims: Simulators::new(),
        }
    }

    pub(crate) fn metaworld_env(
        &mut self,
        goal: &MetaWorldGoal,
    ) -> Result<&mut MetaWorldEnv, SimError> {
        let env = self.sims.metaworld(goal.task);
        if env.goal() != goal {
            env.reset(0, &instruction_of(&GoalSpec::MetaWorld(goal.clone())))?;
        }
        Ok(env)
    }

    /// The simulator for `goal`, pursuing it.
    pub fn env(&mut self, goal: &GoalSpec) -> Result<&mut dyn Env, SimError> {
        Ok(match goal {
            GoalSpec::Clevr(g) => {
                let env = self.sims.clevr();
                if env.goal() != g {
                    env.set_instruction(&instruction_of(goal))?;
                }
                env
            }
            GoalSpec::MetaWorld(g) => self.metaworld_env(g)?,
        })
    }

    /// The simulator for `goal` set to `state`.
    fn env_at(&mut self, goal: &GoalSpec, state: &[f32]) -> Result<&mut dyn Env, SimError> {
        check_state(goal, state)?;
        let env = self.env(goal)?;
        env.set_state(state)?;
        Ok(env)
    }

    /// The geometry of full state `state`.
    pub fn snapshot(&mut self, goal: &GoalSpec, state: &[f32]) -> Result<Snapshot, SimError> {
        check_state(goal, state)?;
        match goal {
            GoalSpec::Clevr(_) => {
                let w = WorldState::read(&state[..WorldState::LEN])?;
                Ok(Snapshot::Clevr {
                    balls: w.balls.map(|b| b.position),
                })
            }
            GoalSpec::MetaWorld(g) => {
                let env = self.metaworld_env(g)?;
                env.set_state(state)?;
                let p = env.perceived();
                let phys = PhysState::read(&state[..PhysState::LEN]);
                Ok(Snapshot::MetaWorld {
                    task: g.task,
                    hand: p.hand,
                    key: p.object,
                    object: phys.object.pos.to_array(),
                    object_rot: phys.object.rot.to_array(),
                    object_vel: phys.object.linvel.to_array(),
                    pads: phys.fingers.map(|f| f.pos.to_array()),
                    pad_rots: phys.fingers.map(|f| f.rot.to_array()),
                })
            }
        }
    }

    /// What a readout would see in full state `state` (see [`super::perceive()`]).
    pub fn perceived_of_state(
        &mut self,
        goal: &GoalSpec,
        state: &[f32],
    ) -> Result<Vec<f32>, SimError> {
        let env = self.env_at(goal, state)?;
        Ok(super::perceive(env_of(goal), &env.observation()))
    }

    /// See [`super::perceived_to_state`].
    pub fn perceived_to_state(
        &mut self,
        goal: &GoalSpec,
        base_state: &[f32],
        perceived: &[f32],
    ) -> Result<Vec<f32>, SimError> {
        check_state(goal, base_state)?;
        check_perceived(env_of(goal), perceived)?;
        match goal {
            GoalSpec::Clevr(_) => clevr_from_perceived(base_state, perceived),
            GoalSpec::MetaWorld(g) => {
                let env = self.metaworld_env(g)?;
                env.set_state(base_state)?;
                Ok(metaworld_from_perceived(env, base_state, perceived))
            }
        }
    }

    /// The full state after applying `action` `h` times from `state` (terminal flags ignored).
    pub fn replay(
        &mut self,
        goal: &GoalSpec,
        state: &[f32],
        action: &Action,
        h: usize,
    ) -> Result<Vec<f32>, SimError> {
        let env = self.env_at(goal, state)?;
        for _ in 0..h.max(1) {
            env.step(action)?;
        }
        Ok(env.state())
    }

    /// Dynamics replay of transition `k` (`s_k` → `s_next` under `action` held for `h` env
    /// steps): a [`Reason::DynamicsReplay`] violation when an object's replayed position
    /// differs from `s_next` by more than the tolerance (full positions x, y, z: CLEVR any
    /// ball's centre; Meta-World the object point, and the hand with its own tolerance), the tolerance widened by
    /// [`ValidatorConfig::replay_relative_tolerance`] times the larger of the given and the
    /// replayed displacement. Magnitude: the largest error (m).
    #[allow(clippy::too_many_arguments)]
    pub fn check_transition(
        &mut self,
        goal: &GoalSpec,
        k: usize,
        s_k: &[f32],
        action: &Action,
        s_next: &[f32],
        h: usize,
        cfg: &ValidatorConfig,
    ) -> Result<Option<Violation>, SimError> {
        let replayed = self.replay(goal, s_k, action, h)?;
        let from = self.positions(goal, s_k)?;
        let want = self.positions(goal, s_next)?;
        let got = self.positions(goal, &replayed)?;
        // (error, tolerance, index): the tolerance grows with the motion involved, since a
        // perceived state carries no velocities and noisy contacts.
        let items: Vec<(f32, f32, usize)> = (0..want.len())
            .map(|i| {
                let tol = match (goal, i) {
                    (GoalSpec::MetaWorld(_), 1) => cfg.replay_hand_tolerance_m,
                    _ => cfg.replay_tolerance_m,
                };
                let moved = (want[i].1 - from[i].1)
                    .length()
                    .max((got[i].1 - from[i].1).length());
                (
                    (want[i].1 - got[i].1).length(),
                    tol + cfg.replay_relative_tolerance * moved,
                    i,
                )
            })
            .collect();
        let worst = items
            .iter()
            .filter(|(e, tol, _)| e > tol)
            .max_by(|a, b| (a.0 - a.1).total_cmp(&(b.0 - b.1)));
        Ok(worst.map(|&(e, tol, i)| {
            Violation::new(
                k,
                Reason::DynamicsReplay,
                e,
                format!(
                    "{}: replaying the action {h} step(s) gives {:?}, the rollout shows {:?} ({e:.3} m apart, tolerance {tol:.3} m)",
                    want[i].0,
                    round3(got[i].1),
                    round3(want[i].1)
                ),
            )
        }))
    }

    /// Per compared object (as [`Replayer::check_transition`]: CLEVR the five balls,
    /// Meta-World the object point and the hand), the distance (m) between its position in
    /// `s_next` and after replaying `action` `h` steps from `s_k`, tolerances aside.
    pub fn replay_errors(
        &mut self,
        goal: &GoalSpec,
        s_k: &[f32],
        action: &Action,
        s_next: &[f32],
        h: usize,
    ) -> Result<Vec<f32>, SimError> {
        let replayed = self.replay(goal, s_k, action, h)?;
        let want = self.positions(goal, s_next)?;
        let got = self.positions(goal, &replayed)?;
        Ok(want
            .iter()
            .zip(&got)
            .map(|(w, g)| (w.1 - g.1).length())
            .collect())
    }

    /// The full positions (x, y, z) the replay compares: CLEVR — the five ball centres;
    /// Meta-World — the object's observed point, then the hand.
    fn positions(
        &mut self,
        goal: &GoalSpec,
        state: &[f32],
    ) -> Result<Vec<(String, Vec3)>, SimError> {
        Ok(match self.snapshot(goal, state)? {
            Snapshot::Clevr { balls } => balls
                .iter()
                .enumerate()
                .map(|(i, b)| (format!("ball {i}"), Vec3::from(*b)))
                .collect(),
            Snapshot::MetaWorld { hand, key, .. } => vec![
                ("object".to_string(), Vec3::from(key)),
                ("hand".to_string(), Vec3::from(hand)),
            ],
        })
    }
}

fn round3(v: Vec3) -> [f32; 3] {
    v.to_array().map(|x| (x * 1000.0).round() / 1000.0)
}
