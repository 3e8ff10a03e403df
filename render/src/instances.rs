//! Turning a [`Scene`] into GPU data: per-instance records (one per drawn unit mesh, grouped by
//! mesh kind) and one uniform block per scene (camera, lights, ambient, background).
//! Capsules become a cylinder plus two sphere caps.

use crate::RenderError;
use crate::camera;
use crate::mesh::{MESH_KINDS, MeshKind};
use bytemuck::{Pod, Zeroable};
use vlgor_sim::{Scene, Shape, ShapeKind};

/// Most directional lights a scene may have.
pub const MAX_LIGHTS: usize = 4;

/// One instance of a unit mesh: world position, per-axis scale, rotation, colour.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Instance {
    /// xyz: centre (m); w: specular weight in [0, 1].
    pub position_specular: [f32; 4],
    /// xyz: scale of the unit mesh along its local axes (m); w unused.
    pub scale: [f32; 4],
    /// Unit quaternion [x, y, z, w].
    pub rotation: [f32; 4],
    /// rgb colour; a unused.
    pub color: [f32; 4],
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

/// Instances of one scene, grouped by mesh kind.
#[derive(Default)]
pub struct SceneInstances {
    pub by_kind: [Vec<Instance>; MESH_KINDS],
}

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
    if !finite(&s.position) || !finite(&s.rotation) || !finite(&s.color) || !s.specular.is_finite() {
        return Err(format!("shape {i} has non-finite position, rotation, colour or specular"));
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

fn push(out: &mut SceneInstances, kind: MeshKind, s: &Shape, pos: [f32; 3], rot: [f32; 4], scale: [f32; 3]) {
    let q = glam::Vec4::from(rot).normalize();
    out.by_kind[kind as usize].push(Instance {
        position_specular: [pos[0], pos[1], pos[2], s.specular.clamp(0.0, 1.0)],
        scale: [scale[0], scale[1], scale[2], 0.0],
        rotation: q.to_array(),
        color: [
            s.color[0].clamp(0.0, 1.0),
            s.color[1].clamp(0.0, 1.0),
            s.color[2].clamp(0.0, 1.0),
            1.0,
        ],
    });
}

/// Instances of `scene` (index `index` in its batch, for error messages).
pub fn scene_instances(index: usize, scene: &Scene, out: &mut SceneInstances) -> Result<(), RenderError> {
    for v in out.by_kind.iter_mut() {
        v.clear();
    }
    for (i, s) in scene.shapes.iter().enumerate() {
        check_shape(i, s).map_err(|reason| RenderError::Scene { index, reason })?;
        let (p, r) = (s.position, s.rotation);
        match s.kind {
            ShapeKind::Sphere { radius } => push(out, MeshKind::Sphere, s, p, r, [radius; 3]),
            ShapeKind::Box { half_extents } => push(out, MeshKind::Cube, s, p, r, half_extents),
            ShapeKind::Cylinder {
                half_height,
                radius,
            } => push(out, MeshKind::Cylinder, s, p, r, [radius, radius, half_height]),
            ShapeKind::Capsule {
                half_height,
                radius,
            } => {
                push(out, MeshKind::Cylinder, s, p, r, [radius, radius, half_height]);
                let q = glam::Quat::from_array(r).normalize();
                let axis = q * glam::Vec3::Z * half_height;
                for sign in [1.0f32, -1.0] {
                    let c = glam::Vec3::from(p) + axis * sign;
                    push(out, MeshKind::Sphere, s, c.to_array(), r, [radius; 3]);
                }
            }
            ShapeKind::Plane { half_extents } => {
                push(out, MeshKind::Plane, s, p, r, [half_extents[0], half_extents[1], 1.0])
            }
        }
    }
    Ok(())
}

/// The uniform block of `scene` drawn at aspect `width / height`.
pub fn scene_uniform(index: usize, scene: &Scene, aspect: f32) -> Result<SceneUniform, RenderError> {
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
        u.light_color[k] = [l.color[0].max(0.0), l.color[1].max(0.0), l.color[2].max(0.0), 0.0];
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
