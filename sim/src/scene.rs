//! A plain, renderer-agnostic scene description: shapes with pose, size and colour, a camera
//! and lights. Produced by the simulators, drawn by `vlgor-render`.
//!
//! Conventions: world frame is right-handed with +z up; positions in metres; rotations are unit
//! quaternions stored `[x, y, z, w]`; colours are linear RGB in [0, 1].

use serde::{Deserialize, Serialize};

/// What a shape is. Local axes: capsules and cylinders extend along their local +z axis;
/// planes lie in their local xy plane with the normal along local +z.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum ShapeKind {
    Sphere { radius: f32 },
    Box { half_extents: [f32; 3] },
    Capsule { half_height: f32, radius: f32 },
    Cylinder { half_height: f32, radius: f32 },
    Plane { half_extents: [f32; 2] },
}

/// One drawable shape.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    pub kind: ShapeKind,
    /// Centre in world coordinates (m).
    pub position: [f32; 3],
    /// Orientation as a unit quaternion `[x, y, z, w]`.
    pub rotation: [f32; 4],
    /// Linear RGB in [0, 1].
    pub color: [f32; 3],
    /// 0 = matte (rubber), 1 = shiny; scales the specular highlight.
    pub specular: f32,
}

impl Shape {
    /// A shape with identity rotation and a matte finish.
    pub fn new(kind: ShapeKind, position: [f32; 3], color: [f32; 3]) -> Self {
        Shape {
            kind,
            position,
            rotation: [0.0, 0.0, 0.0, 1.0],
            color,
            specular: 0.0,
        }
    }

    pub fn with_rotation(mut self, rotation: [f32; 4]) -> Self {
        self.rotation = rotation;
        self
    }

    pub fn with_specular(mut self, specular: f32) -> Self {
        self.specular = specular;
        self
    }
}

/// A perspective pinhole camera looking from `eye` at `target`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Camera {
    pub eye: [f32; 3],
    pub target: [f32; 3],
    /// World direction that appears as "up" in the image.
    pub up: [f32; 3],
    /// Vertical field of view in degrees.
    pub fovy_deg: f32,
}

/// A directional light.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Light {
    /// Direction the light travels (from the light towards the scene), world frame.
    pub direction: [f32; 3],
    /// Linear RGB intensity.
    pub color: [f32; 3],
}

/// Everything a renderer needs to draw one frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    pub shapes: Vec<Shape>,
    pub camera: Camera,
    pub lights: Vec<Light>,
    /// Ambient light level in [0, 1].
    pub ambient: f32,
    /// Background (sky) colour, linear RGB.
    pub background: [f32; 3],
}
