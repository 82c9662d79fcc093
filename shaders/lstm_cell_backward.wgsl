// Backward of one LSTM cell step (shaders/lstm_cell.wgsl), one thread per
// (row b, unit j). dh holds the gradient of h_t from step t+1 (and h_n), plus
// dy (the gradient of the output y_t) when has_dy and the row is active (an
// ended row outputs the constant 0); dc the gradient of c_t from step t+1.
// In place:
//   dc <- dc_prev = dc_t * f,  where dc_t = dc + dh_t * o * (1 - tanh(c)^2)
//   dh <- the pass-through part of dh_prev (dh for ended rows, else 0); the
//         caller then adds d_gates_pre @ W_hh.
//   d_gates_pre[b, :] = (di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o))
// Ended rows (t >= lengths[b]) get zero gate gradients and pass dh, dc through.
//
// History:
//   v1 (0f91659, 2026-11-27): one thread per (b, j), in place on dh and dc.
//       523ba5b: tanh from common.wgsl. Measured only inside a step: H200
//       (Vulkan), DAMSM step (batch 48), binaries of 23b0c04: 36 dispatches,
//       0.22 ms (docs/gpu-check-h200-2026-11-28.txt).

struct Params {
    rows: u32,
    hidden: u32,
    t: u32,
    dh_off: u32,
    dc_off: u32,
    dy_off: u32,
    has_dy: u32,
    act_off: u32,
    cp_off: u32,
    c_off: u32,
    len_off: u32,
    dg_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dh: array<f32>;
@group(0) @binding(2) var<storage, read_write> dc: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> act: array<f32>;
@group(0) @binding(5) var<storage, read> c_prev: array<f32>;
@group(0) @binding(6) var<storage, read> c_cur: array<f32>;
@group(0) @binding(7) var<storage, read> lengths: array<f32>;
@group(0) @binding(8) var<storage, read_write> dg: array<f32>;

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
    var dh_t = dh[p.dh_off + idx];
    let dc_in = dc[p.dc_off + idx];
    var dh_pass = 0.0;
    if (f32(p.t) < lengths[p.len_off + b]) {
        if (p.has_dy != 0u) {
            dh_t += dy[p.dy_off + idx];
        }
        let gi = act[p.act_off + g4];
        let gf = act[p.act_off + g4 + H];
        let gg = act[p.act_off + g4 + 2u * H];
        let go = act[p.act_off + g4 + 3u * H];
        let tc = stable_tanh(c_cur[p.c_off + idx]);
        let dc_t = dc_in + dh_t * go * (1.0 - tc * tc);
        let d_o = dh_t * tc;
        let d_i = dc_t * gg;
        let d_g = dc_t * gi;
        let d_f = dc_t * c_prev[p.cp_off + idx];
        dg[p.dg_off + g4] = d_i * gi * (1.0 - gi);
        dg[p.dg_off + g4 + H] = d_f * gf * (1.0 - gf);
        dg[p.dg_off + g4 + 2u * H] = d_g * (1.0 - gg * gg);
        dg[p.dg_off + g4 + 3u * H] = d_o * go * (1.0 - go);
        dc[p.dc_off + idx] = dc_t * gf;
    } else {
        for (var k = 0u; k < 4u; k++) {
            dg[p.dg_off + g4 + k * H] = 0.0;
        }
        dh_pass = dh_t;
    }
    dh[p.dh_off + idx] = dh_pass;
}
