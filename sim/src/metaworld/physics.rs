//! The physics core: a rapier3d world with the hand (kinematic, following the mocap target through
//! a critically damped spring), two dynamic fingers on prismatic joints with force-limited
//! velocity motors, the task's object and fixed fixtures.
//!
//! Determinism: every step clones a pristine copy of the rapier sets built at reset (same layout)
//! and writes the canonical state into it, so a step depends only on the canonical state
//! (`PhysState`): continuing and `set_state` + step run identical code. Contacts are therefore
//! not warm-started across steps (they are across the solver substeps inside a step).
//!
//! Hand model (matches the original's mocap weld, fitted to its step response): per 2.5 ms
//! substep, semi-implicit Euler on `a = w^2 (mocap - p) - 2 z w v - (0, 0, w^2 sag)` with
//! `w = 37.9 rad/s`, `z = 1.02`, `sag = 0.005 m`. The hand is kinematic: objects cannot push it
//! (a jointed object pushed past its range is put back on its limit after the step).
//!
//! Step response, holding `a = +1` in x (hand displacement, mm; tested in `metaworld_core.rs`):
//!
//! | step     | 1   | 2   | 3   | 4    | 5    | 6    | 7    | 8    | 9    | 10   |
//! |----------|-----|-----|-----|------|------|------|------|------|------|------|
//! | ours     | 1.0 | 3.7 | 8.1 | 13.9 | 20.8 | 28.6 | 37.0 | 45.8 | 55.0 | 64.4 |
//! | original | 1.0 | 3.7 | 8.0 | 13.9 | 20.8 | 28.7 | 37.1 | 45.9 | 55.0 | 64.3 |
//!
//! Fingers: dynamic pad bodies on prismatic joints (hand frame, along ±y) driven by force-based
//! velocity motors (0.2 m/s, 40 N limit): they close in 14 steps and open in 14, and a held
//! object is squeezed by the motor force and carried by pad friction (2) only: no welding.

use glam::{Quat, Vec3};
use rapier3d::prelude::*;

use super::layout::{JointSpec, Layout, ObjectSpec, Part};
use crate::scene::ShapeKind;

/// Hand target displacement per unit action per step (m).
pub const ACTION_SCALE: f32 = 0.01;
/// Simulated seconds per environment step (5 substeps of 2.5 ms).
pub const STEP_DT: f32 = 0.0125;
/// Hand-spring substeps per environment step (2.5 ms each, as the original's physics step).
pub const SUBSTEPS: usize = 5;
/// Rapier solver substeps per environment step (1.25 ms each; contacts are found once per
/// step). Ten rather than five so a held puck does not creep out of the pads.
pub const SOLVER_SUBSTEPS: usize = 10;
/// Natural frequency of the hand spring (rad/s).
pub const HAND_OMEGA: f32 = 37.9;
/// Damping ratio of the hand spring.
pub const HAND_ZETA: f32 = 1.02;
/// Steady gravity sag of the hand below its target (m).
pub const HAND_SAG: f32 = 0.005;
/// Finger slide range: pad-carrier offset from the hand axis along y (m), closed and open.
pub const FINGER_RANGE: [f32; 2] = [0.015, 0.05];
/// Finger closing/opening speed (m/s): 0.035 m in 14 steps.
pub const FINGER_SPEED: f32 = 0.2;
/// Finger motor force limit (N): the grip force on a held object.
pub const FINGER_FORCE: f32 = 40.0;
/// Finger velocity-motor gain (N s/m, force-based): saturates at [`FINGER_FORCE`] when blocked.
pub const FINGER_GAIN: f32 = 1000.0;
/// Finger pad half extents (x wide, y thick, z along the finger) and centre below the hand (m).
pub const PAD_HALF: [f32; 3] = [0.015, 0.003, 0.03];
pub const PAD_Z: f32 = -0.015;
/// Tool centre point below the hand body origin (m).
pub const TCP_OFFSET: f32 = 0.045;
/// Palm (gripper base) half extents and centre above the hand origin (m).
pub const PALM_HALF: [f32; 3] = [0.029, 0.035, 0.053];
pub const PALM_Z: f32 = 0.06;
/// Palm friction: low, so handles slide along it while it pushes them.
pub const PALM_FRICTION: f32 = 0.2;

const G_FIXED: Group = Group::GROUP_1;
const G_ROBOT: Group = Group::GROUP_2;
const G_OBJECT: Group = Group::GROUP_3;

/// Pose and velocity of one dynamic body (13 floats when flattened).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BodyState {
    pub pos: Vec3,
    pub rot: Quat,
    pub linvel: Vec3,
    pub angvel: Vec3,
}

impl BodyState {
    pub const LEN: usize = 13;
    pub fn at(pos: Vec3, rot: Quat) -> Self {
        BodyState {
            pos,
            rot,
            linvel: Vec3::ZERO,
            angvel: Vec3::ZERO,
        }
    }
    pub fn push(&self, out: &mut Vec<f32>) {
        out.extend_from_slice(&self.pos.to_array());
        out.extend_from_slice(&self.rot.to_array());
        out.extend_from_slice(&self.linvel.to_array());
        out.extend_from_slice(&self.angvel.to_array());
    }
    pub fn read(s: &[f32]) -> Self {
        BodyState {
            pos: Vec3::new(s[0], s[1], s[2]),
            rot: Quat::from_xyzw(s[3], s[4], s[5], s[6]),
            linvel: Vec3::new(s[7], s[8], s[9]),
            angvel: Vec3::new(s[10], s[11], s[12]),
        }
    }
}

/// The canonical physical state: everything a step depends on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PhysState {
    pub hand_pos: Vec3,
    pub hand_vel: Vec3,
    /// Hand target (the original's mocap), m.
    pub mocap: Vec3,
    /// +1 closing, -1 opening.
    pub grip: f32,
    /// Right (+y) and left (-y) finger.
    pub fingers: [BodyState; 2],
    pub object: BodyState,
}

impl PhysState {
    pub const LEN: usize = 10 + 3 * BodyState::LEN;

    pub fn push(&self, out: &mut Vec<f32>) {
        out.extend_from_slice(&self.hand_pos.to_array());
        out.extend_from_slice(&self.hand_vel.to_array());
        out.extend_from_slice(&self.mocap.to_array());
        out.push(self.grip);
        for f in &self.fingers {
            f.push(out);
        }
        self.object.push(out);
    }

    pub fn read(s: &[f32]) -> Self {
        let v = |i: usize| Vec3::new(s[i], s[i + 1], s[i + 2]);
        PhysState {
            hand_pos: v(0),
            hand_vel: v(3),
            mocap: v(6),
            grip: s[9],
            fingers: [BodyState::read(&s[10..23]), BodyState::read(&s[23..36])],
            object: BodyState::read(&s[36..49]),
        }
    }

    /// The original's gripper opening: clip(|right - left| / 0.1, 0, 1).
    pub fn gripper_opening(&self) -> f32 {
        ((self.fingers[0].pos - self.fingers[1].pos).length() / 0.1).clamp(0.0, 1.0)
    }
}

#[derive(Clone)]
struct Sets {
    bodies: RigidBodySet,
    colliders: ColliderSet,
    impulse_joints: ImpulseJointSet,
    multibody_joints: MultibodyJointSet,
    islands: IslandManager,
    broad_phase: BroadPhaseBvh,
    narrow_phase: NarrowPhase,
}

/// The rapier world of one layout.
pub(crate) struct World {
    pristine: Sets,
    work: Sets,
    pipeline: PhysicsPipeline,
    params: IntegrationParameters,
    ccd: CCDSolver,
    soft: SoftBodySet,
    hand: RigidBodyHandle,
    fingers: [RigidBodyHandle; 2],
    finger_joints: [ImpulseJointHandle; 2],
    object: RigidBodyHandle,
    object_spec: ObjectSpec,
}

/// Hard joint stop: the kinematic hand can push through rapier's (soft) limit constraint, so a
/// body beyond its range is put back on the limit with its velocity removed.
fn clamp_to_limits(spec: &ObjectSpec, b: &mut BodyState) {
    let limits = match spec.joint {
        JointSpec::Free => return,
        JointSpec::Slide { limits, .. } | JointSpec::Hinge { limits, .. } => limits,
    };
    let q = spec.q_of(b.pos, b.rot);
    if q < limits[0] || q > limits[1] {
        let (pos, rot) = spec.pose_at(q.clamp(limits[0], limits[1]));
        *b = BodyState::at(pos, rot);
    }
}

fn collider_of(part: &Part) -> ColliderBuilder {
    match part.kind {
        ShapeKind::Box { half_extents: h } => {
            ColliderBuilder::cuboid(h[0], h[1], h[2]).position(Pose::from_parts(part.pos, part.rot))
        }
        ShapeKind::Cylinder {
            half_height,
            radius,
        } => {
            // A 16-sided prism: flat sides give multi-point contact manifolds with the pads.
            let mut pts = Vec::with_capacity(32);
            for i in 0..16 {
                let a = i as f32 * std::f32::consts::TAU / 16.0;
                for z in [-half_height, half_height] {
                    pts.push(Vector::new(radius * a.cos(), radius * a.sin(), z));
                }
            }
            ColliderBuilder::convex_hull(&pts)
                .unwrap_or_else(|| ColliderBuilder::cylinder(half_height, radius))
                .position(Pose::from_parts(part.pos, part.rot))
        }
        ShapeKind::Capsule {
            half_height,
            radius,
        } => ColliderBuilder::capsule_z(half_height, radius)
            .position(Pose::from_parts(part.pos, part.rot)),
        ShapeKind::Sphere { radius } => {
            ColliderBuilder::ball(radius).position(Pose::from_parts(part.pos, part.rot))
        }
        ShapeKind::Plane { half_extents: h } => ColliderBuilder::cuboid(h[0], h[1], 0.001)
            .position(Pose::from_parts(part.pos, part.rot)),
    }
}

impl World {
    /// Builds the world of `layout` with the hand at `hand` and the fingers open.
    pub fn new(layout: &Layout, hand: Vec3) -> World {
        let mut bodies = RigidBodySet::new();
        let mut colliders = ColliderSet::new();
        let mut impulse_joints = ImpulseJointSet::new();
        let groups = |m: Group, f: Group| InteractionGroups::new(m, f, InteractionTestMode::And);

        let ground = bodies.insert(RigidBodyBuilder::fixed());
        for part in layout.fixtures.iter().filter(|p| p.collide) {
            colliders.insert_with_parent(
                collider_of(part).collision_groups(groups(G_FIXED, G_OBJECT)),
                ground,
                &mut bodies,
            );
        }

        let hand_h = bodies.insert(
            RigidBodyBuilder::kinematic_position_based()
                .translation(hand)
                .can_sleep(false),
        );
        let palm = ColliderBuilder::cuboid(PALM_HALF[0], PALM_HALF[1], PALM_HALF[2])
            .translation(Vector::new(0.0, 0.0, PALM_Z))
            .friction(PALM_FRICTION)
            .collision_groups(groups(G_ROBOT, G_OBJECT));
        colliders.insert_with_parent(palm, hand_h, &mut bodies);

        let mut fingers = [hand_h; 2];
        let mut finger_joints = [ImpulseJointHandle::invalid(); 2];
        for (i, sign) in [1.0f32, -1.0].into_iter().enumerate() {
            let off = FINGER_RANGE[1];
            let f = bodies.insert(
                RigidBodyBuilder::dynamic()
                    .translation(hand + Vector::new(0.0, sign * off, PAD_Z))
                    .can_sleep(false),
            );
            let pad = ColliderBuilder::cuboid(PAD_HALF[0], PAD_HALF[1], PAD_HALF[2])
                .mass(0.1)
                .friction(2.0)
                .friction_combine_rule(CoefficientCombineRule::Max)
                .collision_groups(groups(G_ROBOT, G_OBJECT));
            colliders.insert_with_parent(pad, f, &mut bodies);
            let joint = PrismaticJointBuilder::new(Vector::new(0.0, sign, 0.0))
                .local_anchor1(Vector::new(0.0, 0.0, PAD_Z))
                .local_anchor2(Vector::ZERO)
                .limits(FINGER_RANGE)
                .motor_model(MotorModel::ForceBased)
                .motor_velocity(FINGER_SPEED, FINGER_GAIN)
                .motor_max_force(FINGER_FORCE)
                .contacts_enabled(false);
            finger_joints[i] = impulse_joints.insert(hand_h, f, joint, true);
            fingers[i] = f;
        }

        let obj = &layout.object;
        let (pos, rot) = obj.pose_at(obj.q0);
        let mut rb = RigidBodyBuilder::dynamic()
            .pose(Pose::from_parts(pos, rot))
            .can_sleep(false);
        if obj.joint == JointSpec::Free {
            rb = rb.linear_damping(0.5).angular_damping(0.5);
        }
        let object = bodies.insert(rb);
        let n = obj.parts.iter().filter(|p| p.collide).count().max(1) as f32;
        for part in obj.parts.iter().filter(|p| p.collide) {
            colliders.insert_with_parent(
                collider_of(part)
                    .mass(obj.mass / n)
                    .friction(obj.friction)
                    .collision_groups(groups(G_OBJECT, G_FIXED | G_ROBOT)),
                object,
                &mut bodies,
            );
        }
        match obj.joint {
            JointSpec::Free => {}
            JointSpec::Slide {
                axis,
                limits,
                spring,
                damping,
            } => {
                let mut j = PrismaticJointBuilder::new(axis)
                    .local_anchor1(obj.origin)
                    .local_anchor2(Vector::ZERO)
                    .limits(limits)
                    .contacts_enabled(false);
                j = if spring > 0.0 {
                    j.motor_position(0.0, spring, damping)
                } else {
                    j.motor_velocity(0.0, damping)
                };
                impulse_joints.insert(ground, object, j, true);
            }
            JointSpec::Hinge {
                axis,
                limits,
                damping,
            } => {
                let j = RevoluteJointBuilder::new(axis)
                    .local_anchor1(obj.origin)
                    .local_anchor2(Vector::ZERO)
                    .limits(limits)
                    .motor_velocity(0.0, damping)
                    .contacts_enabled(false);
                impulse_joints.insert(ground, object, j, true);
            }
        }

        let params = IntegrationParameters {
            dt: STEP_DT,
            num_solver_iterations: SOLVER_SUBSTEPS,
            max_ccd_substeps: 0,
            length_unit: 0.1,
            // 1.5 cm speculative margin: the hand moves up to ~1 cm per step.
            normalized_prediction_distance: 0.15,
            contact_recycling: false,
            friction_model: FrictionModel::Coulomb,
            num_internal_pgs_iterations: 2,
            ..IntegrationParameters::default()
        };
        let pristine = Sets {
            bodies,
            colliders,
            impulse_joints,
            multibody_joints: MultibodyJointSet::new(),
            islands: IslandManager::new(),
            broad_phase: BroadPhaseBvh::new(),
            narrow_phase: NarrowPhase::new(),
        };
        World {
            work: pristine.clone(),
            pristine,
            pipeline: PhysicsPipeline::new(),
            params,
            ccd: CCDSolver::new(),
            soft: SoftBodySet::new(),
            hand: hand_h,
            fingers,
            finger_joints,
            object,
            object_spec: layout.object.clone(),
        }
    }

    /// The state right after building: hand at rest at `hand` (sagged), target at `hand`,
    /// fingers open, object at its initial pose.
    pub fn initial_state(&self, hand: Vec3) -> PhysState {
        let b = |h: RigidBodyHandle| {
            let rb = &self.pristine.bodies[h];
            BodyState::at(rb.translation(), *rb.rotation())
        };
        let sag = Vec3::new(0.0, 0.0, -HAND_SAG);
        let mut fingers = [b(self.fingers[0]), b(self.fingers[1])];
        for f in &mut fingers {
            f.pos += sag;
        }
        PhysState {
            hand_pos: hand + sag,
            hand_vel: Vec3::ZERO,
            mocap: hand,
            grip: -1.0,
            fingers,
            object: b(self.object),
        }
    }

    /// Advances `s` by one environment step (0.0125 s).
    pub fn step(&mut self, s: &mut PhysState) {
        let (w, z) = (HAND_OMEGA, HAND_ZETA);
        let dt = STEP_DT / SUBSTEPS as f32;
        let (mut p, mut v) = (s.hand_pos, s.hand_vel);
        let sag = Vec3::new(0.0, 0.0, w * w * HAND_SAG);
        for _ in 0..SUBSTEPS {
            let a = (s.mocap - p) * (w * w) - v * (2.0 * z * w) - sag;
            v += a * dt;
            p += v * dt;
        }

        self.work.clone_from(&self.pristine);
        let sets = &mut self.work;
        {
            let hand = &mut sets.bodies[self.hand];
            hand.set_position(Pose::from_translation(s.hand_pos), true);
            hand.set_next_kinematic_position(Pose::from_translation(p));
        }
        let write = |bodies: &mut RigidBodySet, h: RigidBodyHandle, b: &BodyState| {
            let rb = &mut bodies[h];
            rb.set_position(Pose::from_parts(b.pos, b.rot), true);
            rb.set_linvel(b.linvel, true);
            rb.set_angvel(b.angvel, true);
        };
        write(&mut sets.bodies, self.fingers[0], &s.fingers[0]);
        write(&mut sets.bodies, self.fingers[1], &s.fingers[1]);
        write(&mut sets.bodies, self.object, &s.object);
        let target = if s.grip > 0.0 {
            -FINGER_SPEED
        } else {
            FINGER_SPEED
        };
        for j in self.finger_joints {
            if let Some(joint) = sets.impulse_joints.get_mut(j, true) {
                joint
                    .data
                    .set_motor_velocity(JointAxis::LinX, target, FINGER_GAIN);
            }
        }

        self.pipeline.step(
            Vector::new(0.0, 0.0, -9.81),
            &self.params,
            &mut sets.islands,
            &mut sets.broad_phase,
            &mut sets.narrow_phase,
            &mut sets.bodies,
            &mut sets.colliders,
            &mut sets.impulse_joints,
            &mut sets.multibody_joints,
            &mut self.soft,
            &mut self.ccd,
            &(),
            &(),
        );

        let read = |bodies: &RigidBodySet, h: RigidBodyHandle| {
            let rb = &bodies[h];
            BodyState {
                pos: rb.translation(),
                rot: *rb.rotation(),
                linvel: rb.linvel(),
                angvel: rb.angvel(),
            }
        };
        s.fingers = [
            read(&sets.bodies, self.fingers[0]),
            read(&sets.bodies, self.fingers[1]),
        ];
        s.object = read(&sets.bodies, self.object);
        clamp_to_limits(&self.object_spec, &mut s.object);
        s.hand_pos = p;
        s.hand_vel = v;
    }
}
