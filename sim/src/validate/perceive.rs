//! What a state readout sees, and full simulator states rebuilt from it.
//!
//! Perceived state: CLEVR — the five balls' (x, y) (10 values, = `ClevrEnv::observation()`);
//! Meta-World — hand (x, y, z), gripper opening, object point (x, y, z) (7 values, =
//! `observation()[..7]`). Units: metres (gripper opening in [0, 1]).

use glam::{Quat, Vec3};

use super::objects::{MUG, PUCK};
use crate::clevr::ClevrEnv;
use crate::clevr::physics::{BallState, NUM_BALLS, WorldState};
use crate::metaworld::physics::{FINGER_RANGE, HAND_SAG, PAD_HALF, PAD_Z, PhysState};
use crate::metaworld::{MetaWorldEnv, STATE_LEN as MW_STATE_LEN, Task};
use crate::spec::Simulators;
use crate::{Env, EnvKind, GoalSpec, Instruction, InstructionParts, Level, SimError};

/// Values in a perceived state of `env`.
pub fn perceived_len(env: EnvKind) -> usize {
    match env {
        EnvKind::Clevr => 2 * NUM_BALLS,
        EnvKind::MetaWorld => 7,
    }
}

/// The perceived state in an observation of `env` (its first 10 or 7 values; a shorter
/// observation is returned whole and rejected later by [`perceived_to_state`]).
pub fn perceive(env: EnvKind, observation: &[f32]) -> Vec<f32> {
    observation[..perceived_len(env).min(observation.len())].to_vec()
}

/// The environment kind of a goal.
pub fn env_of(goal: &GoalSpec) -> EnvKind {
    match goal {
        GoalSpec::Clevr(_) => EnvKind::Clevr,
        GoalSpec::MetaWorld(_) => EnvKind::MetaWorld,
    }
}

/// Length of full states of the goal's environment.
pub fn state_len(goal: &GoalSpec) -> usize {
    match goal {
        GoalSpec::Clevr(_) => ClevrEnv::STATE_LEN,
        GoalSpec::MetaWorld(_) => MW_STATE_LEN,
    }
}

/// Checks a full state's length and finiteness.
pub fn check_state(goal: &GoalSpec, state: &[f32]) -> Result<(), SimError> {
    let n = state_len(goal);
    if state.len() != n {
        return Err(SimError::InvalidState(format!(
            "{} states have {n} values, got {}",
            env_of(goal),
            state.len()
        )));
    }
    if let Some(i) = state.iter().position(|v| !v.is_finite()) {
        return Err(SimError::InvalidState(format!(
            "state value {i} is not finite"
        )));
    }
    Ok(())
}

/// A full state showing `perceived`: CLEVR — balls at rest on the table at the perceived
/// (x, y), the rest (pusher, episode start, step counter) from `base_state`; Meta-World — hand
/// at rest at the perceived position (its target one sag above), fingers at the perceived
/// opening, the object at the perceived point (free objects translated — one seen between the
/// pads is centred between them and the pads opened to touch it —, jointed ones at the joint
/// position whose point is nearest), everything else from `base_state`.
/// `base_state` is usually the episode's reset state (`env.reset(seed, &instruction)`).
/// Builds a simulator for Meta-World; to convert many states use
/// [`super::Replayer::perceived_to_state`], which reuses its simulators.
pub fn perceived_to_state(
    goal: &GoalSpec,
    base_state: &[f32],
    perceived: &[f32],
) -> Result<Vec<f32>, SimError> {
    match goal {
        GoalSpec::Clevr(_) => {
            check_state(goal, base_state)?;
            check_perceived(EnvKind::Clevr, perceived)?;
            clevr_from_perceived(base_state, perceived)
        }
        GoalSpec::MetaWorld(g) => {
            check_state(goal, base_state)?;
            check_perceived(EnvKind::MetaWorld, perceived)?;
            let mut sims = Simulators::new();
            let env = sims.metaworld(g.task);
            env.reset(0, &instruction_of(goal))?;
            env.set_state(base_state)?;
            Ok(metaworld_from_perceived(env, base_state, perceived))
        }
    }
}

/// An instruction carrying `goal` (the text is never used by validation).
pub(crate) fn instruction_of(goal: &GoalSpec) -> Instruction {
    Instruction {
        text: "validation".into(),
        parts: InstructionParts {
            template: String::new(),
            target: String::new(),
            behavior: String::new(),
        },
        goal: goal.clone(),
        level: Level::Seen,
    }
}

pub(crate) fn check_perceived(env: EnvKind, perceived: &[f32]) -> Result<(), SimError> {
    if perceived.len() != perceived_len(env) || perceived.iter().any(|v| !v.is_finite()) {
        return Err(SimError::InvalidState(format!(
            "a perceived {env} state has {} finite values, got {perceived:?}",
            perceived_len(env)
        )));
    }
    Ok(())
}

/// CLEVR: `base_state` with the balls at rest at the perceived (x, y).
pub(crate) fn clevr_from_perceived(
    base_state: &[f32],
    perceived: &[f32],
) -> Result<Vec<f32>, SimError> {
    let mut w = WorldState::read(&base_state[..WorldState::LEN])?;
    for (i, b) in w.balls.iter_mut().enumerate() {
        *b = BallState::at_rest(perceived[2 * i], perceived[2 * i + 1]);
    }
    let mut out = Vec::with_capacity(base_state.len());
    w.write(&mut out);
    out.extend_from_slice(&base_state[WorldState::LEN..]);
    Ok(out)
}

/// How far (m) the pads sink into a held object under the 40 N squeeze in the simulator.
const GRASP_SQUEEZE: f32 = 0.006;

/// (radius, half height) of a task's free object, `None` for jointed objects.
pub(crate) fn free_object(task: Task) -> Option<(f32, f32)> {
    match task {
        Task::Reach | Task::Push | Task::PickPlace => Some(PUCK),
        Task::CoffeePush => Some(MUG),
        _ => None,
    }
}

/// Meta-World: `base_state` with hand, fingers and object set from `perceived`; `env` must hold
/// the base state (its layout gives the object's joint).
pub(crate) fn metaworld_from_perceived(
    env: &MetaWorldEnv,
    base_state: &[f32],
    perceived: &[f32],
) -> Vec<f32> {
    let mut phys = PhysState::read(&base_state[..PhysState::LEN]);
    let hand = Vec3::new(perceived[0], perceived[1], perceived[2]);
    phys.hand_pos = hand;
    phys.hand_vel = Vec3::ZERO;
    phys.mocap = hand + Vec3::new(0.0, 0.0, HAND_SAG);
    let mut half = (0.05 * perceived[3]).clamp(FINGER_RANGE[0], FINGER_RANGE[1]);
    let spec = &env.layout.object;
    let mut key = Vec3::new(perceived[4], perceived[5], perceived[6]);
    let free = free_object(env.task());
    if let Some((radius, height)) = free {
        // A free object between the pads sits centred between them, the pads no deeper in it
        // than the squeeze puts them: readout noise must not push a pad through it.
        let rel = key - (hand + Vec3::new(0.0, 0.0, PAD_Z));
        let between = rel.x.abs() < PAD_HALF[0] + radius
            && rel.y.abs() < half
            && rel.z.abs() < height + PAD_HALF[2];
        if between {
            key.y = hand.y;
            half = half.max(radius + PAD_HALF[1] - GRASP_SQUEEZE);
        }
    }
    for (f, sign) in phys.fingers.iter_mut().zip([1.0f32, -1.0]) {
        f.pos = hand + Vec3::new(0.0, sign * half, PAD_Z);
        f.rot = Quat::IDENTITY;
        f.linvel = Vec3::ZERO;
        f.angvel = Vec3::ZERO;
    }
    let (pos, rot) = if free.is_some() {
        let rot = phys.object.rot;
        (key - rot * spec.key_local, rot)
    } else {
        let current = spec.q_of(phys.object.pos, phys.object.rot);
        spec.pose_at(spec.nearest_q(key, current))
    };
    phys.object.pos = pos;
    phys.object.rot = rot;
    phys.object.linvel = Vec3::ZERO;
    phys.object.angvel = Vec3::ZERO;
    let mut out = Vec::with_capacity(base_state.len());
    phys.push(&mut out);
    out.extend_from_slice(&base_state[PhysState::LEN..]);
    out
}
