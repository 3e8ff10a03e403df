//! The height check: every object rests on the table or on something that holds it up.
//! CLEVR balls rest on the table or on another ball; a Meta-World free object (puck, mug)
//! rests on the table or is held between the gripper's pads, or (true states) is falling. Jointed Meta-World objects hang
//! on their joint and are not checked. Pure functions of a [`Snapshot`].

use glam::{Quat, Vec3};

use super::config::ValidatorConfig;
use super::perceive::free_object;
use super::reason::{Reason, Violation};
use super::replay::Snapshot;
use crate::clevr::physics::{BALL_RADIUS, TABLE_Z};
use crate::metaworld::physics::PAD_HALF;

/// Floating violations of one state (`step` = state index): an object higher than
/// [`ValidatorConfig::height_tolerance_m`] above its resting height with no support.
pub fn check_heights(step: usize, snap: &Snapshot, cfg: &ValidatorConfig) -> Vec<Violation> {
    let tol = cfg.height_tolerance_m;
    let mut out = Vec::new();
    match snap {
        Snapshot::Clevr { balls } => {
            for (i, b) in balls.iter().enumerate() {
                let above = b[2] - (TABLE_Z + BALL_RADIUS);
                if above <= tol {
                    continue;
                }
                let p = Vec3::from(*b);
                // Resting on another ball: touching it, its centre at least a radius lower
                // (a ball merely beside another is not held up by it).
                let supported = balls.iter().enumerate().any(|(j, o)| {
                    let q = Vec3::from(*o);
                    j != i
                        && p.z - q.z >= BALL_RADIUS
                        && ((p - q).length() - 2.0 * BALL_RADIUS).abs() <= tol
                });
                if !supported {
                    out.push(Violation::new(
                        step,
                        Reason::Floating,
                        above,
                        format!(
                            "ball {i} hovers {above:.3} m above the table with nothing under it"
                        ),
                    ));
                }
            }
        }
        Snapshot::MetaWorld { .. } => {
            let falling = matches!(snap, Snapshot::MetaWorld { object_vel, .. } if object_vel[2] < -FALLING_MPS);
            if let Some((lowest, false)) = free_object_support(snap, cfg.held_slack_m)
                && lowest > tol
                && !falling
            {
                out.push(Violation::new(
                    step,
                    Reason::Floating,
                    lowest,
                    format!(
                        "the object hovers {lowest:.3} m above the table, not between the gripper's pads (vertical speed {:.2} m/s)",
                        match snap {
                            Snapshot::MetaWorld { object_vel, .. } => object_vel[2],
                            Snapshot::Clevr { .. } => 0.0,
                        }
                    ),
                ));
            }
        }
    }
    out
}

/// A free object sinking faster than this (m/s) is in flight (dropped, knocked off), not
/// floating; only true states carry velocities (a lifted object keeps its resting one).
pub const FALLING_MPS: f32 = 0.05;

/// A Meta-World free object's lowest point above the table top (m) and whether it is held
/// between the pads (`slack` m of play, see [`ValidatorConfig::held_slack_m`]); `None` for
/// CLEVR and jointed objects.
pub fn free_object_support(snap: &Snapshot, slack: f32) -> Option<(f32, bool)> {
    let Snapshot::MetaWorld {
        task,
        object,
        object_rot,
        pads,
        ..
    } = snap
    else {
        return None;
    };
    let (r, half) = free_object(*task)?;
    let c = Vec3::from(*object);
    let axis = Quat::from_array(*object_rot).normalize() * Vec3::Z;
    let lowest = c.z - axis.z.abs() * half - r * (1.0 - axis.z * axis.z).max(0.0).sqrt();
    Some((lowest, held(c, r, half, pads, slack)))
}

/// Whether an upright cylinder (centre `c`, radius `r`, half height `half`) sits between the
/// two pads: level with them, within their width along x, between them along y, and the pads
/// no farther apart than the object's diameter plus `slack` on each side (closed on it).
fn held(c: Vec3, r: f32, half: f32, pads: &[[f32; 3]; 2], slack: f32) -> bool {
    let (a, b) = (Vec3::from(pads[0]), Vec3::from(pads[1]));
    let level = [a, b]
        .iter()
        .all(|p| (c.z - p.z).abs() <= half + PAD_HALF[2] + slack);
    let along_x = [a, b]
        .iter()
        .all(|p| (c.x - p.x).abs() <= r + PAD_HALF[0] + slack);
    let (lo, hi) = (a.y.min(b.y), a.y.max(b.y));
    let between = c.y >= lo - slack && c.y <= hi + slack;
    let closed = hi - lo <= 2.0 * (r + PAD_HALF[1] + slack);
    level && along_x && between && closed
}
