//! Hand-built scenes for tests, benchmarks and the viewer demo, made from the plain
//! [`vlgor_sim::scene`] types only (no simulator): a CLEVR-like table with five balls and a
//! pusher, and a Meta-World-like workspace with about 40 boxes, capsules and cylinders.
//! Randomised scenes are a pure function of the seed.

use crate::camera::orbit_camera;
use vlgor_sim::{Camera, Light, Scene, Shape, ShapeKind};

/// Colours of the five CLEVR-like balls, in order: red, blue, green, purple, cyan.
pub const CLEVR_COLORS: [[f32; 3]; 5] = [
    [1.0, 0.1, 0.1],
    [0.2, 0.5, 1.0],
    [0.2, 1.0, 0.0],
    [0.8, 0.2, 1.0],
    [0.2, 1.0, 1.0],
];
/// Radius of the CLEVR-like balls (m).
pub const CLEVR_BALL_RADIUS: f32 = 0.13;
/// Height of the table surface (m).
pub const CLEVR_TABLE_Z: f32 = -0.325;

/// A small deterministic generator (SplitMix64), enough for scene layouts.
#[derive(Clone, Debug)]
pub struct SceneRng(u64);

impl SceneRng {
    pub fn new(seed: u64) -> Self {
        SceneRng(seed)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
    /// A random unit quaternion [x, y, z, w].
    pub fn rotation(&mut self) -> [f32; 4] {
        let pi = std::f32::consts::PI;
        let q = glam::Quat::from_euler(
            glam::EulerRot::XYZ,
            self.range(-pi, pi),
            self.range(-pi, pi),
            self.range(-pi, pi),
        );
        q.to_array()
    }
}

/// The CLEVR-like camera: azimuth 90, elevation -45, fovy 45, 2.2 m from (0, 0.2, -0.25).
pub fn clevr_camera() -> Camera {
    orbit_camera([0.0, 0.2, -0.25], 2.2, 90.0, -45.0, 45.0)
}

/// A second CLEVR-like view, from the side (for camera cycling in the viewer).
pub fn clevr_side_camera() -> Camera {
    orbit_camera([0.0, 0.2, -0.25], 2.2, 30.0, -30.0, 45.0)
}

fn clevr_lights() -> Vec<Light> {
    vec![
        Light {
            direction: [0.3, 0.5, -1.0],
            color: [0.6, 0.6, 0.6],
        },
        Light {
            direction: [-0.5, -0.2, -0.6],
            color: [0.25, 0.25, 0.25],
        },
    ]
}

/// A CLEVR-like scene with the five balls at the given (x, y) positions (m) and the white
/// pusher sphere (radius 0.05) at `pusher` (x, y).
pub fn clevr_scene(balls: [[f32; 2]; 5], pusher: [f32; 2]) -> Scene {
    let mut shapes = vec![Shape::new(
        ShapeKind::Plane {
            half_extents: [2.0, 2.0],
        },
        [0.0, 0.2, CLEVR_TABLE_Z],
        [0.55, 0.55, 0.55],
    )];
    let z = CLEVR_TABLE_Z + CLEVR_BALL_RADIUS;
    for (b, c) in balls.iter().zip(CLEVR_COLORS) {
        shapes.push(
            Shape::new(
                ShapeKind::Sphere {
                    radius: CLEVR_BALL_RADIUS,
                },
                [b[0], b[1], z],
                c,
            )
            .with_specular(0.6),
        );
    }
    shapes.push(Shape::new(
        ShapeKind::Sphere { radius: 0.05 },
        [pusher[0], pusher[1], CLEVR_TABLE_Z + 0.05],
        [1.0, 1.0, 1.0],
    ));
    Scene {
        shapes,
        camera: clevr_camera(),
        lights: clevr_lights(),
        ambient: 0.35,
        background: [0.12, 0.12, 0.14],
    }
}

/// A CLEVR-like scene with ball and pusher positions drawn from `seed`.
pub fn random_clevr_scene(seed: u64) -> Scene {
    let mut rng = SceneRng::new(seed);
    let mut balls = [[0.0f32; 2]; 5];
    for b in balls.iter_mut() {
        *b = [rng.range(-0.5, 0.5), rng.range(-0.15, 0.6)];
    }
    let pusher = [rng.range(-0.5, 0.5), rng.range(-0.15, 0.6)];
    clevr_scene(balls, pusher)
}

/// A Meta-World-like scene: floor, table top, a Sawyer-like arm of capsules and cylinders,
/// and random boxes, capsules and cylinders on the table; `1 + 1 + 8 + 30 = 40` shapes.
pub fn random_metaworld_scene(seed: u64) -> Scene {
    let mut rng = SceneRng::new(seed);
    let mut shapes = vec![
        Shape::new(
            ShapeKind::Plane {
                half_extents: [3.0, 3.0],
            },
            [0.0, 0.5, -0.9],
            [0.35, 0.33, 0.3],
        ),
        Shape::new(
            ShapeKind::Box {
                half_extents: [0.7, 0.4, 0.03],
            },
            [0.0, 0.6, -0.03],
            [0.55, 0.42, 0.3],
        ),
    ];
    // Arm: base cylinder, then a chain of links ending at a random hand position.
    let hand = glam::Vec3::new(
        rng.range(-0.3, 0.3),
        rng.range(0.45, 0.8),
        rng.range(0.05, 0.3),
    );
    let base = glam::Vec3::new(-0.55, 0.2, 0.15);
    shapes.push(Shape::new(
        ShapeKind::Cylinder {
            half_height: 0.15,
            radius: 0.08,
        },
        base.to_array(),
        [0.6, 0.1, 0.1],
    ));
    let elbow = (base + hand) * 0.5 + glam::Vec3::new(0.0, 0.0, 0.35);
    let joints = [base, elbow, hand];
    for seg in joints.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        let d = b - a;
        let rot = glam::Quat::from_rotation_arc(glam::Vec3::Z, d.normalize());
        shapes.push(
            Shape::new(
                ShapeKind::Capsule {
                    half_height: d.length() * 0.5,
                    radius: 0.05,
                },
                ((a + b) * 0.5).to_array(),
                [0.65, 0.12, 0.12],
            )
            .with_rotation(rot.to_array())
            .with_specular(0.4),
        );
        shapes.push(Shape::new(
            ShapeKind::Sphere { radius: 0.065 },
            b.to_array(),
            [0.2, 0.2, 0.2],
        ));
    }
    // Gripper fingers.
    for side in [-1.0f32, 1.0] {
        shapes.push(Shape::new(
            ShapeKind::Box {
                half_extents: [0.01, 0.02, 0.04],
            },
            (hand + glam::Vec3::new(side * 0.03, 0.0, -0.07)).to_array(),
            [0.8, 0.8, 0.8],
        ));
    }
    while shapes.len() < 40 {
        let pos = [
            rng.range(-0.6, 0.6),
            rng.range(0.3, 0.9),
            rng.range(0.02, 0.12),
        ];
        let color = [rng.unit(), rng.unit(), rng.unit()];
        let kind = match (rng.unit() * 3.0) as u32 {
            0 => ShapeKind::Box {
                half_extents: [
                    rng.range(0.01, 0.06),
                    rng.range(0.01, 0.06),
                    rng.range(0.01, 0.06),
                ],
            },
            1 => ShapeKind::Capsule {
                half_height: rng.range(0.01, 0.05),
                radius: rng.range(0.01, 0.03),
            },
            _ => ShapeKind::Cylinder {
                half_height: rng.range(0.01, 0.05),
                radius: rng.range(0.01, 0.05),
            },
        };
        shapes.push(Shape::new(kind, pos, color).with_rotation(rng.rotation()));
    }
    Scene {
        shapes,
        camera: orbit_camera([0.0, 0.6, 0.0], 1.6, 45.0, -35.0, 45.0),
        lights: vec![
            Light {
                direction: [0.2, 0.4, -1.0],
                color: [0.7, 0.7, 0.7],
            },
            Light {
                direction: [-0.6, 0.3, -0.4],
                color: [0.2, 0.2, 0.22],
            },
        ],
        ambient: 0.3,
        background: [0.55, 0.65, 0.8],
    }
}
