//! Turning a [`Scene`] into GPU data: world-space triangle meshes (every shape is a unit mesh
//! scaled, rotated and moved on the CPU, so that one scene is one indexed draw: lavapipe pays a
//! large fixed cost per draw instance) and one uniform block per scene (camera, lights,
//! ambient). Capsules become a cylinder plus two sphere caps.

use crate::RenderError;
use crate::camera;
use crate::mesh::{MESH_KINDS, MeshKind, MeshSet};
use bytemuck::{Pod, Zeroable};
use glam::{Mat3, Quat, Vec3};
use vlgor_sim::{Scene, Shape, ShapeKind};

/// Most directional lights a scene may have.
pub const MAX_LIGHTS: usize = 4;

/// One world-space vertex as the GPU reads it (20 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct SceneVertex {
    /// World position (m).
    pub position: [f32; 3],
    /// Unit normal as snorm8 xyz (w unused).
    pub normal: [i8; 4],
    /// Colour rgb as unorm8; a = specular weight.
    pub color: [u8; 4],
}
/// Per-scene uniform block; padded to 256 bytes, the dynamic-offset alignment.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct SceneUniform {
    pub view_proj: [[f32; 4]; 4],
    /// xyz: camera position; w: number of lights.
    pub eye_lights: [f32; 4],
    /// x: ambient level.
    pub ambient: [f32; 4],
    /// Direction each light travels (normalised), xyz.
    pub light_dir: [[f32; 4]; MAX_LIGHTS],
    /// Light colour, rgb.
    pub light_color: [[f32; 4]; MAX_LIGHTS],
    pub _pad: [[f32; 4]; 2],
}

/// Byte stride between scene uniforms in the uniform buffer.
pub const UNIFORM_STRIDE: u64 = 256;
const _: () = assert!(std::mem::size_of::<SceneUniform>() == UNIFORM_STRIDE as usize);

fn finite(values: &[f32]) -> bool {
    values.iter().all(|v| v.is_finite())
}

fn check_shape(i: usize, s: &Shape) -> Result<(), String> {
    let sizes: Vec<f32> = match s.kind {
        ShapeKind::Sphere { radius } => vec![radius],
        ShapeKind::Box { half_extents } => half_extents.to_vec(),
        ShapeKind::Capsule {
            half_height,
            radius,
        }
        | ShapeKind::Cylinder {
            half_height,
            radius,
        } => vec![half_height, radius],
        ShapeKind::Plane { half_extents } => half_extents.to_vec(),
    };
    if !finite(&sizes) || sizes.iter().any(|&v| v < 0.0) {
        return Err(format!(
            "shape {i} ({:?}) has a negative or non-finite size; sizes must be finite and >= 0",
            s.kind
        ));
    }
    if !finite(&s.position) || !finite(&s.rotation) || !finite(&s.color) || !s.specular.is_finite()
    {
        return Err(format!(
            "shape {i} has non-finite position, rotation, colour or specular"
        ));
    }
    let q = glam::Vec4::from(s.rotation);
    if (q.length() - 1.0).abs() > 1e-2 {
        return Err(format!(
            "shape {i} rotation {:?} is not a unit quaternion [x, y, z, w] (length {})",
            s.rotation,
            q.length()
        ));
    }
    Ok(())
}

/// One unit mesh placed in the world.
#[derive(Clone, Copy, Debug)]
struct Placement {
    position: Vec3,
    rotation: Mat3,
    scale: Vec3,
    color: [u8; 4],
}

/// Scratch space reused between scenes: placements grouped by mesh kind.
#[derive(Default)]
pub struct SceneBuilder {
    by_kind: [Vec<Placement>; MESH_KINDS],
}

fn unorm8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
}

/// Round-to-nearest snorm8 without calling `round` (hot loop).
fn snorm8(v: f32) -> i8 {
    let x = v.clamp(-1.0, 1.0) * 127.0;
    (x + 0.5f32.copysign(x)) as i8
}

impl SceneBuilder {
    fn place(&mut self, kind: MeshKind, s: &Shape, pos: Vec3, rot: Quat, scale: Vec3) {
        let c = s.color;
        self.by_kind[kind as usize].push(Placement {
            position: pos,
            rotation: Mat3::from_quat(rot),
            scale,
            color: [unorm8(c[0]), unorm8(c[1]), unorm8(c[2]), unorm8(s.specular)],
        });
    }

    /// Appends the world-space triangles of `scene` (index `index` in its batch, for error
    /// messages) to `vertices` / `indices`; indices count from the scene's first vertex.
    /// `lod_scale` from [`lod_scale`] picks the sphere mesh detail. Back to front in kind
    /// order: spheres, boxes, cylinders, planes.
    pub fn append_scene(
        &mut self,
        index: usize,
        scene: &Scene,
        lod_scale: f32,
        meshes: &MeshSet,
        vertices: &mut Vec<SceneVertex>,
        indices: &mut Vec<u32>,
    ) -> Result<(), RenderError> {
        for v in self.by_kind.iter_mut() {
            v.clear();
        }
        let eye = Vec3::from(scene.camera.eye);
        for (i, s) in scene.shapes.iter().enumerate() {
            check_shape(i, s).map_err(|reason| RenderError::Scene { index, reason })?;
            let (p, r) = (
                Vec3::from(s.position),
                Quat::from_array(s.rotation).normalize(),
            );
            match s.kind {
                ShapeKind::Sphere { radius } => {
                    let kind = sphere_kind(projected(p, radius, eye, lod_scale));
                    self.place(kind, s, p, r, Vec3::splat(radius))
                }
                ShapeKind::Box { half_extents } => {
                    self.place(MeshKind::Cube, s, p, r, Vec3::from(half_extents))
                }
                ShapeKind::Cylinder {
                    half_height,
                    radius,
                } => {
                    let kind = if projected(p, radius, eye, lod_scale) >= LOD_PIXELS_MID {
                        MeshKind::CylinderHigh
                    } else {
                        MeshKind::CylinderLow
                    };
                    self.place(kind, s, p, r, Vec3::new(radius, radius, half_height))
                }
                ShapeKind::Capsule {
                    half_height,
                    radius,
                } => {
                    let kind = if projected(p, radius, eye, lod_scale) >= LOD_PIXELS_MID {
                        MeshKind::TubeHigh
                    } else {
                        MeshKind::TubeLow
                    };
                    self.place(kind, s, p, r, Vec3::new(radius, radius, half_height));
                    for sign in [1.0f32, -1.0] {
                        let c = p + r * Vec3::Z * (half_height * sign);
                        let kind = sphere_kind(projected(c, radius, eye, lod_scale));
                        self.place(kind, s, c, r, Vec3::splat(radius));
                    }
                }
                ShapeKind::Plane { half_extents } => {
                    let scale = Vec3::new(half_extents[0], half_extents[1], 1.0);
                    self.place(MeshKind::Plane, s, p, r, scale)
                }
            }
        }
        let base = vertices.len();
        for (kind, list) in self.by_kind.iter().enumerate() {
            let range = meshes.ranges[kind];
            let v0 = range.base_vertex as usize;
            let nv = meshes.vertex_counts[kind];
            let mesh_v = &meshes.vertices[v0..v0 + nv];
            let mesh_i = &meshes.indices
                [range.first_index as usize..(range.first_index + range.index_count) as usize];
            for pl in list {
                let first = (vertices.len() - base) as u32;
                let inv = pl.scale.max(Vec3::splat(1e-6)).recip();
                vertices.extend(mesh_v.iter().map(|v| {
                    let local = Vec3::from(v.position) * pl.scale;
                    let n = (pl.rotation * (Vec3::from(v.normal) * inv)).normalize_or_zero();
                    SceneVertex {
                        position: (pl.position + pl.rotation * local).to_array(),
                        normal: [snorm8(n.x), snorm8(n.y), snorm8(n.z), 0],
                        color: pl.color,
                    }
                }));
                indices.extend(mesh_i.iter().map(|&i| i + first));
            }
        }
        Ok(())
    }
}

/// Spheres with a projected radius of at least this many (supersampled) pixels use the
/// 16-segment mesh; at least [`LOD_PIXELS_MID`], the 12-segment one; else 8 segments.
pub const LOD_PIXELS_HIGH: f32 = 24.0;
/// See [`LOD_PIXELS_HIGH`]; cylinders and capsule bodies use 16 segments from here up, else 8.
pub const LOD_PIXELS_MID: f32 = 10.0;

/// Pixels per unit of `size / distance` for a render target `target_height` pixels high:
/// a sphere of radius r at distance d covers about `r / d * lod_scale` pixels of radius.
pub fn lod_scale(scene: &Scene, target_height: u32) -> f32 {
    0.5 * target_height as f32 / (0.5 * scene.camera.fovy_deg.to_radians()).tan()
}

/// Projected radius in pixels of a round part of `radius` at `centre` (infinite when the
/// camera is inside it).
fn projected(centre: Vec3, radius: f32, eye: Vec3, lod_scale: f32) -> f32 {
    let d = (centre - eye).length();
    if d <= radius {
        f32::INFINITY
    } else {
        radius / d * lod_scale
    }
}

fn sphere_kind(px: f32) -> MeshKind {
    if px >= LOD_PIXELS_HIGH {
        MeshKind::SphereHigh
    } else if px >= LOD_PIXELS_MID {
        MeshKind::SphereMid
    } else {
        MeshKind::SphereLow
    }
}

/// The uniform block of `scene` drawn at aspect `width / height`.
pub fn scene_uniform(
    index: usize,
    scene: &Scene,
    aspect: f32,
) -> Result<SceneUniform, RenderError> {
    let err = |reason: String| RenderError::Scene { index, reason };
    camera::validate(&scene.camera).map_err(err)?;
    if scene.lights.len() > MAX_LIGHTS {
        return Err(err(format!(
            "{} lights given; at most {MAX_LIGHTS} directional lights are supported",
            scene.lights.len()
        )));
    }
    if !scene.ambient.is_finite() || !finite(&scene.background) {
        return Err(err("ambient or background is not finite".into()));
    }
    let mut u = SceneUniform::zeroed();
    u.view_proj = camera::view_proj(&scene.camera, aspect).to_cols_array_2d();
    let e = scene.camera.eye;
    u.eye_lights = [e[0], e[1], e[2], scene.lights.len() as f32];
    u.ambient = [scene.ambient.clamp(0.0, 1.0), 0.0, 0.0, 0.0];
    for (k, l) in scene.lights.iter().enumerate() {
        let d = glam::Vec3::from(l.direction);
        if !finite(&l.direction) || !finite(&l.color) || d.length() < 1e-6 {
            return Err(err(format!(
                "light {k} has a zero or non-finite direction or colour: {l:?}"
            )));
        }
        let d = d.normalize();
        u.light_dir[k] = [d.x, d.y, d.z, 0.0];
        u.light_color[k] = [
            l.color[0].max(0.0),
            l.color[1].max(0.0),
            l.color[2].max(0.0),
            0.0,
        ];
    }
    Ok(u)
}

/// Background colour as a wgpu clear colour (clamped to [0, 1]).
pub fn clear_color(scene: &Scene) -> wgpu::Color {
    let c = |v: f32| v.clamp(0.0, 1.0) as f64;
    wgpu::Color {
        r: c(scene.background[0]),
        g: c(scene.background[1]),
        b: c(scene.background[2]),
        a: 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo_scenes;

    fn build(scene: &Scene, target_height: u32) -> (Vec<SceneVertex>, Vec<u32>) {
        let meshes = MeshSet::build();
        let (mut v, mut i) = (Vec::new(), Vec::new());
        SceneBuilder::default()
            .append_scene(
                0,
                scene,
                lod_scale(scene, target_height),
                &meshes,
                &mut v,
                &mut i,
            )
            .unwrap();
        (v, i)
    }

    /// A capsule is a tube plus two sphere caps reaching `half_height + radius` along its axis;
    /// nearer (larger) shapes get finer meshes.
    #[test]
    fn capsules_and_levels_of_detail() {
        let mut s = demo_scenes::random_clevr_scene(0);
        s.shapes = vec![Shape::new(
            ShapeKind::Capsule {
                half_height: 0.2,
                radius: 0.05,
            },
            [0.0, 0.2, 0.0],
            [1.0, 0.0, 0.0],
        )];
        let (v, i) = build(&s, 256);
        let zmax = v.iter().map(|v| v.position[2]).fold(f32::MIN, f32::max);
        assert!((zmax - 0.25).abs() < 1e-4, "{zmax}");
        assert!(i.iter().all(|&k| (k as usize) < v.len()));
        // 0.05 m at ~2.2 m: about 7 px of radius at 256 px, so low-detail meshes (tube 16 +
        // two spheres of 48 triangles); at 2048 px the finest meshes.
        assert_eq!(i.len() / 3, 16 + 2 * 48);
        let (_, fine) = build(&s, 2048);
        assert_eq!(fine.len() / 3, 32 + 2 * 224);
    }

    #[test]
    fn too_many_lights_and_bad_rotations_are_errors() {
        let mut s = demo_scenes::random_clevr_scene(0);
        s.lights = vec![s.lights[0]; MAX_LIGHTS + 1];
        let e = scene_uniform(3, &s, 1.0).unwrap_err().to_string();
        assert!(e.contains("scene 3") && e.contains("at most 4"), "{e}");
        let mut s = demo_scenes::random_clevr_scene(0);
        s.shapes[2].rotation = [0.0, 0.0, 0.0, 2.0];
        let meshes = MeshSet::build();
        let e = SceneBuilder::default()
            .append_scene(1, &s, 100.0, &meshes, &mut Vec::new(), &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("shape 2") && e.contains("unit quaternion"),
            "{e}"
        );
    }
}
