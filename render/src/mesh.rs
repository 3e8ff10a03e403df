//! Unit meshes, one per primitive kind, generated once and stored in one vertex and one index
//! buffer. Every scene shape becomes instances of these meshes scaled per axis (see
//! [`crate::instances`]). All meshes wind counter-clockwise seen from outside (back faces are
//! culled); normals are smooth on spheres and cylinder sides.

use bytemuck::{Pod, Zeroable};
use std::f32::consts::PI;

/// One mesh vertex: position and outward normal in the mesh's local frame.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Vertex {
    pub position: [f32; 3],
    pub normal: [f32; 3],
}

/// Which unit mesh a shape uses. Spheres and cylinders come in levels of detail picked by
/// their projected size ([`crate::geometry`]). Meshes are emitted in this order (the large
/// plane last, so that the depth test rejects its hidden pixels early).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeshKind {
    /// Radius 1 around the origin, 16 segments x 8 rings (224 triangles).
    SphereHigh = 0,
    /// 12 x 6 (120 triangles).
    SphereMid = 1,
    /// 8 x 4 (48 triangles).
    SphereLow = 2,
    /// Half extents 1 (the cube [-1, 1]^3), 12 triangles.
    Cube = 3,
    /// Radius 1, axis along z, z in [-1, 1], with end caps, 16 segments (64 triangles).
    CylinderHigh = 4,
    /// 8 segments (32 triangles).
    CylinderLow = 5,
    /// A cylinder without end caps (capsule bodies), 16 segments (32 triangles).
    TubeHigh = 6,
    /// 8 segments (16 triangles).
    TubeLow = 7,
    /// The square [-1, 1]^2 at z = 0, both faces (normals +z and -z).
    Plane = 8,
}

/// Number of mesh kinds.
pub const MESH_KINDS: usize = 9;

/// Where one mesh lives in the shared buffers.
#[derive(Clone, Copy, Debug)]
pub struct MeshRange {
    pub first_index: u32,
    pub index_count: u32,
    pub base_vertex: i32,
}

/// All unit meshes packed together.
pub struct MeshSet {
    pub vertices: Vec<Vertex>,
    /// Indices of each mesh count from that mesh's first vertex (`base_vertex`).
    pub indices: Vec<u32>,
    pub ranges: [MeshRange; MESH_KINDS],
    /// Vertices of each mesh.
    pub vertex_counts: [usize; MESH_KINDS],
}

struct Builder {
    v: Vec<Vertex>,
    i: Vec<u32>,
}

impl Builder {
    fn vert(&mut self, p: [f32; 3], n: [f32; 3]) -> u32 {
        self.v.push(Vertex {
            position: p,
            normal: n,
        });
        (self.v.len() - 1) as u32
    }
    fn tri(&mut self, a: u32, b: u32, c: u32) {
        self.i.extend_from_slice(&[a, b, c]);
    }
    fn quad(&mut self, a: u32, b: u32, c: u32, d: u32) {
        self.tri(a, b, c);
        self.tri(a, c, d);
    }
}

fn sphere_with(b: &mut Builder, seg: u32) {
    let rings = seg / 2;
    // Vertex grid: ring r from north pole (r = 0) to south pole (r = rings), seg + 1 columns.
    let mut grid = Vec::new();
    for r in 0..=rings {
        let theta = PI * r as f32 / rings as f32;
        for s in 0..=seg {
            let phi = 2.0 * PI * s as f32 / seg as f32;
            let p = [
                theta.sin() * phi.cos(),
                theta.sin() * phi.sin(),
                theta.cos(),
            ];
            grid.push(b.vert(p, p));
        }
    }
    let at = |r: u32, s: u32| grid[(r * (seg + 1) + s) as usize];
    for r in 0..rings {
        for s in 0..seg {
            let (a, bb, c, d) = (at(r, s), at(r + 1, s), at(r + 1, s + 1), at(r, s + 1));
            if r == 0 {
                b.tri(a, bb, c);
            } else if r == rings - 1 {
                b.tri(a, bb, d);
            } else {
                b.quad(a, bb, c, d);
            }
        }
    }
}

fn cube(b: &mut Builder) {
    // For each axis and sign: a face with outward normal n and two tangents t1 x t2 = n.
    for axis in 0..3 {
        for sign in [1.0f32, -1.0] {
            let mut n = [0.0; 3];
            n[axis] = sign;
            let (u, w) = ((axis + 1) % 3, (axis + 2) % 3);
            let mut corners = [[0.0f32; 3]; 4];
            for (k, (cu, cw)) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
                .into_iter()
                .enumerate()
            {
                corners[k][axis] = sign;
                corners[k][u] = cu;
                corners[k][w] = cw * sign;
            }
            let ids: Vec<u32> = corners.iter().map(|&c| b.vert(c, n)).collect();
            b.quad(ids[0], ids[1], ids[2], ids[3]);
        }
    }
}

fn cylinder_with(b: &mut Builder, seg: u32, caps: bool) {
    let ring = |s: u32| {
        let phi = 2.0 * PI * s as f32 / seg as f32;
        (phi.cos(), phi.sin())
    };
    for s in 0..seg {
        let (c0, s0) = ring(s);
        let (c1, s1) = ring(s + 1);
        let a = b.vert([c0, s0, -1.0], [c0, s0, 0.0]);
        let bb = b.vert([c1, s1, -1.0], [c1, s1, 0.0]);
        let c = b.vert([c1, s1, 1.0], [c1, s1, 0.0]);
        let d = b.vert([c0, s0, 1.0], [c0, s0, 0.0]);
        b.quad(a, bb, c, d);
    }
    if !caps {
        return;
    }
    for (z, nz) in [(1.0f32, 1.0f32), (-1.0, -1.0)] {
        let centre = b.vert([0.0, 0.0, z], [0.0, 0.0, nz]);
        let rim: Vec<u32> = (0..seg)
            .map(|s| {
                let (c, sn) = ring(s);
                b.vert([c, sn, z], [0.0, 0.0, nz])
            })
            .collect();
        for s in 0..seg as usize {
            let (p, q) = (rim[s], rim[(s + 1) % seg as usize]);
            if nz > 0.0 {
                b.tri(centre, p, q);
            } else {
                b.tri(centre, q, p);
            }
        }
    }
}

fn plane(b: &mut Builder) {
    for nz in [1.0f32, -1.0] {
        let n = [0.0, 0.0, nz];
        let ids: Vec<u32> = [[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]
            .iter()
            .map(|&[x, y]| b.vert([x, y, 0.0], n))
            .collect();
        if nz > 0.0 {
            b.quad(ids[0], ids[1], ids[2], ids[3]);
        } else {
            b.quad(ids[0], ids[3], ids[2], ids[1]);
        }
    }
}

impl MeshSet {
    /// Builds the four unit meshes.
    pub fn build() -> MeshSet {
        let mut b = Builder {
            v: Vec::new(),
            i: Vec::new(),
        };
        let mut ranges = [MeshRange {
            first_index: 0,
            index_count: 0,
            base_vertex: 0,
        }; MESH_KINDS];
        let mut vertex_counts = [0; MESH_KINDS];
        let makers: [fn(&mut Builder); MESH_KINDS] = [
            |b| sphere_with(b, 16),
            |b| sphere_with(b, 12),
            |b| sphere_with(b, 8),
            cube,
            |b| cylinder_with(b, 16, true),
            |b| cylinder_with(b, 8, true),
            |b| cylinder_with(b, 16, false),
            |b| cylinder_with(b, 8, false),
            plane,
        ];
        for (k, make) in makers.iter().enumerate() {
            let (v0, i0) = (b.v.len(), b.i.len());
            let mut local = Builder {
                v: Vec::new(),
                i: Vec::new(),
            };
            make(&mut local);
            vertex_counts[k] = local.v.len();
            b.v.extend(local.v);
            b.i.extend(local.i);
            ranges[k] = MeshRange {
                first_index: i0 as u32,
                index_count: (b.i.len() - i0) as u32,
                base_vertex: v0 as i32,
            };
        }
        MeshSet {
            vertices: b.v,
            indices: b.i,
            ranges,
            vertex_counts,
        }
    }

    /// Triangles in the mesh of `kind`.
    pub fn triangles(&self, kind: MeshKind) -> u32 {
        self.ranges[kind as usize].index_count / 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::Vec3;

    /// Every triangle faces outwards: its geometric normal agrees with the vertex normals.
    #[test]
    fn triangles_wind_counter_clockwise_from_outside() {
        let set = MeshSet::build();
        for r in set.ranges {
            let idx =
                &set.indices[r.first_index as usize..(r.first_index + r.index_count) as usize];
            for t in idx.chunks(3) {
                let v = |k: usize| set.vertices[(t[k] as i32 + r.base_vertex) as usize];
                let (a, b, c) = (v(0), v(1), v(2));
                let (pa, pb, pc) = (
                    Vec3::from(a.position),
                    Vec3::from(b.position),
                    Vec3::from(c.position),
                );
                let geo = (pb - pa).cross(pc - pa);
                let n = Vec3::from(a.normal) + Vec3::from(b.normal) + Vec3::from(c.normal);
                assert!(geo.length() > 1e-6, "degenerate triangle");
                assert!(geo.dot(n) > 0.0, "inward-facing triangle {t:?}");
            }
        }
        let counts = [224, 120, 48, 12, 64, 32, 32, 16, 4];
        let kinds = [
            MeshKind::SphereHigh,
            MeshKind::SphereMid,
            MeshKind::SphereLow,
            MeshKind::Cube,
            MeshKind::CylinderHigh,
            MeshKind::CylinderLow,
            MeshKind::TubeHigh,
            MeshKind::TubeLow,
            MeshKind::Plane,
        ];
        for (k, c) in kinds.iter().zip(counts) {
            assert_eq!(set.triangles(*k), c, "{k:?}");
        }
    }
}
