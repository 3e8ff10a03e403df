// Box-filter downsampling of k x k supersampled layers into packed RGB8 bytes:
// thread g writes the 12 bytes of output pixels 4g..4g+3 (flattened [frame, y, x]) as 3 words.
struct Params {
    width: u32,
    height: u32,
    k: u32,
    frames: u32,
    base_word: u32,
    groups_x: u32,
    pad0: u32,
    pad1: u32,
};
@group(0) @binding(0) var src: texture_2d_array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

fn pixel(idx: u32) -> vec3<u32> {
    let hw = p.width * p.height;
    let f = idx / hw;
    if (f >= p.frames) {
        return vec3<u32>(0u);
    }
    let r = idx % hw;
    let x = (r % p.width) * p.k;
    let y = (r / p.width) * p.k;
    var sum = vec3<u32>(0u);
    for (var dy = 0u; dy < p.k; dy = dy + 1u) {
        for (var dx = 0u; dx < p.k; dx = dx + 1u) {
            let c = textureLoad(src, vec2<u32>(x + dx, y + dy), f, 0).rgb;
            sum = sum + vec3<u32>(round(c * 255.0));
        }
    }
    let kk = p.k * p.k;
    return (sum + vec3<u32>(kk / 2u)) / kk;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let g = gid.x + gid.y * p.groups_x * 64u;
    let first = g * 4u;
    if (first >= p.frames * p.width * p.height) {
        return;
    }
    let a = pixel(first);
    let b = pixel(first + 1u);
    let c = pixel(first + 2u);
    let d = pixel(first + 3u);
    let w = p.base_word + 3u * g;
    dst[w] = a.x | (a.y << 8u) | (a.z << 16u) | (b.x << 24u);
    dst[w + 1u] = b.y | (b.z << 8u) | (c.x << 16u) | (c.y << 24u);
    dst[w + 2u] = c.z | (d.x << 8u) | (d.y << 16u) | (d.z << 24u);
}
