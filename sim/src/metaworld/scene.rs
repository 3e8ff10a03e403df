//! The drawable scene of a Meta-World state: table and walls, the task's fixtures and object,
//! the goal marker, the Sawyer arm (primitives posed by inverse kinematics that follows the
//! simulated hand; visual only) and the gripper (palm and finger pads as simulated).
//!
//! Cameras: `corner4` (default; (0.75, 0.075, 0.7), fovy 60, the classic corner orientation,
//! right side up), `topview` ((0, 0.5, 1.5) looking down, fovy 45, +y up in the image) and
//! `corner2` ((1.3, -0.2, 1.1), fovy 60).

use glam::{Quat, Vec3};

use super::arm::{self, HEAD_HALF, LINK_HALF};
use super::layout::Layout;
use super::physics::{PAD_HALF, PALM_HALF, PALM_Z, PhysState};
use super::task::Task;
use crate::SimError;
use crate::scene::{Camera, Light, Scene, Shape, ShapeKind};

/// Camera preset names; the first is the default.
pub const CAMERAS: &[&str] = &["corner4", "topview", "corner2"];

const SAWYER_RED: [f32; 3] = [0.55, 0.04, 0.04];
const JOINT_GREY: [f32; 3] = [0.15, 0.15, 0.17];
const GRIPPER_GREY: [f32; 3] = [0.3, 0.3, 0.32];

/// The camera preset `name`, if it exists.
pub fn camera(name: &str) -> Option<Camera> {
    // The corner cameras share one orientation: from corner2 towards the table centre.
    let corner_dir = Vec3::new(-1.3, 0.8, -1.0);
    let corner = |eye: Vec3, k: f32| Camera {
        eye: eye.to_array(),
        target: (eye + corner_dir * k).to_array(),
        up: [0.0, 0.0, 1.0],
        fovy_deg: 60.0,
    };
    match name {
        "corner4" => Some(corner(Vec3::new(0.75, 0.075, 0.7), 0.6)),
        "corner2" => Some(corner(Vec3::new(1.3, -0.2, 1.1), 1.0)),
        "topview" => Some(Camera {
            eye: [0.0, 0.5, 1.5],
            target: [0.0, 0.5, 0.0],
            up: [0.0, 1.0, 0.0],
            fovy_deg: 45.0,
        }),
        _ => None,
    }
}

fn shape(kind: ShapeKind, pos: Vec3, rot: Quat, color: [f32; 3]) -> Shape {
    Shape::new(kind, pos.to_array(), color).with_rotation(rot.to_array())
}

/// A capsule from `a` to `b`.
fn segment(a: Vec3, b: Vec3, radius: f32, color: [f32; 3]) -> Shape {
    let half = (b - a).length() / 2.0;
    shape(
        ShapeKind::Capsule {
            half_height: half,
            radius,
        },
        (a + b) / 2.0,
        arm::z_to(b - a),
        color,
    )
}

fn goal_color(task: Task) -> [f32; 3] {
    match task {
        Task::Reach => [0.1, 0.8, 0.1],
        Task::Push | Task::PickPlace | Task::CoffeePush => [0.1, 0.6, 0.9],
        _ => [0.9, 0.8, 0.1],
    }
}

/// What a scene is drawn from: the environment's layout and current physical state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SceneView<'a> {
    pub task: Task,
    pub layout: &'a Layout,
    pub phys: &'a PhysState,
    /// Goal point of the current stage (drawn as a marker).
    pub goal_point: [f32; 3],
    /// Warm start of the arm's inverse kinematics, updated by every draw (visual only).
    pub arm_q: &'a std::sync::Mutex<[f32; 7]>,
}

/// The Sawyer arm posed by IK so that its hand frame sits at the simulated hand.
fn arm_shapes(env: &SceneView, out: &mut Vec<Shape>) {
    let hand = env.phys.hand_pos;
    let q = {
        let mut guard = env.arm_q.lock().unwrap_or_else(|e| e.into_inner());
        let q = arm::solve(hand, arm::warm_start(hand, *guard));
        *guard = q;
        q
    };
    let (links, (hand_frame, _)) = arm::forward(&q);
    // Pedestal and base.
    out.push(shape(
        ShapeKind::Cylinder {
            half_height: 0.3,
            radius: 0.09,
        },
        Vec3::new(0.0, 0.0, -0.22),
        Quat::IDENTITY,
        JOINT_GREY,
    ));
    out.push(shape(
        ShapeKind::Cylinder {
            half_height: 0.04,
            radius: 0.12,
        },
        Vec3::new(0.0, 0.0, 0.04),
        Quat::IDENTITY,
        JOINT_GREY,
    ));
    for i in 0..7 {
        let (p, r) = links[i];
        let next = if i < 6 {
            links[i + 1].0
        } else {
            hand_frame + Vec3::new(0.0, 0.0, 0.12)
        };
        let h = LINK_HALF[i];
        let thick = h[0].min(h[1]);
        // Joint housing: a drum about the joint axis (local z).
        out.push(shape(
            ShapeKind::Cylinder {
                half_height: thick * 0.9,
                radius: thick * 1.05,
            },
            p,
            r,
            if i % 2 == 0 { SAWYER_RED } else { JOINT_GREY },
        ));
        if (next - p).length() > 1e-3 {
            out.push(segment(p, next, thick * 0.8, SAWYER_RED));
        }
    }
    // Head (screen) above the shoulder, turning with joint 0.
    let (p0, r0) = links[0];
    out.push(
        shape(
            ShapeKind::Box {
                half_extents: HEAD_HALF,
            },
            p0 + Vec3::new(0.0, 0.0, 0.55),
            r0,
            JOINT_GREY,
        )
        .with_specular(0.6),
    );
    // Wrist to gripper base.
    out.push(segment(
        hand_frame + Vec3::new(0.0, 0.0, 0.12),
        hand + Vec3::new(0.0, 0.0, PALM_Z + PALM_HALF[2]),
        0.03,
        JOINT_GREY,
    ));
}

/// The scene of `env`'s current state from camera preset `camera_name`.
pub(crate) fn build_scene(env: &SceneView, camera_name: &str) -> Result<Scene, SimError> {
    let camera =
        camera(camera_name).ok_or_else(|| SimError::unknown("camera", camera_name, CAMERAS))?;
    let mut shapes = Vec::with_capacity(64);
    for part in &env.layout.fixtures {
        shapes.push(shape(part.kind, part.pos, part.rot, part.color));
    }
    let o = &env.phys.object;
    for part in &env.layout.object.parts {
        shapes.push(
            shape(
                part.kind,
                o.pos + o.rot * part.pos,
                o.rot * part.rot,
                part.color,
            )
            .with_specular(0.3),
        );
    }
    shapes.push(shape(
        ShapeKind::Sphere { radius: 0.02 },
        Vec3::from(env.goal_point),
        Quat::IDENTITY,
        goal_color(env.task),
    ));
    arm_shapes(env, &mut shapes);
    let hand = env.phys.hand_pos;
    shapes.push(shape(
        ShapeKind::Box {
            half_extents: PALM_HALF,
        },
        hand + Vec3::new(0.0, 0.0, PALM_Z),
        Quat::IDENTITY,
        GRIPPER_GREY,
    ));
    for f in &env.phys.fingers {
        shapes.push(
            shape(
                ShapeKind::Box {
                    half_extents: PAD_HALF,
                },
                f.pos,
                f.rot,
                GRIPPER_GREY,
            )
            .with_specular(0.5),
        );
    }
    Ok(Scene {
        shapes,
        camera,
        lights: vec![
            Light {
                direction: [-0.3, 0.4, -1.0],
                color: [0.85, 0.85, 0.8],
            },
            Light {
                direction: [0.6, -0.4, -0.5],
                color: [0.25, 0.25, 0.3],
            },
        ],
        ambient: 0.3,
        background: [0.55, 0.6, 0.68],
    })
}
