//! CLEVR-Robot physics in rapier3d: a table, four walls, five rubber balls and the pusher.
//!
//! Every push starts from the canonical state: [`push`] builds a fresh rapier world from a
//! [`WorldState`] (no contact caches, no warm-start impulses carried over), places the pusher
//! just behind the ball, drives it with a constant force for [`PUSH_SUBSTEPS`] substeps of
//! [`SUBSTEP_DT`] seconds and reads the state back. Continuing an episode and restoring a saved
//! state therefore run the very same code and give bit-identical results.
//!
//! Dynamics follow the original MuJoCo model: the 0.04 armature of every ball and pusher joint
//! dominates their inertia, so motion is strongly viscous (ball velocity decays at about
//! 15 1/s) and the ball slides more than it rolls. Units: metres, seconds, newtons, kilograms.

use rapier3d::prelude::*;

use crate::SimError;

/// Number of balls in the scene.
pub const NUM_BALLS: usize = 5;
/// Ball radius (m).
pub const BALL_RADIUS: f32 = 0.13;
/// Pusher ("silver point") radius (m).
pub const PUSHER_RADIUS: f32 = 0.05;
/// Height of the table top (m).
pub const TABLE_Z: f32 = -0.325;
/// Height of a resting ball's centre (m).
pub const BALL_Z: f32 = TABLE_Z + BALL_RADIUS;
/// Inner faces of the walls: x in [-0.6, 0.6], y in [-0.3, 0.7] (m).
pub const WALL_X: [f32; 2] = [-0.6, 0.6];
pub const WALL_Y: [f32; 2] = [-0.3, 0.7];
/// Where ball centres can be: the walls shrunk by one radius (m).
pub const REACH_X: [f32; 2] = [WALL_X[0] + BALL_RADIUS, WALL_X[1] - BALL_RADIUS];
pub const REACH_Y: [f32; 2] = [WALL_Y[0] + BALL_RADIUS, WALL_Y[1] - BALL_RADIUS];
/// Centre of the table (m).
pub const TABLE_CENTER: [f32; 2] = [0.0, 0.2];

/// The eight push directions of the original's perfect action space; action = ball * 8 + dir.
/// Diagonals are (±0.8, ±0.8), as in the original (so diagonal pushes use a 1.13 N force).
pub const DIRECTIONS: [[f32; 2]; 8] = [
    [1.0, 0.0],
    [0.0, 1.0],
    [-1.0, 0.0],
    [0.0, -1.0],
    [0.8, 0.8],
    [-0.8, 0.8],
    [0.8, -0.8],
    [-0.8, -0.8],
];
/// Number of discrete actions (5 balls x 8 directions).
pub const NUM_ACTIONS: usize = NUM_BALLS * DIRECTIONS.len();

/// Substep length (s) and substeps per push: one push lasts 0.4 s of simulated time. 20 x 0.02 s
/// keeps the push fidelity (median displacement ~0.21 m) at about 1.4x the speed of 40 x 0.01 s.
pub const SUBSTEP_DT: f32 = 0.02;
pub const PUSH_SUBSTEPS: usize = 20;
/// Force on the pusher per unit of direction vector (N).
pub const PUSH_FORCE: f32 = 1.0;
/// Gap between pusher and ball surfaces when the push starts (m): touching, not overlapping.
pub const PUSH_GAP: f32 = 0.002;

// Original MuJoCo parameters: real ball mass 0.009203 kg, armature 0.04, joint damping 0.75.
const BALL_REAL_MASS: f32 = 0.009203;
const ARMATURE: f32 = 0.04;
const BALL_MASS: f32 = BALL_REAL_MASS + ARMATURE;
const BALL_INERTIA: f32 = ARMATURE + 0.4 * BALL_REAL_MASS * BALL_RADIUS * BALL_RADIUS;
const BALL_DAMPING: f32 = 0.75;
const PUSHER_MASS: f32 = 0.000262 + ARMATURE;
const PUSHER_DAMPING: f32 = 0.5;
const FRICTION: f32 = 0.8;
/// Ball-wall friction, tuned so diagonal pushes that graze a wall travel like the original's
/// (median diagonal displacement ~0.21 m); with the rubber 0.8 they stick to walls.
const WALL_FRICTION: f32 = 0.5;
const SOLVER_ITERATIONS: usize = 2;
/// The original's timestep (s); MuJoCo's Euler integrator applies joint damping implicitly,
/// shrinking velocity by 1 / (1 + h * c / m) per 0.01 s step.
const ORIGINAL_DT: f32 = 0.01;

/// Rapier damping rate (1/s) whose per-substep decay 1 / (1 + dt * rate) equals the original's
/// decay over the same time, for a damping-to-inertia ratio `c_over_m` (1/s).
fn matched_damping(c_over_m: f32) -> f32 {
    let per_original_step = 1.0 + ORIGINAL_DT * c_over_m;
    (per_original_step.powf(SUBSTEP_DT / ORIGINAL_DT) - 1.0) / SUBSTEP_DT
}

const GROUP_STATIC: Group = Group::GROUP_1;
const GROUP_BALL: Group = Group::GROUP_2;
const GROUP_PUSHER: Group = Group::GROUP_3;

/// The physical state of one ball.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BallState {
    /// Centre (m).
    pub position: [f32; 3],
    /// Orientation, unit quaternion `[x, y, z, w]`.
    pub rotation: [f32; 4],
    /// Linear velocity (m/s).
    pub linvel: [f32; 3],
    /// Angular velocity (rad/s).
    pub angvel: [f32; 3],
}

impl BallState {
    /// A ball resting at `(x, y)` on the table.
    pub fn at_rest(x: f32, y: f32) -> Self {
        BallState {
            position: [x, y, BALL_Z],
            rotation: [0.0, 0.0, 0.0, 1.0],
            linvel: [0.0; 3],
            angvel: [0.0; 3],
        }
    }

    pub fn xy(&self) -> [f32; 2] {
        [self.position[0], self.position[1]]
    }
}

/// Everything the physics needs to continue: five balls and where the pusher was left.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorldState {
    pub balls: [BallState; NUM_BALLS],
    /// Pusher centre (m); only drawn, every push re-places it.
    pub pusher: [f32; 3],
}

impl WorldState {
    /// Floats in [`WorldState::write`]: 13 per ball plus 3 for the pusher.
    pub const LEN: usize = NUM_BALLS * 13 + 3;

    /// Balls at rest at `xy`, pusher parked at the front edge of the table.
    pub fn resting(xy: &[[f32; 2]; NUM_BALLS]) -> Self {
        WorldState {
            balls: xy.map(|p| BallState::at_rest(p[0], p[1])),
            pusher: [0.0, WALL_Y[0] - 0.1, BALL_Z],
        }
    }

    /// Ball centres projected on the table plane.
    pub fn ball_xy(&self) -> [[f32; 2]; NUM_BALLS] {
        self.balls.map(|b| b.xy())
    }

    /// Appends the state as `LEN` floats: per ball position(3), rotation(4), linvel(3),
    /// angvel(3); then the pusher position(3).
    pub fn write(&self, out: &mut Vec<f32>) {
        for b in &self.balls {
            out.extend_from_slice(&b.position);
            out.extend_from_slice(&b.rotation);
            out.extend_from_slice(&b.linvel);
            out.extend_from_slice(&b.angvel);
        }
        out.extend_from_slice(&self.pusher);
    }

    /// Reads a state written by [`WorldState::write`]; `s` must hold exactly `LEN` floats.
    pub fn read(s: &[f32]) -> Result<Self, SimError> {
        if s.len() != Self::LEN {
            return Err(SimError::InvalidState(format!(
                "world state needs {} floats, got {}",
                Self::LEN,
                s.len()
            )));
        }
        if let Some(i) = s.iter().position(|v| !v.is_finite()) {
            return Err(SimError::InvalidState(format!(
                "world state value {i} is not finite"
            )));
        }
        let f3 = |o: usize| [s[o], s[o + 1], s[o + 2]];
        let balls = std::array::from_fn(|i| {
            let o = i * 13;
            BallState {
                position: f3(o),
                rotation: [s[o + 3], s[o + 4], s[o + 5], s[o + 6]],
                linvel: f3(o + 7),
                angvel: f3(o + 10),
            }
        });
        Ok(WorldState {
            balls,
            pusher: f3(NUM_BALLS * 13),
        })
    }
}

/// Splits a discrete action into (ball, direction); errors name the valid range.
pub fn decode_action(action: u32) -> Result<(usize, usize), SimError> {
    let a = action as usize;
    if a >= NUM_ACTIONS {
        return Err(SimError::InvalidAction(format!(
            "CLEVR action {action} out of range; valid: 0..{NUM_ACTIONS} (ball * 8 + direction)"
        )));
    }
    Ok((a / DIRECTIONS.len(), a % DIRECTIONS.len()))
}

fn v3(a: [f32; 3]) -> Vector {
    Vector::new(a[0], a[1], a[2])
}

fn groups(member: Group, filter: Group) -> InteractionGroups {
    InteractionGroups::new(member, filter, InteractionTestMode::And)
}

/// Builds the rapier world for one push; returns it with the ball and pusher handles.
fn build_world(
    state: &WorldState,
    pusher_xy: [f32; 2],
) -> (PhysicsWorld, [RigidBodyHandle; NUM_BALLS], RigidBodyHandle) {
    let mut world = PhysicsWorld::new();
    world.gravity = Vector::new(0.0, 0.0, -9.81);
    let p = &mut world.integration_parameters;
    p.dt = SUBSTEP_DT;
    p.num_solver_iterations = SOLVER_ITERATIONS;
    p.max_ccd_substeps = 0;

    // Table (a thin box whose top is at TABLE_Z) and the four walls, all fixed.
    let ground = world.insert_body(RigidBodyBuilder::fixed());
    let static_groups = groups(GROUP_STATIC, GROUP_BALL);
    let cx = TABLE_CENTER[0];
    let cy = (WALL_Y[0] + WALL_Y[1]) / 2.0;
    let (hx, hy) = ((WALL_X[1] - WALL_X[0]) / 2.0, (WALL_Y[1] - WALL_Y[0]) / 2.0);
    let t = 0.05;
    let wall_hz = 0.3;
    let wall_z = TABLE_Z + wall_hz;
    let boxes = [
        ([cx, cy, TABLE_Z - t], [hx + 2.0 * t, hy + 2.0 * t, t]),
        ([WALL_X[0] - t, cy, wall_z], [t, hy + 2.0 * t, wall_hz]),
        ([WALL_X[1] + t, cy, wall_z], [t, hy + 2.0 * t, wall_hz]),
        ([cx, WALL_Y[0] - t, wall_z], [hx + 2.0 * t, t, wall_hz]),
        ([cx, WALL_Y[1] + t, wall_z], [hx + 2.0 * t, t, wall_hz]),
    ];
    for (i, (centre, half)) in boxes.into_iter().enumerate() {
        // The table has rubber friction; balls slide along the smoother walls.
        let friction = if i == 0 { FRICTION } else { WALL_FRICTION };
        world.insert_collider(
            ColliderBuilder::cuboid(half[0], half[1], half[2])
                .translation(v3(centre))
                .friction(friction)
                .friction_combine_rule(CoefficientCombineRule::Min)
                .restitution(0.0)
                .collision_groups(static_groups),
            Some(ground),
        );
    }

    let ball_props = MassProperties::new(Vector::ZERO, BALL_MASS, Vector::splat(BALL_INERTIA));
    let balls = std::array::from_fn(|i| {
        let b = &state.balls[i];
        let r = b.rotation;
        let body = RigidBodyBuilder::dynamic()
            .pose(Pose::from_parts(
                v3(b.position),
                Rotation::from_xyzw(r[0], r[1], r[2], r[3]),
            ))
            .linvel(v3(b.linvel))
            .angvel(v3(b.angvel))
            .additional_mass_properties(ball_props)
            .gravity_scale(BALL_REAL_MASS / BALL_MASS)
            .linear_damping(matched_damping(BALL_DAMPING / BALL_MASS))
            .angular_damping(matched_damping(BALL_DAMPING / BALL_INERTIA))
            .can_sleep(false);
        let h = world.insert_body(body);
        world.insert_collider(
            ColliderBuilder::ball(BALL_RADIUS)
                .density(0.0)
                .friction(FRICTION)
                .restitution(0.0)
                .collision_groups(groups(GROUP_BALL, GROUP_STATIC | GROUP_BALL | GROUP_PUSHER)),
            Some(h),
        );
        h
    });

    let pusher_body = RigidBodyBuilder::dynamic()
        .translation(Vector::new(pusher_xy[0], pusher_xy[1], BALL_Z))
        .additional_mass_properties(MassProperties::new(
            Vector::ZERO,
            PUSHER_MASS,
            Vector::splat(1e-4),
        ))
        .enabled_translations(true, true, false)
        .lock_rotations()
        .gravity_scale(0.0)
        .linear_damping(matched_damping(PUSHER_DAMPING / PUSHER_MASS))
        .can_sleep(false);
    let pusher = world.insert_body(pusher_body);
    world.insert_collider(
        ColliderBuilder::ball(PUSHER_RADIUS)
            .density(0.0)
            .friction(0.0)
            .friction_combine_rule(CoefficientCombineRule::Min)
            .restitution(0.0)
            .collision_groups(groups(GROUP_PUSHER, GROUP_BALL)),
        Some(pusher),
    );
    (world, balls, pusher)
}

/// Where the pusher starts when pushing a ball at `ball_xy` along direction `dir`: behind the
/// ball along the push, surfaces [`PUSH_GAP`] apart.
pub fn push_start(ball_xy: [f32; 2], dir: usize) -> [f32; 2] {
    let d = DIRECTIONS[dir];
    let n = (d[0] * d[0] + d[1] * d[1]).sqrt();
    let back = BALL_RADIUS + PUSHER_RADIUS + PUSH_GAP;
    [ball_xy[0] - back * d[0] / n, ball_xy[1] - back * d[1] / n]
}

/// One push (0.4 s): ball `ball` along direction `dir` (indices into [`DIRECTIONS`]).
/// Ball velocities carry over from `state`; the pusher starts at rest behind the ball.
pub fn push(state: &mut WorldState, ball: usize, dir: usize) -> Result<(), SimError> {
    let start = push_start(state.balls[ball].xy(), dir);
    let (mut world, balls, pusher) = build_world(state, start);
    let d = DIRECTIONS[dir];
    world.bodies[pusher].add_force(Vector::new(d[0], d[1], 0.0) * PUSH_FORCE, true);
    for _ in 0..PUSH_SUBSTEPS {
        world.step();
    }
    for (i, h) in balls.iter().enumerate() {
        let b = &world.bodies[*h];
        let p = b.translation();
        let q = *b.rotation();
        let v = b.linvel();
        let w = b.angvel();
        state.balls[i] = BallState {
            position: p.to_array(),
            rotation: [q.x, q.y, q.z, q.w],
            linvel: v.to_array(),
            angvel: w.to_array(),
        };
    }
    state.pusher = world.bodies[pusher].translation().to_array();
    let finite = state.balls.iter().all(|b| {
        b.position
            .iter()
            .chain(&b.linvel)
            .all(|v| v.is_finite() && v.abs() < 100.0)
    });
    if !finite {
        return Err(SimError::PhysicsDiverged(format!(
            "CLEVR push of ball {ball} along direction {dir} produced non-finite or exploding values"
        )));
    }
    Ok(())
}
