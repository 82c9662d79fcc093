
struct P { M: u32, N: u32, K: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn load_a(m: u32, k: u32) -> f32 {
    if (m >= p.M) { return 0.0; }
    return a[m * p.K + k];
}
fn load_b(k: u32, n: u32) -> f32 {
    if (n >= p.N) { return 0.0; }
    return b[k * p.N + n];
}
fn store_c(m: u32, n: u32, v: f32) {
    if (m < p.M && n < p.N) { c[m * p.N + n] = v; }
}
fn fetch_a(m: u32, k: u32) -> vec4<f32> {
    return vec4<f32>(load_a(m, k), load_a(m, k + 1u), load_a(m, k + 2u), load_a(m, k + 3u));
}
var<private> acc: array<vec2<f32>, 16>;
fn kstep(x0: f32, x1: f32, b: vec2<f32>) {
    acc[0] = fma(vec2<f32>(subgroupBroadcast(x0, 0u)), b, acc[0]);
    acc[1] = fma(vec2<f32>(subgroupBroadcast(x0, 1u)), b, acc[1]);
    acc[2] = fma(vec2<f32>(subgroupBroadcast(x0, 2u)), b, acc[2]);
    acc[3] = fma(vec2<f32>(subgroupBroadcast(x0, 3u)), b, acc[3]);
    acc[4] = fma(vec2<f32>(subgroupBroadcast(x0, 4u)), b, acc[4]);
    acc[5] = fma(vec2<f32>(subgroupBroadcast(x0, 5u)), b, acc[5]);
    acc[6] = fma(vec2<f32>(subgroupBroadcast(x0, 6u)), b, acc[6]);
    acc[7] = fma(vec2<f32>(subgroupBroadcast(x0, 7u)), b, acc[7]);
    acc[8] = fma(vec2<f32>(subgroupBroadcast(x1, 0u)), b, acc[8]);
    acc[9] = fma(vec2<f32>(subgroupBroadcast(x1, 1u)), b, acc[9]);
    acc[10] = fma(vec2<f32>(subgroupBroadcast(x1, 2u)), b, acc[10]);
    acc[11] = fma(vec2<f32>(subgroupBroadcast(x1, 3u)), b, acc[11]);
    acc[12] = fma(vec2<f32>(subgroupBroadcast(x1, 4u)), b, acc[12]);
    acc[13] = fma(vec2<f32>(subgroupBroadcast(x1, 5u)), b, acc[13]);
    acc[14] = fma(vec2<f32>(subgroupBroadcast(x1, 6u)), b, acc[14]);
    acc[15] = fma(vec2<f32>(subgroupBroadcast(x1, 7u)), b, acc[15]);
}
fn store2(m: u32, n: u32, v: vec2<f32>) {
    store_c(m, n, v.x);
    store_c(m, n + 8u, v.y);
}
@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let tm = wid.y * 16u;
    let tn = wid.x * 16u;
    let am0 = tm + li;
    let am1 = tm + 8u + li;
    let bn0 = tn + li;
    let bn1 = tn + 8u + li;
    var k = 0u;
    for (; k + 4u <= p.K; k += 4u) {
        let a0 = fetch_a(am0, k);
        let a1 = fetch_a(am1, k);
        kstep(a0.x, a1.x, vec2<f32>(load_b(k, bn0), load_b(k, bn1)));
        kstep(a0.y, a1.y, vec2<f32>(load_b(k + 1u, bn0), load_b(k + 1u, bn1)));
        kstep(a0.z, a1.z, vec2<f32>(load_b(k + 2u, bn0), load_b(k + 2u, bn1)));
        kstep(a0.w, a1.w, vec2<f32>(load_b(k + 3u, bn0), load_b(k + 3u, bn1)));
    }
    for (; k < p.K; k++) {
        kstep(load_a(am0, k), load_a(am1, k), vec2<f32>(load_b(k, bn0), load_b(k, bn1)));
    }
    store2(tm + 0u, tn + li, acc[0]);
    store2(tm + 1u, tn + li, acc[1]);
    store2(tm + 2u, tn + li, acc[2]);
    store2(tm + 3u, tn + li, acc[3]);
    store2(tm + 4u, tn + li, acc[4]);
    store2(tm + 5u, tn + li, acc[5]);
    store2(tm + 6u, tn + li, acc[6]);
    store2(tm + 7u, tn + li, acc[7]);
    store2(tm + 8u, tn + li, acc[8]);
    store2(tm + 9u, tn + li, acc[9]);
    store2(tm + 10u, tn + li, acc[10]);
    store2(tm + 11u, tn + li, acc[11]);
    store2(tm + 12u, tn + li, acc[12]);
    store2(tm + 13u, tn + li, acc[13]);
    store2(tm + 14u, tn + li, acc[14]);
    store2(tm + 15u, tn + li, acc[15]);
}
