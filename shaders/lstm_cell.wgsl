// The elementwise part of one LSTM time step (PyTorch gate order i, f, g, o),
// one thread per (row b, unit j), all four gates in the thread:
//   i = sigmoid(gp[b, j]),  f = sigmoid(gp[b, H + j]),
//   g = tanh(gp[b, 2H + j]), o = sigmoid(gp[b, 3H + j])
//   c = f * c_prev + i * g,  h = o * tanh(c)
// Rows whose sequence has ended (t >= lengths[b]) keep h and c unchanged and
// output 0; their saved activations are 0. Writes h, c, the activations
// (for the backward) and the step's output y (h, or 0 for ended rows).
//
// History:
//   v1 (0f91659, 2026-11-27): the four gates of one (b, j) in one thread,
//       ended rows keep their state. 523ba5b: tanh and sigmoid from
//       common.wgsl. Measured only inside a step: H200 (Vulkan), DAMSM step
//       (batch 48), binaries of 23b0c04: 36 dispatches, 0.21 ms
//       (docs/gpu-check-h200-2026-11-28.txt).

struct Params {
    rows: u32, // B
    hidden: u32, // H
    t: u32,
    gp_off: u32,
    hp_off: u32,
    cp_off: u32,
    len_off: u32,
    h_off: u32,
    c_off: u32,
    act_off: u32,
    y_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gp: array<f32>;
@group(0) @binding(2) var<storage, read> h_prev: array<f32>;
@group(0) @binding(3) var<storage, read> c_prev: array<f32>;
@group(0) @binding(4) var<storage, read> lengths: array<f32>;
@group(0) @binding(5) var<storage, read_write> h_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> c_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> act: array<f32>;
@group(0) @binding(8) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let idx = group_index(wid, nwg) * 64u + lid;
    let H = p.hidden;
    if (idx >= p.rows * H) {
        return;
    }
    let b = idx / H;
    let j = idx % H;
    let g4 = b * 4u * H + j;
    let cp = c_prev[p.cp_off + idx];
    if (f32(p.t) < lengths[p.len_off + b]) {
        let gi = stable_sigmoid(gp[p.gp_off + g4]);
        let gf = stable_sigmoid(gp[p.gp_off + g4 + H]);
        let gg = stable_tanh(gp[p.gp_off + g4 + 2u * H]);
        let go = stable_sigmoid(gp[p.gp_off + g4 + 3u * H]);
        let c = gf * cp + gi * gg;
        let h = go * stable_tanh(c);
        act[p.act_off + g4] = gi;
        act[p.act_off + g4 + H] = gf;
        act[p.act_off + g4 + 2u * H] = gg;
        act[p.act_off + g4 + 3u * H] = go;
        c_out[p.c_off + idx] = c;
        h_out[p.h_off + idx] = h;
        y[p.y_off + idx] = h;
    } else {
        for (var k = 0u; k < 4u; k++) {
            act[p.act_off + g4 + k * H] = 0.0;
        }
        c_out[p.c_off + idx] = cp;
        h_out[p.h_off + idx] = h_prev[p.hp_off + idx];
        y[p.y_off + idx] = 0.0;
    }
}
