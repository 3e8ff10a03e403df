//! The drawable scene of a CLEVR state: grey table, five matte balls, the white pusher (walls
//! are invisible), the "default" camera of the original (azimuth 90 deg, elevation -45 deg,
//! fovy 45, on the -y side looking along +y so +x is image-right and "front" = -y is near the
//! camera) and a "topview" camera (elevation -90 deg, +y image-up).

use super::physics::{
    BALL_RADIUS, NUM_BALLS, PUSHER_RADIUS, TABLE_CENTER, TABLE_Z, WALL_X, WALL_Y, WorldState,
};
use crate::{Camera, Light, Scene, Shape, ShapeKind, SimError};

/// Camera preset names; the first is the default.
pub const CAMERAS: [&str; 2] = ["default", "topview"];

/// Ball colours by index (red, blue, green, purple, cyan), the original's RGBA values read as
/// sRGB and converted to linear RGB.
pub const BALL_SRGB: [[f32; 3]; NUM_BALLS] = [
    [1.0, 0.1, 0.1],
    [0.2, 0.5, 1.0],
    [0.2, 1.0, 0.0],
    [0.8, 0.2, 1.0],
    [0.2, 1.0, 1.0],
];

/// Point the default camera looks at, and its distance (m).
const LOOKAT: [f32; 3] = [0.0, 0.2, -0.25];
const DISTANCE: f32 = 2.2;
const FOVY_DEG: f32 = 45.0;

fn srgb_to_linear(c: f32) -> f32 {
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// The camera preset `name` (see [`CAMERAS`]).
pub fn camera(name: &str) -> Result<Camera, SimError> {
    match name {
        "default" => {
            let el = 45f32.to_radians();
            Ok(Camera {
                eye: [
                    LOOKAT[0],
                    LOOKAT[1] - DISTANCE * el.cos(),
                    LOOKAT[2] + DISTANCE * el.sin(),
                ],
                target: LOOKAT,
                up: [0.0, 0.0, 1.0],
                fovy_deg: FOVY_DEG,
            })
        }
        "topview" => Ok(Camera {
            eye: [TABLE_CENTER[0], TABLE_CENTER[1], TABLE_Z + DISTANCE],
            target: [TABLE_CENTER[0], TABLE_CENTER[1], TABLE_Z],
            up: [0.0, 1.0, 0.0],
            fovy_deg: FOVY_DEG,
        }),
        other => Err(SimError::unknown("camera", other, &CAMERAS)),
    }
}

/// The scene of `state` seen from camera `name`.
pub fn scene(state: &WorldState, name: &str) -> Result<Scene, SimError> {
    let camera = camera(name)?;
    let mut shapes = Vec::with_capacity(NUM_BALLS + 2);
    let table_half = [
        (WALL_X[1] - WALL_X[0]) / 2.0 + 0.9,
        (WALL_Y[1] - WALL_Y[0]) / 2.0 + 0.9,
    ];
    shapes.push(Shape::new(
        ShapeKind::Plane {
            half_extents: table_half,
        },
        [TABLE_CENTER[0], (WALL_Y[0] + WALL_Y[1]) / 2.0, TABLE_Z],
        [0.45, 0.45, 0.45],
    ));
    for (i, b) in state.balls.iter().enumerate() {
        shapes.push(
            Shape::new(
                ShapeKind::Sphere {
                    radius: BALL_RADIUS,
                },
                b.position,
                BALL_SRGB[i].map(srgb_to_linear),
            )
            .with_rotation(b.rotation),
        );
    }
    shapes.push(
        Shape::new(
            ShapeKind::Sphere {
                radius: PUSHER_RADIUS,
            },
            state.pusher,
            [0.9, 0.9, 0.9],
        )
        .with_specular(0.6),
    );
    Ok(Scene {
        shapes,
        camera,
        lights: vec![
            // Key light from above (the original's light at (0, 0, 3) pointing down).
            Light {
                direction: [0.0, 0.1, -1.0],
                color: [0.6, 0.6, 0.6],
            },
            // Fill light from the camera side.
            Light {
                direction: [0.3, 0.8, -0.5],
                color: [0.25, 0.25, 0.25],
            },
        ],
        ambient: 0.35,
        background: [0.2, 0.2, 0.22],
    })
}
