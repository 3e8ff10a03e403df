// Lit, depth-tested drawing of unit-mesh instances. Colours are written as given (no gamma).
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
    @location(0) pos: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) pos_spec: vec4<f32>,
    @location(3) scale: vec4<f32>,
    @location(4) rot: vec4<f32>,
    @location(5) color: vec4<f32>,
};

struct VOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) world: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) color: vec3<f32>,
    @location(3) spec: f32,
};

fn qrot(q: vec4<f32>, v: vec3<f32>) -> vec3<f32> {
    let t = 2.0 * cross(q.xyz, v);
    return v + q.w * t + cross(q.xyz, t);
}

@vertex
fn vs(i: VIn) -> VOut {
    var o: VOut;
    let world = i.pos_spec.xyz + qrot(i.rot, i.pos * i.scale.xyz);
    o.clip = u.view_proj * vec4<f32>(world, 1.0);
    o.world = world;
    // Normals transform with the inverse transpose: divide by the per-axis scale.
    o.normal = qrot(i.rot, i.normal / max(i.scale.xyz, vec3<f32>(1e-6)));
    o.color = i.color.rgb;
    o.spec = i.pos_spec.w;
    return o;
}

@fragment
fn fs(v: VOut) -> @location(0) vec4<f32> {
    let n = normalize(v.normal);
    let to_eye = normalize(u.eye_lights.xyz - v.world);
    var col = v.color * u.ambient.x;
    let count = u32(u.eye_lights.w);
    for (var k = 0u; k < count; k = k + 1u) {
        let l = -u.light_dir[k].xyz;
        let lc = u.light_color[k].rgb;
        col = col + v.color * lc * max(dot(n, l), 0.0);
        if (v.spec > 0.0) {
            let h = normalize(l + to_eye);
            col = col + lc * (0.5 * v.spec * pow(max(dot(n, h), 0.0), 32.0));
        }
    }
    return vec4<f32>(clamp(col, vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}
