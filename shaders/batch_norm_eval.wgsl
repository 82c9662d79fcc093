// Batch norm, eval mode: y = (x - running_mean) / sqrt(running_var + eps)
// * gamma + beta, one thread per element of x viewed as [n, c, inner].
//
// History:
//   v1 (1118d75, 2026-11-27): one thread per element; unchanged since.
//       Measured only inside a step: H200 (Vulkan), AttnGAN birds step
//       (batch 20), binaries of 8198dc5: 4 dispatches, 0.03 ms
//       (docs/bench-h200-tiled-gemm.json).

struct Params {
    total: u32,
    c: u32,
    inner: u32,
    x_off: u32,
    g_off: u32,
    b_off: u32,
    rm_off: u32,
    rv_off: u32,
    y_off: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> run_mean: array<f32>;
@group(0) @binding(5) var<storage, read> run_var: array<f32>;
@group(0) @binding(6) var<storage, read_write> ys: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
    if (i >= p.total) {
        return;
    }
    let c = (i / p.inner) % p.c;
    let scale = gamma[p.g_off + c] / sqrt(run_var[p.rv_off + c] + p.eps);
    ys[p.y_off + i] = (xs[p.x_off + i] - run_mean[p.rm_off + c]) * scale + beta[p.b_off + c];
}
