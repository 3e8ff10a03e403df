//! Checks on full states: interpenetration, out-of-workspace and floating (see [`super::height`])
//! per state, teleport per transition. Pure functions of [`Snapshot`]s (see [`Replayer::snapshot`]).

use glam::{Quat, Vec3};

use super::config::ValidatorConfig;
use super::reason::{Reason, Violation};
use super::replay::{Replayer, Snapshot};
use crate::clevr::physics::{BALL_RADIUS, NUM_BALLS, REACH_X, REACH_Y, TABLE_Z};
use crate::metaworld::physics::{HAND_OMEGA, HAND_SAG, HAND_ZETA, PAD_HALF, STEP_DT};
use crate::metaworld::{ACTION_SCALE, Task};
use crate::{Action, GoalSpec, SimError};

/// Highest a CLEVR ball centre can be: the top of the walls (m).
pub const CLEVR_MAX_Z: f32 = TABLE_Z + 0.6;
/// Meta-World table area inside its walls (x, y) and the highest object point (m).
pub const METAWORLD_TABLE_X: [f32; 2] = [-0.68, 0.68];
pub const METAWORLD_TABLE_Y: [f32; 2] = [0.22, 0.98];
pub const METAWORLD_MAX_Z: f32 = 0.6;
pub use super::objects::{MUG, PUCK};

fn v(a: [f32; 3]) -> Vec3 {
    Vec3::from(a)
}

/// Interpenetration, workspace and floating violations of one state (`step` = state index).
pub fn check_snapshot(step: usize, snap: &Snapshot, cfg: &ValidatorConfig) -> Vec<Violation> {
    let mut out = super::height::check_heights(step, snap, cfg);
    let tol = cfg.overlap_tolerance_m;
    let margin = cfg.workspace_margin_m;
    match snap {
        Snapshot::Clevr { balls } => {
            for i in 0..NUM_BALLS {
                for j in i + 1..NUM_BALLS {
                    let pen = 2.0 * BALL_RADIUS - (v(balls[i]) - v(balls[j])).length();
                    if pen > tol {
                        out.push(Violation::new(
                            step,
                            Reason::Interpenetration,
                            pen,
                            format!("balls {i} and {j} overlap by {pen:.3} m"),
                        ));
                    }
                }
            }
            for (i, b) in balls.iter().enumerate() {
                let pen = TABLE_Z - (b[2] - BALL_RADIUS);
                if pen > tol {
                    out.push(Violation::new(
                        step,
                        Reason::Interpenetration,
                        pen,
                        format!("ball {i} is {pen:.3} m inside the table"),
                    ));
                }
                let beyond = [
                    REACH_X[0] - b[0],
                    b[0] - REACH_X[1],
                    REACH_Y[0] - b[1],
                    b[1] - REACH_Y[1],
                    b[2] - CLEVR_MAX_Z,
                ]
                .into_iter()
                .fold(f32::MIN, f32::max);
                if beyond > margin {
                    out.push(Violation::new(
                        step,
                        Reason::OutOfWorkspace,
                        beyond,
                        format!(
                            "ball {i} at ({:.3}, {:.3}, {:.3}) is {beyond:.3} m beyond the walls",
                            b[0], b[1], b[2]
                        ),
                    ));
                }
            }
        }
        Snapshot::MetaWorld {
            task,
            hand,
            key,
            object,
            object_rot,
            pads,
            pad_rots,
            ..
        } => {
            let free = super::perceive::free_object(*task);
            if let Some((r, half)) = free {
                let c = v(*object);
                let axis = Quat::from_array(*object_rot).normalize() * Vec3::Z;
                let lowest =
                    c.z - axis.z.abs() * half - r * (1.0 - axis.z * axis.z).max(0.0).sqrt();
                let pen = -lowest;
                if pen > tol {
                    out.push(Violation::new(
                        step,
                        Reason::Interpenetration,
                        pen,
                        format!("the object is {pen:.3} m inside the table"),
                    ));
                }
                for (f, (p, q)) in pads.iter().zip(pad_rots).enumerate() {
                    let pen = pad_penetration(c, r, half, v(*p), Quat::from_array(*q));
                    if pen > cfg.gripper_tolerance_m {
                        let side = if f == 0 { "right" } else { "left" };
                        out.push(Violation::new(
                            step,
                            Reason::Interpenetration,
                            pen,
                            format!("the object is {pen:.3} m inside the {side} finger"),
                        ));
                    }
                }
            } else if -key[2] > tol {
                out.push(Violation::new(
                    step,
                    Reason::Interpenetration,
                    -key[2],
                    format!("the object point is {:.3} m below the table", -key[2]),
                ));
            }
            let (lo, hi) = task.hand_bounds();
            let hand_beyond = (0..3)
                .map(|i| (lo[i] - hand[i]).max(hand[i] - hi[i]))
                .fold(f32::MIN, f32::max);
            if hand_beyond > margin {
                out.push(Violation::new(
                    step,
                    Reason::OutOfWorkspace,
                    hand_beyond,
                    format!("the hand at {hand:?} is {hand_beyond:.3} m outside its bounds"),
                ));
            }
            let key_beyond = [
                METAWORLD_TABLE_X[0] - key[0],
                key[0] - METAWORLD_TABLE_X[1],
                METAWORLD_TABLE_Y[0] - key[1],
                key[1] - METAWORLD_TABLE_Y[1],
                key[2] - METAWORLD_MAX_Z,
            ]
            .into_iter()
            .fold(f32::MIN, f32::max);
            if key_beyond > margin {
                out.push(Violation::new(
                    step,
                    Reason::OutOfWorkspace,
                    key_beyond,
                    format!("the object point {key:?} is {key_beyond:.3} m outside the table area"),
                ));
            }
        }
    }
    out
}

/// How deep (m) a finger pad reaches into an upright cylinder (centre `c`, radius `r`, half
/// height `half`): the radius minus the distance from the cylinder's axis to the pad's
/// footprint, plus the axis' depth inside the footprint, when their heights overlap; else 0.
fn pad_penetration(c: Vec3, r: f32, half: f32, pad: Vec3, rot: Quat) -> f32 {
    if (c.z - pad.z).abs() >= half + PAD_HALF[2] {
        return 0.0;
    }
    let local = rot.normalize().inverse() * (c - pad);
    let (ex, ey) = (local.x.abs() - PAD_HALF[0], local.y.abs() - PAD_HALF[1]);
    let outside = (ex.max(0.0).powi(2) + ey.max(0.0).powi(2)).sqrt();
    // Inside the footprint: the depth to its nearest side counts too.
    let inside = (-ex.max(ey)).max(0.0);
    (r - outside + inside).max(0.0)
}

/// The positions whose displacement is bounded: CLEVR balls; Meta-World hand and object point.
fn tracked(snap: &Snapshot) -> Vec<(String, Vec3)> {
    match snap {
        Snapshot::Clevr { balls } => balls
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("ball {i}"), v(*b)))
            .collect(),
        Snapshot::MetaWorld { hand, key, .. } => {
            vec![("hand".into(), v(*hand)), ("object".into(), v(*key))]
        }
    }
}

/// Teleport violations between consecutive snapshots (`step` = transition index k): any
/// tracked position moving more than [`ValidatorConfig::teleport_threshold`] of `h` steps.
pub fn check_teleports(snaps: &[Snapshot], h: usize, cfg: &ValidatorConfig) -> Vec<Violation> {
    let limit = cfg.teleport_threshold(h);
    let mut out = Vec::new();
    for (k, pair) in snaps.windows(2).enumerate() {
        let (a, b) = (tracked(&pair[0]), tracked(&pair[1]));
        let worst = a
            .iter()
            .zip(&b)
            .map(|((name, p), (_, q))| (name, (*q - *p).length()))
            .max_by(|x, y| x.1.total_cmp(&y.1));
        if let Some((name, d)) = worst
            && d > limit
        {
            out.push(Violation::new(
                k,
                Reason::Teleport,
                d,
                format!(
                    "{name} moved {d:.3} m in {h} env step(s); at most {limit:.3} m is plausible"
                ),
            ));
        }
    }
    out
}

/// Interpenetration, workspace and teleport violations of a rollout's full states.
pub fn check_states(
    replayer: &mut Replayer,
    goal: &GoalSpec,
    states: &[Vec<f32>],
    h: usize,
    cfg: &ValidatorConfig,
) -> Result<Vec<Violation>, SimError> {
    let snaps = states
        .iter()
        .map(|s| replayer.snapshot(goal, s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out: Vec<Violation> = snaps
        .iter()
        .enumerate()
        .flat_map(|(j, s)| check_snapshot(j, s, cfg))
        .collect();
    out.extend(check_teleports(&snaps, h, cfg));
    Ok(out)
}

/// Dynamics-replay violations of every transition (`actions[k]` takes `states[k]` to
/// `states[k + 1]`, held for `h` env steps). Perceived Meta-World states get the hand velocity
/// of the previous action (see `warm_started_hand`).
pub fn check_dynamics(
    replayer: &mut Replayer,
    goal: &GoalSpec,
    states: &[Vec<f32>],
    actions: &[Action],
    h: usize,
    cfg: &ValidatorConfig,
) -> Result<Vec<Violation>, SimError> {
    if actions.len() + 1 != states.len() {
        return Err(SimError::InvalidState(format!(
            "a rollout with {} actions needs {} states, got {}",
            actions.len(),
            actions.len() + 1,
            states.len()
        )));
    }
    let mut out = Vec::new();
    for (k, a) in actions.iter().enumerate() {
        let from = match (goal, k.checked_sub(1)) {
            (GoalSpec::MetaWorld(g), Some(prev)) => {
                warm_started_hand(g.task, &states[k], &actions[prev])
            }
            _ => None,
        };
        let s_k = from.as_deref().unwrap_or(&states[k]);
        match replayer.check_transition(goal, k, s_k, a, &states[k + 1], h, cfg) {
            Ok(Some(v)) => out.push(v),
            Ok(None) => {}
            // The rollout's own verdict, not the run's failure; later transitions start from
            // states just as far out, so the replay stops here.
            Err(SimError::PhysicsDiverged(m)) => {
                out.push(Violation::new(k, Reason::Diverged, 0.0, m));
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// A perceived Meta-World state (hand velocity exactly zero, as [`super::perceived_to_state`]
/// builds it) after its first keyframe: the hand is assumed to be tracking the previous action
/// at steady state — moving at `a * ACTION_SCALE / STEP_DT` with its target leading it by the
/// spring's lag `2 zeta / omega` times that speed (clamped to the task's bounds). `None` for
/// states that carry a velocity (true simulator states) or other environments.
fn warm_started_hand(task: Task, state: &[f32], prev: &Action) -> Option<Vec<f32>> {
    let Action::Continuous(a) = prev else {
        return None;
    };
    if state[3..6].iter().any(|v| *v != 0.0) {
        return None;
    }
    let d = Vec3::new(a[0], a[1], a[2]).clamp(Vec3::splat(-1.0), Vec3::splat(1.0));
    let v = d * (ACTION_SCALE / STEP_DT);
    let hand = Vec3::new(state[0], state[1], state[2]);
    let (lo, hi) = task.hand_bounds();
    let mocap = (hand + Vec3::new(0.0, 0.0, HAND_SAG) + v * (2.0 * HAND_ZETA / HAND_OMEGA))
        .clamp(Vec3::from(lo), Vec3::from(hi));
    let mut s = state.to_vec();
    s[3..6].copy_from_slice(&v.to_array());
    s[6..9].copy_from_slice(&mocap.to_array());
    Some(s)
}

/// All state checks and the dynamics replay of one rollout, sorted by step then reason.
pub fn check_rollout(
    replayer: &mut Replayer,
    goal: &GoalSpec,
    states: &[Vec<f32>],
    actions: &[Action],
    h: usize,
    cfg: &ValidatorConfig,
) -> Result<Vec<Violation>, SimError> {
    let mut out = check_states(replayer, goal, states, h, cfg)?;
    out.extend(check_dynamics(replayer, goal, states, actions, h, cfg)?);
    out.sort_by_key(|v| (v.step, v.reason));
    Ok(out)
}
