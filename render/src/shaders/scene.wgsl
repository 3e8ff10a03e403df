// Lit, depth-tested drawing of world-space triangles (built on the CPU, see geometry.rs).
// Colours are written as given (no gamma).
struct SceneU {
    view_proj: mat4x4<f32>,
    eye_lights: vec4<f32>,
    ambient: vec4<f32>,
    light_dir: array<vec4<f32>, 4>,
    light_color: array<vec4<f32>, 4>,
    pad: array<vec4<f32>, 2>,
};
@group(0) @binding(0) var<uniform> u: SceneU;

struct VIn {
    // World position, normal (snorm8) and colour (unorm8; a = specular weight).
    @location(0) pos: vec3<f32>,
    @location(1) normal: vec4<f32>,
    @location(2) color: vec4<f32>,
};

struct VOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) color: vec3<f32>,
};

// Lighting is evaluated per vertex (Gouraud) and interpolated: the meshes are fine enough for
// the small frames we draw, and on a CPU rasteriser this keeps the per-pixel work minimal.
@vertex
fn vs(i: VIn) -> VOut {
    var o: VOut;
    let world = i.pos;
    o.clip = u.view_proj * vec4<f32>(world, 1.0);
    let n = i.normal.xyz * inverseSqrt(max(dot(i.normal.xyz, i.normal.xyz), 1e-12));
    let to_eye = normalize(u.eye_lights.xyz - world);
    let base = i.color.rgb;
    let spec = i.color.a;
    var col = base * u.ambient.x;
    // Fixed trip count: unused light slots have zero colour. (A loop bound read from a uniform
    // makes lavapipe re-specialise and recompile the shader for every draw.)
    for (var k = 0u; k < 4u; k = k + 1u) {
        let l = -u.light_dir[k].xyz;
        let lc = u.light_color[k].rgb;
        let hv = l + to_eye;
        let h = hv * inverseSqrt(max(dot(hv, hv), 1e-12));
        col = col + base * lc * max(dot(n, l), 0.0)
            + lc * (0.5 * spec * pow(max(dot(n, h), 0.0), 16.0));
    }
    o.color = clamp(col, vec3<f32>(0.0), vec3<f32>(1.0));
    return o;
}

@fragment
fn fs(v: VOut) -> @location(0) vec4<f32> {
    return vec4<f32>(v.color, 1.0);
}
