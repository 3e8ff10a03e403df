//! The fault injector: puts one known physics fault into a rollout (full states per keyframe,
//! optional frames), so the validator's recall can be measured. Each fault returns where it
//! was put and the [`Reason`] a correct validator gives for it. Faults persist from their step
//! on (the later states carry the same fault), like a world model that drifted.

use glam::Vec3;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

use super::config::ValidatorConfig;
use super::height::free_object_support;
use super::labels::Labels;
use super::perceive::check_state;
use super::reason::Reason;
use super::replay::Replayer;
use crate::clevr::goal::SUCCESS_REWARD;
use crate::clevr::physics::{BALL_RADIUS, BALL_Z, DIRECTIONS, REACH_X, REACH_Y, TABLE_Z};
use crate::metaworld::physics::PhysState;
use crate::metaworld::{MetaWorldGoal, Task};
use crate::{Action, Env, GoalSpec, SimError};

/// A fault kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// CLEVR: one ball put onto another (Meta-World scenes have one object: not applicable).
    Overlap,
    /// An object (Meta-World: the free object, else the hand) jumps by >= 0.3 m.
    Teleport,
    /// CLEVR: a different ball than the pushed one moves; Meta-World: the object moves while
    /// the hand is far from it.
    WrongBall,
    /// Frame k repeated at k + 1 where the state changes (frames required).
    FrozenFrame,
    /// A ball / the object put below the table surface.
    ThroughTable,
    /// A ball / the free object lifted 5 to 10 cm above the table, nothing holding it up
    /// (Meta-World: a state where it rests on the table; jointed objects: not applicable).
    Lift,
    /// One transition's reward, success or terminal label rewritten (labels required).
    Relabel,
    /// Two objects' colours swapped in the frames from some step on (frames required; drawn
    /// by the renderer, so injected by `vlgor check`, not by [`inject`]).
    ColorSwap,
}

impl Fault {
    pub const ALL: [Fault; 8] = [
        Fault::Overlap,
        Fault::Teleport,
        Fault::WrongBall,
        Fault::FrozenFrame,
        Fault::ThroughTable,
        Fault::Lift,
        Fault::Relabel,
        Fault::ColorSwap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::Overlap => "overlap",
            Fault::Teleport => "teleport",
            Fault::WrongBall => "wrong-ball",
            Fault::FrozenFrame => "frozen-frame",
            Fault::ThroughTable => "through-table",
            Fault::Lift => "lift",
            Fault::Relabel => "relabel",
            Fault::ColorSwap => "color-swap",
        }
    }

    /// The reason a correct validator gives for this fault.
    pub fn reason(self) -> Reason {
        match self {
            Fault::Overlap | Fault::ThroughTable => Reason::Interpenetration,
            Fault::Teleport => Reason::Teleport,
            Fault::WrongBall => Reason::DynamicsReplay,
            Fault::FrozenFrame | Fault::ColorSwap => Reason::FrameConsistency,
            Fault::Lift => Reason::Floating,
            Fault::Relabel => Reason::Label,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| SimError::unknown("fault", s, &Fault::ALL.map(Fault::name)))
    }
}

/// Where a fault was put: `step` uses [`super::Violation::step`]'s convention for `reason`
/// (state / frame index, or transition index for teleport and dynamics replay).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Injected {
    pub fault: Fault,
    pub step: usize,
    pub reason: Reason,
}

#[derive(Debug, Error)]
pub enum InjectError {
    /// The fault cannot be put into this rollout (names why).
    #[error("cannot inject {fault}: {why}")]
    NotApplicable { fault: Fault, why: String },
    #[error(transparent)]
    Sim(#[from] SimError),
}

/// A rollout to put a fault into: full states per keyframe, `actions[k]` taking state k to
/// k + 1 (held `steps_per_action` env steps), frames (u8 H×W×3 per keyframe) and labels when
/// present.
pub struct FaultTarget<'a> {
    pub goal: &'a GoalSpec,
    pub states: &'a mut [Vec<f32>],
    pub actions: &'a [Action],
    pub frames: Option<&'a mut [Vec<u8>]>,
    pub labels: Option<&'a mut Labels>,
    pub steps_per_action: usize,
}

const TRIES: usize = 400;
/// How high (m) a lifted object goes above its resting height.
pub const LIFT_M: [f32; 2] = [0.05, 0.10];

/// Puts `fault` into `target` at a random step drawn from `rng`.
pub fn inject(
    fault: Fault,
    target: FaultTarget<'_>,
    replayer: &mut Replayer,
    cfg: &ValidatorConfig,
    rng: &mut dyn RngCore,
) -> Result<Injected, InjectError> {
    for s in target.states.iter() {
        check_state(target.goal, s)?;
    }
    let n = target.states.len();
    if n < 2 {
        return Err(not_applicable(fault, "the rollout has no transition"));
    }
    let step = match (fault, target.goal) {
        (Fault::FrozenFrame, _) => frozen_frame(target)?,
        (Fault::Relabel, _) => relabel(target, rng)?,
        (Fault::ColorSwap, _) => {
            return Err(not_applicable(
                fault,
                "colour swaps are drawn by the renderer (vlgor check --inject color-swap)",
            ));
        }
        (_, GoalSpec::Clevr(_)) => clevr(fault, target, cfg, rng)?,
        (_, GoalSpec::MetaWorld(g)) => {
            let g = g.clone();
            metaworld(fault, &g, target, replayer, cfg, rng)?
        }
    };
    Ok(Injected {
        fault,
        step,
        reason: fault.reason(),
    })
}

fn not_applicable(fault: Fault, why: impl Into<String>) -> InjectError {
    InjectError::NotApplicable {
        fault,
        why: why.into(),
    }
}

fn frozen_frame(t: FaultTarget<'_>) -> Result<usize, InjectError> {
    let fault = Fault::FrozenFrame;
    let n = t.states.len();
    let Some(frames) = t.frames else {
        return Err(not_applicable(
            fault,
            "the rollout has no frames (render them from the states first)",
        ));
    };
    if frames.len() != n {
        return Err(not_applicable(
            fault,
            format!("{} frames for {n} states", frames.len()),
        ));
    }
    // The transition whose frames differ most: the state visibly changes there.
    let diff =
        |a: &[u8], b: &[u8]| -> u64 { a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as u64).sum() };
    let (k, d) = (0..n - 1)
        .map(|k| (k, diff(&frames[k], &frames[k + 1])))
        .max_by_key(|(_, d)| *d)
        .unwrap_or((0, 0));
    if d == 0 {
        return Err(not_applicable(
            fault,
            "no frame differs from the one before it",
        ));
    }
    frames[k + 1] = frames[k].clone();
    Ok(k + 1)
}

/// Rewrites one transition's labels: its success flag flipped (CLEVR: the terminal flag with
/// it, the reward the goal's success reward or none), its terminal flag flipped, or its reward
/// moved by 0.5 to 5.
fn relabel(t: FaultTarget<'_>, rng: &mut dyn RngCore) -> Result<usize, InjectError> {
    let fault = Fault::Relabel;
    let n = t.states.len() - 1;
    let Some(labels) = t.labels else {
        return Err(not_applicable(fault, "the rollout has no labels"));
    };
    if labels.len() != n || labels.success.len() != n || labels.terminals.len() != n {
        return Err(not_applicable(
            fault,
            format!("{} labels for {n} transitions", labels.len()),
        ));
    }
    let k = rng.random_range(0..n);
    match rng.random_range(0..3) {
        0 => {
            let s = !labels.success[k];
            labels.success[k] = s;
            if let GoalSpec::Clevr(_) = t.goal {
                labels.terminals[k] = s;
                labels.rewards[k] = if s { SUCCESS_REWARD } else { 0.0 };
            }
        }
        1 => labels.terminals[k] = !labels.terminals[k],
        _ => {
            let d = rng.random_range(0.5..5.0);
            labels.rewards[k] += if rng.random_bool(0.5) { d } else { -d };
        }
    }
    Ok(k)
}

/// CLEVR ball `i`'s centre in a full state.
fn ball(s: &[f32], i: usize) -> Vec3 {
    Vec3::new(s[i * 13], s[i * 13 + 1], s[i * 13 + 2])
}

fn set_ball(s: &mut [f32], i: usize, p: Vec3) {
    s[i * 13..i * 13 + 3].copy_from_slice(&p.to_array());
}

fn in_reach(p: Vec3) -> bool {
    (REACH_X[0]..=REACH_X[1]).contains(&p.x) && (REACH_Y[0]..=REACH_Y[1]).contains(&p.y)
}

/// Whether ball `i` at `p` keeps clear of the other balls in state `s`.
fn clear_of_others(s: &[f32], i: usize, p: Vec3) -> bool {
    (0..5)
        .filter(|&j| j != i)
        .all(|j| (ball(s, j) - p).truncate().length() >= 2.0 * BALL_RADIUS + 0.01)
}

fn clevr(
    fault: Fault,
    t: FaultTarget<'_>,
    cfg: &ValidatorConfig,
    rng: &mut dyn RngCore,
) -> Result<usize, InjectError> {
    let n = t.states.len();
    match fault {
        Fault::Overlap => {
            let k = rng.random_range(1..n);
            let i = rng.random_range(0..5);
            let j = (i + rng.random_range(1..5)) % 5;
            let a = rng.random_range(0.0..std::f32::consts::TAU);
            let off = Vec3::new(a.cos(), a.sin(), 0.0) * rng.random_range(0.03..0.08);
            for s in &mut t.states[k..] {
                let p = ball(s, j) + off;
                set_ball(s, i, p);
            }
            Ok(k)
        }
        Fault::ThroughTable => {
            let k = rng.random_range(1..n);
            let i = rng.random_range(0..5);
            let depth = rng.random_range(0.0..BALL_RADIUS);
            for s in &mut t.states[k..] {
                let p = ball(s, i);
                set_ball(s, i, Vec3::new(p.x, p.y, TABLE_Z - depth));
            }
            Ok(k)
        }
        Fault::Lift => {
            let k = rng.random_range(1..n);
            let i = rng.random_range(0..5);
            let up = rng.random_range(LIFT_M[0]..LIFT_M[1]);
            for s in &mut t.states[k..] {
                let p = ball(s, i);
                set_ball(s, i, Vec3::new(p.x, p.y, BALL_Z + up));
            }
            Ok(k)
        }
        Fault::Teleport => {
            let limit = cfg.teleport_threshold(t.steps_per_action).max(0.3 / 1.25);
            for _ in 0..TRIES {
                let k = rng.random_range(1..n);
                let i = rng.random_range(0..5);
                let a = rng.random_range(0.0..std::f32::consts::TAU);
                let d = Vec3::new(a.cos(), a.sin(), 0.0)
                    * rng.random_range(1.25 * limit..1.25 * limit + 0.3);
                let p = ball(&t.states[k], i) + d;
                let jump = (p - ball(&t.states[k - 1], i)).length();
                if jump >= 1.25 * limit && in_reach(p) && clear_of_others(&t.states[k], i, p) {
                    for s in &mut t.states[k..] {
                        let q = ball(s, i) + d;
                        set_ball(s, i, q);
                    }
                    return Ok(k - 1);
                }
            }
            Err(not_applicable(
                fault,
                format!(
                    "no ball can jump {:.2} m inside the walls without hitting another",
                    1.25 * limit
                ),
            ))
        }
        Fault::WrongBall => {
            // The pushed ball stays where it was; another, untouched ball moves instead, far
            // enough for any replay to tell.
            let need = cfg.replay_detectable_m().max(0.1);
            let mut ks: Vec<usize> = (0..n - 1).collect();
            shuffle(&mut ks, rng);
            for k in ks {
                let Action::Discrete(a) = t.actions[k] else {
                    return Err(not_applicable(
                        fault,
                        "CLEVR rollouts need discrete actions",
                    ));
                };
                let pushed = a as usize / DIRECTIONS.len();
                let (s0, s1) = (&t.states[k], &t.states[k + 1]);
                let db = (ball(s1, pushed) - ball(s0, pushed)) * Vec3::new(1.0, 1.0, 0.0);
                if db.length() < 0.05 {
                    continue;
                }
                let mut others: Vec<usize> = (0..5)
                    .filter(|&j| j != pushed && (ball(s1, j) - ball(s0, j)).length() < 0.01)
                    .collect();
                shuffle(&mut others, rng);
                let mut next = t.states[k + 1].clone();
                set_ball(&mut next, pushed, ball(s1, pushed) - db);
                let found = others
                    .iter()
                    .flat_map(|&c| std::iter::repeat_n(c, 24))
                    .map(|c| {
                        let a = rng.random_range(0.0..std::f32::consts::TAU);
                        let len = rng.random_range(need..need + 0.1);
                        (c, Vec3::new(a.cos(), a.sin(), 0.0) * len)
                    })
                    .find(|&(c, d)| {
                        let p = ball(s1, c) + d;
                        in_reach(p) && clear_of_others(&next, c, p)
                    });
                if let Some((c, d)) = found {
                    for s in &mut t.states[k + 1..] {
                        let (pb, pc) = (ball(s, pushed) - db, ball(s, c) + d);
                        set_ball(s, pushed, pb);
                        set_ball(s, c, pc);
                    }
                    return Ok(k);
                }
            }
            Err(not_applicable(
                fault,
                "no push moved its ball while another ball was free to move instead",
            ))
        }
        Fault::FrozenFrame | Fault::Relabel | Fault::ColorSwap => {
            unreachable!("handled by inject")
        }
    }
}

fn shuffle<T>(v: &mut [T], rng: &mut dyn RngCore) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// Offsets of the Meta-World physical state (see `metaworld::STATE_LEN`).
const HAND: usize = 0;
const MOCAP: usize = 6;
const FINGERS: [usize; 2] = [10, 23];
const OBJECT: usize = 36;

fn get3(s: &[f32], o: usize) -> Vec3 {
    Vec3::new(s[o], s[o + 1], s[o + 2])
}

fn add3(s: &mut [f32], o: usize, d: Vec3) {
    let p = get3(s, o) + d;
    s[o..o + 3].copy_from_slice(&p.to_array());
}

fn metaworld(
    fault: Fault,
    goal: &MetaWorldGoal,
    t: FaultTarget<'_>,
    replayer: &mut Replayer,
    cfg: &ValidatorConfig,
    rng: &mut dyn RngCore,
) -> Result<usize, InjectError> {
    let n = t.states.len();
    let free = goal.task.has_free_object();
    let half = if goal.task == Task::CoffeePush {
        0.033
    } else {
        0.02
    };
    match fault {
        Fault::Overlap => Err(not_applicable(
            fault,
            format!(
                "a Meta-World scene has one object, so nothing can overlap it ({} has no second object); use through-table",
                goal.task
            ),
        )),
        Fault::ThroughTable => {
            let k = rng.random_range(1..n);
            let depth = rng.random_range(0.08..0.15);
            let env = replayer.metaworld_env(goal)?;
            for s in &mut t.states[k..] {
                env.set_state(s)?;
                // Lower the body until its observed point (free: its centre) is `depth` below
                // the table top; free objects go `depth` plus their height below.
                let key_z = env.perceived().object[2];
                let drop = key_z + depth + if free { half } else { 0.0 };
                add3(s, OBJECT, Vec3::new(0.0, 0.0, -drop));
            }
            Ok(k)
        }
        Fault::Lift => {
            if !free {
                return Err(not_applicable(
                    fault,
                    format!("the {} object hangs on its joint", goal.task),
                ));
            }
            let spec = GoalSpec::MetaWorld(goal.clone());
            let tol = cfg.height_tolerance_m;
            let mut ks: Vec<usize> = (1..n).collect();
            shuffle(&mut ks, rng);
            for k in ks {
                let snap = replayer.snapshot(&spec, &t.states[k])?;
                if !matches!(free_object_support(&snap, cfg.held_slack_m), Some((low, false)) if low <= tol)
                {
                    continue;
                }
                // Not lifted into the pads (that would be a grasp).
                let up = rng.random_range(LIFT_M[0]..LIFT_M[1]);
                let mut lifted = t.states[k].clone();
                add3(&mut lifted, OBJECT, Vec3::new(0.0, 0.0, up));
                let snap = replayer.snapshot(&spec, &lifted)?;
                if matches!(
                    free_object_support(&snap, cfg.held_slack_m),
                    Some((_, true))
                ) {
                    continue;
                }
                for s in &mut t.states[k..] {
                    add3(s, OBJECT, Vec3::new(0.0, 0.0, up));
                }
                return Ok(k);
            }
            Err(not_applicable(
                fault,
                "the object never rests on the table outside the gripper",
            ))
        }
        Fault::Teleport => {
            let jump = (1.25 * cfg.teleport_threshold(t.steps_per_action)).max(0.3);
            for _ in 0..TRIES {
                let k = rng.random_range(1..n);
                let a = rng.random_range(0.0..std::f32::consts::TAU);
                let d = Vec3::new(a.cos(), a.sin(), 0.0) * rng.random_range(jump..jump + 0.1);
                let s = &t.states[k];
                let (lo, hi) = goal.task.hand_bounds();
                let prev = &t.states[k - 1];
                let ok = if free {
                    let p = get3(s, OBJECT) + d;
                    (-0.6..=0.6).contains(&p.x)
                        && (0.3..=0.9).contains(&p.y)
                        && (p - get3(prev, OBJECT)).length() >= jump
                } else {
                    let p = get3(s, HAND) + d;
                    (lo[0]..=hi[0]).contains(&p.x)
                        && (lo[1]..=hi[1]).contains(&p.y)
                        && (p - get3(prev, HAND)).length() >= jump
                };
                if !ok {
                    continue;
                }
                for s in &mut t.states[k..] {
                    if free {
                        add3(s, OBJECT, d);
                    } else {
                        for o in [HAND, MOCAP, FINGERS[0], FINGERS[1]] {
                            add3(s, o, d);
                        }
                    }
                }
                return Ok(k - 1);
            }
            Err(not_applicable(
                fault,
                format!("no room for a {jump:.2} m jump"),
            ))
        }
        Fault::WrongBall => {
            let need = cfg.replay_detectable_m().max(0.1);
            let env = replayer.metaworld_env(goal)?;
            let mut ks: Vec<usize> = (0..n - 1).collect();
            shuffle(&mut ks, rng);
            for k in ks {
                env.set_state(&t.states[k])?;
                let p0 = env.perceived();
                env.set_state(&t.states[k + 1])?;
                let p1 = env.perceived();
                let far = |p: &crate::metaworld::Perceived| {
                    (Vec3::from(p.hand) - Vec3::from(p.object)).length() > 0.15
                };
                if !(far(&p0) && far(&p1)) {
                    continue;
                }
                let a = rng.random_range(0.0..std::f32::consts::TAU);
                if free {
                    let d = Vec3::new(a.cos(), a.sin(), 0.0) * rng.random_range(need..need + 0.05);
                    let p = get3(&t.states[k + 1], OBJECT) + d;
                    let hand = Vec3::from(p1.hand);
                    if !((-0.6..=0.6).contains(&p.x) && (0.3..=0.9).contains(&p.y))
                        || (hand - p).length() < 0.15
                    {
                        continue;
                    }
                    for s in &mut t.states[k + 1..] {
                        add3(s, OBJECT, d);
                    }
                    return Ok(k);
                }
                // A jointed object: turn / slide it until its point moves `need`.
                let spec = &env.layout.object;
                let phys = PhysState::read(&t.states[k + 1][..PhysState::LEN]);
                let q = spec.q_of(phys.object.pos, phys.object.rot);
                let key_at = |q: f32| {
                    let (p, r) = spec.pose_at(q);
                    p + r * spec.key_local
                };
                let k0 = key_at(q);
                let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                let dq = (1..=200)
                    .map(|i| sign * 0.005 * i as f32)
                    .find(|dq| (key_at(q + dq) - k0).length() >= need);
                let Some(dq) = dq else { continue };
                for s in &mut t.states[k + 1..] {
                    let phys = PhysState::read(&s[..PhysState::LEN]);
                    let qs = spec.q_of(phys.object.pos, phys.object.rot);
                    let (p, r) = spec.pose_at(qs + dq);
                    s[OBJECT..OBJECT + 3].copy_from_slice(&p.to_array());
                    s[OBJECT + 3..OBJECT + 7].copy_from_slice(&r.to_array());
                }
                return Ok(k);
            }
            Err(not_applicable(
                fault,
                "the hand is never 0.15 m from the object over a transition (or no room to move it)",
            ))
        }
        Fault::FrozenFrame | Fault::Relabel | Fault::ColorSwap => {
            unreachable!("handled by inject")
        }
    }
}
