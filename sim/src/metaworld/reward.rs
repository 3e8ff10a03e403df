//! Pure success and v2-style shaped reward functions on a plain perceived state, so imagined
//! frames (e.g. positions read from a generated rollout) can be scored like real ones.
//! Units: metres, radians; rewards in [0, 10].

use serde::{Deserialize, Serialize};

use super::layout::{BUTTON_PRESS_DEPTH, PUCK_RADIUS};
use super::physics::TCP_OFFSET;
use super::task::Task;

/// What a frame shows, as the observation reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Perceived {
    /// Hand body position (m).
    pub hand: [f32; 3],
    /// Gripper opening in [0, 1] (1 open, ~0.3 closed on nothing).
    pub gripper: f32,
    /// The task object's observed point (puck, mug, button face, handle, lever tip) (m).
    pub object: [f32; 3],
    /// The object's joint position (slide m / hinge rad; 0 for free objects).
    pub joint: f32,
}

impl Perceived {
    /// Tool centre point: midpoint of the fingertips, 0.045 m below the hand.
    pub fn tcp(&self) -> [f32; 3] {
        [self.hand[0], self.hand[1], self.hand[2] - TCP_OFFSET]
    }
}

/// Per-episode constants the predicates need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpisodeContext {
    /// The goal point (possibly counterfactually offset) (m).
    pub goal: [f32; 3],
    /// The object's observed point at reset (m).
    pub object_init: [f32; 3],
    /// Hand position at reset (m).
    pub hand_init: [f32; 3],
}

/// Euclidean distance (m).
pub fn dist(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Sigmoid of the original's `tolerance`.
#[derive(Clone, Copy, Debug)]
pub enum Sigmoid {
    LongTail,
    Gaussian,
}

/// The original's `reward_utils.tolerance`: 1 inside `[lo, hi]`, decaying with the distance to
/// the nearest bound over `margin` (0.1 at one margin); 0 outside when `margin` is 0.
pub fn tolerance(x: f32, lo: f32, hi: f32, margin: f32, sigmoid: Sigmoid) -> f32 {
    if x >= lo && x <= hi {
        return 1.0;
    }
    if margin <= 0.0 {
        return 0.0;
    }
    let d = if x < lo { lo - x } else { x - hi } / margin;
    match sigmoid {
        Sigmoid::LongTail => 1.0 / ((3.0 * d).powi(2) + 1.0),
        Sigmoid::Gaussian => {
            let s = (-2.0 * 0.1f32.ln()).sqrt();
            (-0.5 * (d * s).powi(2)).exp()
        }
    }
}

/// Hamacher product `ab / (a + b - ab)` (0 when the denominator is 0).
pub fn hamacher(a: f32, b: f32) -> f32 {
    let den = a + b - a * b;
    if den <= 0.0 { 0.0 } else { a * b / den }
}

/// Joint travel that counts as success for articulated tasks (in the joint's units and sign).
pub fn success_travel(task: Task) -> f32 {
    match task {
        Task::ButtonPress => BUTTON_PRESS_DEPTH,
        Task::CoffeeButtonPress => 0.01,
        Task::DoorUnlock => std::f32::consts::FRAC_PI_2 - 0.34,
        Task::DoorOpen => 1.38,
        Task::WindowOpen => 0.19,
        Task::FaucetOpen => 1.17,
        _ => 1.0,
    }
}

/// Joint progress: 0 at the start, 1 at the success travel (articulated tasks; 0 otherwise).
pub fn progress(task: Task, joint: f32) -> f32 {
    let travel = match task {
        Task::DoorUnlock => std::f32::consts::FRAC_PI_2 - joint,
        Task::DoorOpen => -joint,
        Task::ButtonPress | Task::CoffeeButtonPress | Task::WindowOpen | Task::FaucetOpen => joint,
        _ => return 0.0,
    };
    travel / success_travel(task)
}

/// Full joint travel from the start to the far limit (articulated tasks; 1 otherwise).
pub fn full_travel(task: Task) -> f32 {
    match task {
        Task::ButtonPress => 0.09,
        Task::CoffeeButtonPress => 0.03,
        Task::DoorUnlock | Task::FaucetOpen => std::f32::consts::FRAC_PI_2,
        Task::DoorOpen => 2.0,
        Task::WindowOpen => 0.2,
        _ => 1.0,
    }
}

/// Fraction of the full joint travel covered (0 at the start, 1 at the far limit).
pub fn travel_fraction(task: Task, joint: f32) -> f32 {
    progress(task, joint) * success_travel(task) / full_travel(task)
}

/// Success threshold on the goal distance for position-goal tasks (m).
pub fn goal_radius(task: Task) -> f32 {
    match task {
        Task::PickPlace | Task::CoffeePush => 0.07,
        _ => 0.05,
    }
}

/// The task's success predicate (the original's `success` info) on `p` with goal `ctx.goal`.
pub fn success(task: Task, ctx: &EpisodeContext, p: &Perceived) -> bool {
    match task {
        Task::Reach => dist(p.tcp(), ctx.goal) <= 0.05,
        Task::Push | Task::PickPlace | Task::CoffeePush => {
            dist(p.object, ctx.goal) <= goal_radius(task)
        }
        Task::FaucetOpen => dist(p.object, ctx.goal) <= 0.07,
        _ => progress(task, p.joint) >= 1.0,
    }
}

/// Gripper caging term (simplified from the original's `_gripper_caging_reward`): pads around
/// the object along y, TCP over it in x-z, and the gripper closed once caged. In [0, 1].
fn caging(ctx: &EpisodeContext, p: &Perceived, obj_radius: f32) -> f32 {
    let tcp = p.tcp();
    let half = p.gripper * 0.05;
    let pad_r = tcp[1] + half;
    let pad_l = tcp[1] - half;
    let margin_r = (ctx.object_init[1] - (ctx.hand_init[1] + 0.05))
        .abs()
        .max(0.01);
    let margin_l = (ctx.object_init[1] - (ctx.hand_init[1] - 0.05))
        .abs()
        .max(0.01);
    let cage_r = tolerance(
        pad_r - p.object[1],
        obj_radius,
        obj_radius + 0.05,
        margin_r,
        Sigmoid::LongTail,
    );
    let cage_l = tolerance(
        p.object[1] - pad_l,
        obj_radius,
        obj_radius + 0.05,
        margin_l,
        Sigmoid::LongTail,
    );
    let cage_y = hamacher(cage_r, cage_l);
    let xz = ((tcp[0] - p.object[0]).powi(2) + (tcp[2] - p.object[2]).powi(2)).sqrt();
    let xz_init = ((ctx.hand_init[0] - ctx.object_init[0]).powi(2)
        + (ctx.hand_init[2] - TCP_OFFSET - ctx.object_init[2]).powi(2))
    .sqrt();
    let cage_xz = tolerance(xz, 0.0, 0.01, xz_init.max(0.01), Sigmoid::LongTail);
    let cage = hamacher(cage_y, cage_xz);
    let closed = (1.0 - p.gripper).clamp(0.0, 1.0);
    let gripping = if cage > 0.97 { closed } else { 0.0 };
    (cage + hamacher(cage, gripping)) / 2.0
}

/// The task's shaped reward (v2 style, max 10) on `p` with goal `ctx.goal`.
pub fn reward(task: Task, ctx: &EpisodeContext, p: &Perceived) -> f32 {
    let tcp = p.tcp();
    let long = Sigmoid::LongTail;
    match task {
        Task::Reach => {
            let margin = dist(ctx.hand_init, ctx.goal);
            10.0 * tolerance(dist(tcp, ctx.goal), 0.0, 0.05, margin, long)
        }
        Task::Push | Task::PickPlace | Task::CoffeePush => {
            let radius = goal_radius(task);
            let obj_r = if task == Task::CoffeePush {
                0.04
            } else {
                PUCK_RADIUS
            };
            let to_goal = dist(p.object, ctx.goal);
            let in_place = tolerance(to_goal, 0.0, 0.05, dist(ctx.object_init, ctx.goal), long);
            let grasped = caging(ctx, p, obj_r);
            let mut r = if task == Task::Push {
                2.0 * grasped
            } else {
                hamacher(grasped, in_place)
            };
            let lifted = task != Task::PickPlace || p.object[2] - 0.01 > ctx.object_init[2];
            if dist(tcp, p.object) < 0.02 + obj_r && p.gripper < 0.9 && lifted {
                r += 1.0 + 5.0 * in_place;
            }
            if to_goal < radius { 10.0 } else { r.min(10.0) }
        }
        Task::ButtonPress | Task::CoffeeButtonPress => {
            let near_margin = dist(
                ctx.object_init,
                [
                    ctx.hand_init[0],
                    ctx.hand_init[1],
                    ctx.hand_init[2] - TCP_OFFSET,
                ],
            );
            let to_button = dist(tcp, p.object);
            let near = tolerance(to_button, 0.0, 0.05, near_margin, long);
            let pressed = tolerance(1.0 - progress(task, p.joint).min(1.0), 0.0, 0.0, 1.0, long);
            let open = p.gripper.clamp(0.0, 1.0);
            let mut r = 2.0 * hamacher(open.max(1.0 - open), near);
            if to_button <= 0.12 {
                r += 8.0 * pressed;
            }
            if success(task, ctx, p) {
                10.0
            } else {
                r.min(10.0)
            }
        }
        _ => {
            // Articulated tasks: reach the handle, then move the joint.
            let margin = dist(ctx.object_init, tcp_init(ctx)).max(0.05);
            let reach = tolerance(dist(tcp, p.object), 0.0, 0.05, margin, long);
            let prog = progress(task, p.joint).clamp(0.0, 1.0);
            let in_place = tolerance(1.0 - prog, 0.0, 0.0, 1.0, long);
            let r = match task {
                Task::WindowOpen => 10.0 * hamacher(reach, in_place),
                Task::FaucetOpen => 2.0 * (2.0 * reach + 3.0 * in_place),
                _ => 2.0 * reach + 8.0 * in_place,
            };
            if success(task, ctx, p) {
                10.0
            } else {
                r.min(10.0)
            }
        }
    }
}

fn tcp_init(ctx: &EpisodeContext) -> [f32; 3] {
    [
        ctx.hand_init[0],
        ctx.hand_init[1],
        ctx.hand_init[2] - TCP_OFFSET,
    ]
}
