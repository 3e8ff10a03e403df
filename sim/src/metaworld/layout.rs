//! Per-task geometry: fixed fixtures (table, walls, housings) and the one movable object with
//! its joint, placed from the episode's sampled base position. Used both to build the physics
//! world and to draw the scene, so what is drawn is what collides. Units: metres, radians.
//!
//! Shapes use the scene conventions: cylinders and capsules extend along their local +z.

use glam::{Quat, Vec3};

use super::task::Task;
use crate::scene::ShapeKind;

/// One primitive of a fixture or of the object, in its parent's frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Part {
    pub kind: ShapeKind,
    pub pos: Vec3,
    pub rot: Quat,
    pub color: [f32; 3],
    /// Whether it is a collider (otherwise drawn only).
    pub collide: bool,
}

impl Part {
    pub fn new(kind: ShapeKind, pos: Vec3, color: [f32; 3]) -> Self {
        Part {
            kind,
            pos,
            rot: Quat::IDENTITY,
            color,
            collide: true,
        }
    }
    pub fn rot(mut self, rot: Quat) -> Self {
        self.rot = rot;
        self
    }
    pub fn visual(mut self) -> Self {
        self.collide = false;
        self
    }
}

/// The degree of freedom of the task's object.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum JointSpec {
    /// No joint: the puck or the mug.
    Free,
    /// Slides along `axis` from its rest pose; `q` is the displacement (m).
    Slide {
        axis: Vec3,
        limits: [f32; 2],
        /// Return-spring stiffness (acceleration-based, 1/s^2); 0 = none.
        spring: f32,
        damping: f32,
    },
    /// Turns about `axis` through the body origin; `q` is the angle (rad, right-handed).
    Hinge {
        axis: Vec3,
        limits: [f32; 2],
        damping: f32,
    },
}

/// The task's movable object.
#[derive(Clone, Debug)]
pub(crate) struct ObjectSpec {
    pub parts: Vec<Part>,
    pub mass: f32,
    /// Body origin at q = 0 (for hinges: the hinge point; for slides: the rest pose).
    pub origin: Vec3,
    /// Initial joint position q0 (the body starts at `origin` turned/slid by q0).
    pub q0: f32,
    pub joint: JointSpec,
    /// The observed point of the object (button face, handle, lever tip...), body frame.
    pub key_local: Vec3,
    pub friction: f32,
}

impl ObjectSpec {
    /// Body pose for joint position `q` (free objects: `q` ignored).
    pub fn pose_at(&self, q: f32) -> (Vec3, Quat) {
        match self.joint {
            JointSpec::Free => (self.origin, Quat::IDENTITY),
            JointSpec::Slide { axis, .. } => (self.origin + axis * q, Quat::IDENTITY),
            JointSpec::Hinge { axis, .. } => (self.origin, Quat::from_axis_angle(axis, q)),
        }
    }

    /// The joint position whose observed point is nearest to `key`: a grid over a range wide
    /// enough for every task's joint (hinges ±π rad, slides ±0.3 m; the simulator clamps to the
    /// joint's own limits on the next step), refined by golden-section search. Ties go to the
    /// position nearest `current`. Free objects: `current`.
    pub fn nearest_q(&self, key: Vec3, current: f32) -> f32 {
        let range = match self.joint {
            JointSpec::Free => return current,
            JointSpec::Hinge { .. } => [-std::f32::consts::PI, std::f32::consts::PI],
            JointSpec::Slide { .. } => [-0.3, 0.3],
        };
        let err = |q: f32| {
            let (p, r) = self.pose_at(q);
            (p + r * self.key_local - key).length_squared() + 1e-6 * (q - current).powi(2)
        };
        const GRID: usize = 256;
        let step = (range[1] - range[0]) / GRID as f32;
        let best = (0..=GRID)
            .map(|i| range[0] + step * i as f32)
            .min_by(|a, b| err(*a).total_cmp(&err(*b)))
            .unwrap_or(current);
        let (mut lo, mut hi) = (best - step, best + step);
        let phi = 0.618_034_f32;
        for _ in 0..40 {
            let a = hi - phi * (hi - lo);
            let b = lo + phi * (hi - lo);
            if err(a) < err(b) {
                hi = b;
            } else {
                lo = a;
            }
        }
        (lo + hi) / 2.0
    }

    /// Joint position from a body pose.
    pub fn q_of(&self, pos: Vec3, rot: Quat) -> f32 {
        match self.joint {
            JointSpec::Free => 0.0,
            JointSpec::Slide { axis, .. } => (pos - self.origin).dot(axis),
            JointSpec::Hinge { axis, .. } => {
                let v = Vec3::new(rot.x, rot.y, rot.z).dot(axis);
                2.0 * v.atan2(rot.w)
            }
        }
    }
}

/// How an episode's object point maps to its joint position: what a perceived state (hand,
/// gripper, object point, no joints) says about the joint that the task's success and reward
/// read ([`super::Perceived::joint`], in the simulator's own units and sign: radians for
/// hinges, metres for slides).
#[derive(Clone, Debug)]
pub struct ObjectJoint(ObjectSpec);

impl ObjectJoint {
    pub(crate) fn new(spec: &ObjectSpec) -> ObjectJoint {
        ObjectJoint(spec.clone())
    }

    /// The joint position whose observed point is nearest to `point` (m), ties toward the
    /// episode's initial position; free objects (the puck, the mug) keep theirs, 0.
    pub fn at_point(&self, point: [f32; 3]) -> f32 {
        self.0.nearest_q(Vec3::from(point), self.0.q0)
    }
}

/// Fixtures and object of one episode.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub fixtures: Vec<Part>,
    pub object: ObjectSpec,
}

pub(crate) const TABLE: [f32; 3] = [0.55, 0.42, 0.30];
const WALL: [f32; 3] = [0.45, 0.33, 0.24];
const METAL: [f32; 3] = [0.55, 0.56, 0.6];
const DARK: [f32; 3] = [0.12, 0.12, 0.14];
const RED: [f32; 3] = [0.75, 0.08, 0.06];
const WOOD: [f32; 3] = [0.5, 0.3, 0.15];
const GLASS: [f32; 3] = [0.6, 0.75, 0.85];

/// Puck: cylinder radius 0.02, half-height 0.02, 0.75 kg (original values).
pub(crate) const PUCK_RADIUS: f32 = 0.02;
pub(crate) const PUCK_HALF: f32 = 0.02;
/// Mug: cylinder radius 0.028, half-height 0.033, 0.11 kg.
pub(crate) const MUG_RADIUS: f32 = 0.028;
pub(crate) const MUG_HALF: f32 = 0.033;
/// Button-press travel that counts as pressed (the original's soft-limit travel), m.
pub(crate) const BUTTON_PRESS_DEPTH: f32 = 0.073;
/// Lever length of the door lock (hinge to tip), m.
pub(crate) const LEVER_LENGTH: f32 = 0.08;
/// Faucet handle reach from the knob axis to the observed tip, m.
pub(crate) const FAUCET_REACH: f32 = 0.175;

fn rx90() -> Quat {
    Quat::from_rotation_x(std::f32::consts::FRAC_PI_2)
}

fn bx(h: [f32; 3]) -> ShapeKind {
    ShapeKind::Box { half_extents: h }
}

/// Table top (z = 0 at its surface) and its four 0.12 m walls.
fn table() -> Vec<Part> {
    let t = 0.03;
    vec![
        Part::new(bx([0.7, 0.4, t]), Vec3::new(0.0, 0.6, -t), TABLE),
        Part::new(bx([0.7, 0.01, 0.06]), Vec3::new(0.0, 0.21, 0.06), WALL),
        Part::new(bx([0.7, 0.01, 0.06]), Vec3::new(0.0, 0.99, 0.06), WALL),
        Part::new(bx([0.01, 0.4, 0.06]), Vec3::new(-0.69, 0.6, 0.06), WALL),
        Part::new(bx([0.01, 0.4, 0.06]), Vec3::new(0.69, 0.6, 0.06), WALL),
    ]
}

impl Layout {
    /// The layout of `task` with its base (object or fixture) at `base`; coffee-push places the
    /// machine behind the sampled `goal`.
    pub fn new(task: Task, base: [f32; 3], goal: [f32; 3]) -> Layout {
        let b = Vec3::from(base);
        let mut fixtures = table();
        let object = match task {
            Task::Reach | Task::Push | Task::PickPlace => ObjectSpec {
                parts: vec![Part::new(
                    ShapeKind::Cylinder {
                        half_height: PUCK_HALF,
                        radius: PUCK_RADIUS,
                    },
                    Vec3::ZERO,
                    RED,
                )],
                mass: 0.75,
                origin: b,
                q0: 0.0,
                joint: JointSpec::Free,
                key_local: Vec3::ZERO,
                friction: 1.0,
            },
            Task::CoffeePush => {
                fixtures.extend(coffee_machine(
                    Vec3::new(goal[0], goal[1] + 0.22, 0.0),
                    false,
                ));
                ObjectSpec {
                    parts: vec![Part::new(
                        ShapeKind::Cylinder {
                            half_height: MUG_HALF,
                            radius: MUG_RADIUS,
                        },
                        Vec3::ZERO,
                        [0.9, 0.9, 0.88],
                    )],
                    mass: 0.11,
                    origin: b + Vec3::new(0.0, 0.0, MUG_HALF),
                    q0: 0.0,
                    joint: JointSpec::Free,
                    key_local: Vec3::ZERO,
                    friction: 1.0,
                }
            }
            Task::ButtonPress => {
                // Housing centred at the base; the button sticks out 0.08 m towards -y.
                fixtures.push(Part::new(bx([0.06, 0.05, 0.06]), b, [0.8, 0.6, 0.1]));
                ObjectSpec {
                    parts: vec![
                        Part::new(
                            ShapeKind::Cylinder {
                                half_height: 0.045,
                                radius: 0.02,
                            },
                            Vec3::ZERO,
                            RED,
                        )
                        .rot(rx90()),
                    ],
                    mass: 0.1,
                    origin: b + Vec3::new(0.0, -0.085, 0.0),
                    q0: 0.0,
                    joint: JointSpec::Slide {
                        axis: Vec3::Y,
                        limits: [0.0, 0.09],
                        spring: 10.0,
                        damping: 5.0,
                    },
                    key_local: Vec3::new(0.0, -0.045, 0.0),
                    friction: 1.0,
                }
            }
            Task::CoffeeButtonPress => {
                fixtures.extend(coffee_machine(b, true));
                ObjectSpec {
                    parts: vec![
                        Part::new(
                            ShapeKind::Cylinder {
                                half_height: 0.02,
                                radius: 0.032,
                            },
                            Vec3::ZERO,
                            DARK,
                        )
                        .rot(rx90()),
                    ],
                    mass: 0.1,
                    origin: b + Vec3::new(0.0, -0.19, 0.3),
                    q0: 0.0,
                    joint: JointSpec::Slide {
                        axis: Vec3::Y,
                        limits: [0.0, 0.03],
                        spring: 10.0,
                        damping: 5.0,
                    },
                    key_local: Vec3::new(0.0, -0.02, 0.0),
                    friction: 1.0,
                }
            }
            Task::DoorUnlock => {
                // A closed door (fixed) with a lock lever in front of it.
                fixtures.push(Part::new(
                    bx([0.16, 0.015, 0.13]),
                    b + Vec3::new(0.0, -0.1, 0.0),
                    WOOD,
                ));
                fixtures.push(
                    Part::new(
                        bx([0.02, 0.02, 0.15]),
                        b + Vec3::new(-0.19, -0.1, 0.0),
                        DARK,
                    )
                    .visual(),
                );
                fixtures.push(
                    Part::new(bx([0.02, 0.02, 0.15]), b + Vec3::new(0.19, -0.1, 0.0), DARK)
                        .visual(),
                );
                ObjectSpec {
                    parts: vec![
                        Part::new(
                            bx([LEVER_LENGTH / 2.0, 0.008, 0.012]),
                            Vec3::new(LEVER_LENGTH / 2.0, 0.0, 0.0),
                            RED,
                        ),
                        Part::new(
                            ShapeKind::Cylinder {
                                half_height: 0.01,
                                radius: 0.018,
                            },
                            Vec3::ZERO,
                            METAL,
                        )
                        .rot(rx90())
                        .visual(),
                    ],
                    mass: 0.1,
                    origin: b + Vec3::new(0.0, -0.118 - 0.008, 0.061),
                    q0: std::f32::consts::FRAC_PI_2,
                    joint: JointSpec::Hinge {
                        axis: Vec3::Y,
                        limits: [0.0, std::f32::consts::FRAC_PI_2],
                        damping: 2.0,
                    },
                    key_local: Vec3::new(LEVER_LENGTH, 0.0, 0.0),
                    friction: 1.0,
                }
            }
            Task::DoorOpen => {
                let hinge = b + Vec3::new(-0.185, -0.1, 0.0);
                fixtures.push(
                    Part::new(
                        bx([0.015, 0.015, 0.15]),
                        hinge + Vec3::new(-0.02, 0.0, 0.0),
                        DARK,
                    )
                    .visual(),
                );
                fixtures.push(
                    Part::new(
                        bx([0.015, 0.015, 0.15]),
                        hinge + Vec3::new(0.39, 0.0, 0.0),
                        DARK,
                    )
                    .visual(),
                );
                ObjectSpec {
                    parts: vec![
                        Part::new(bx([0.18, 0.01, 0.123]), Vec3::new(0.18, 0.0, 0.0), WOOD),
                        Part::new(bx([0.015, 0.015, 0.06]), Vec3::new(0.30, -0.10, 0.0), METAL),
                        Part::new(
                            bx([0.006, 0.045, 0.006]),
                            Vec3::new(0.30, -0.055, 0.05),
                            METAL,
                        )
                        .visual(),
                        Part::new(
                            bx([0.006, 0.045, 0.006]),
                            Vec3::new(0.30, -0.055, -0.05),
                            METAL,
                        )
                        .visual(),
                    ],
                    mass: 0.5,
                    origin: hinge,
                    q0: 0.0,
                    joint: JointSpec::Hinge {
                        axis: Vec3::Z,
                        limits: [-2.0, 0.0],
                        damping: 2.0,
                    },
                    key_local: Vec3::new(0.30, -0.10, 0.0),
                    friction: 1.0,
                }
            }
            Task::WindowOpen => {
                // Frame (drawn only) and a sash sliding along +x.
                fixtures.push(
                    Part::new(
                        bx([0.22, 0.015, 0.012]),
                        b + Vec3::new(0.1, 0.0, 0.112),
                        DARK,
                    )
                    .visual(),
                );
                fixtures.push(
                    Part::new(
                        bx([0.22, 0.015, 0.012]),
                        b + Vec3::new(0.1, 0.0, -0.112),
                        DARK,
                    )
                    .visual(),
                );
                ObjectSpec {
                    parts: vec![
                        Part::new(bx([0.1, 0.008, 0.1]), Vec3::ZERO, GLASS),
                        Part::new(bx([0.01, 0.01, 0.05]), Vec3::new(-0.06, -0.05, 0.0), METAL),
                        Part::new(
                            bx([0.006, 0.02, 0.006]),
                            Vec3::new(-0.06, -0.03, 0.04),
                            METAL,
                        )
                        .visual(),
                        Part::new(
                            bx([0.006, 0.02, 0.006]),
                            Vec3::new(-0.06, -0.03, -0.04),
                            METAL,
                        )
                        .visual(),
                    ],
                    mass: 0.5,
                    origin: b,
                    q0: 0.0,
                    joint: JointSpec::Slide {
                        axis: Vec3::X,
                        limits: [0.0, 0.2],
                        spring: 0.0,
                        damping: 4.0,
                    },
                    key_local: Vec3::new(-0.06, -0.05, 0.0),
                    friction: 1.0,
                }
            }
            Task::FaucetOpen => {
                fixtures.push(Part::new(
                    ShapeKind::Cylinder {
                        half_height: 0.055,
                        radius: 0.03,
                    },
                    b + Vec3::new(0.0, 0.0, 0.055),
                    METAL,
                ));
                fixtures.push(
                    Part::new(
                        bx([0.012, 0.06, 0.012]),
                        b + Vec3::new(0.0, 0.05, 0.09),
                        METAL,
                    )
                    .visual(),
                );
                ObjectSpec {
                    parts: vec![
                        Part::new(
                            ShapeKind::Cylinder {
                                half_height: 0.015,
                                radius: 0.035,
                            },
                            Vec3::ZERO,
                            METAL,
                        )
                        .visual(),
                        Part::new(
                            ShapeKind::Capsule {
                                half_height: 0.06,
                                radius: 0.017,
                            },
                            Vec3::new(0.0, -0.1, 0.0),
                            RED,
                        )
                        .rot(rx90()),
                    ],
                    mass: 0.2,
                    origin: b + Vec3::new(0.0, 0.0, 0.124),
                    q0: 0.0,
                    joint: JointSpec::Hinge {
                        axis: Vec3::Z,
                        limits: [-1.57, 1.57],
                        damping: 2.0,
                    },
                    key_local: Vec3::new(0.0, -FAUCET_REACH, 0.0),
                    friction: 1.0,
                }
            }
        };
        Layout { fixtures, object }
    }
}

/// A coffee machine whose front (facing -y) is 0.15 m in front of `base`; with `button`, the
/// body is drawn with the button recess at `base + (0, -0.19, 0.3)`.
fn coffee_machine(base: Vec3, button: bool) -> Vec<Part> {
    let mut v = vec![
        Part::new(
            bx([0.1, 0.1, 0.02]),
            base + Vec3::new(0.0, -0.05, 0.02),
            DARK,
        ),
        Part::new(
            bx([0.1, 0.08, 0.2]),
            base + Vec3::new(0.0, 0.0, 0.2),
            [0.3, 0.1, 0.1],
        ),
        Part::new(
            bx([0.1, 0.12, 0.04]),
            base + Vec3::new(0.0, -0.05, 0.36),
            [0.3, 0.1, 0.1],
        ),
    ];
    if button {
        v.push(
            Part::new(
                bx([0.05, 0.005, 0.05]),
                base + Vec3::new(0.0, -0.171, 0.3),
                DARK,
            )
            .visual(),
        );
    }
    v
}
