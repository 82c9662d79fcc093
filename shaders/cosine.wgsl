// Cosine similarity along the middle axis of x, y viewed as [outer, D, inner]
// (PyTorch's F.cosine_similarity: x.y / max(|x| |y|, eps)); one thread per
// (outer, inner) pair walks D. With VEC4 (inner = 1, D and the offsets
// multiples of 4) it walks its contiguous row in vec4s (one contiguous load
// per lane on llvmpipe, where scalar loads at computed addresses gather).
//   forward:  out[o, i] = dot / max(a * b, eps), a = |x|, b = |y|   -> [outer, inner]
//   backward: with g = dout[o, i] and n = a * b,
//             n > eps:  dx = g * (y / n - out * x / a^2), dy = g * (x / n - out * y / b^2)
//             n <= eps: dx = g * y / eps, dy = g * x / eps (the denominator is the constant eps)
//
// History:
//   v1 (4a12922, 2026-11-27): one thread per (outer, inner), both gradients
//       in one backward kernel; unchanged since. Measured only inside a step:
//       H200 (Vulkan), DAMSM step (batch 48), binaries of 23b0c04: one
//       dispatch each, 0.10 ms forward, 0.53 ms backward
//       (docs/gpu-check-h200-2026-11-28.txt).
//   v2 (2026-12-06): VEC4.

struct Params {
    outer: u32,
    d: u32,
    inner: u32,
    x_off: u32,
    y_off: u32,
    g_off: u32,
    out_off: u32,
    dx_off: u32,
    dy_off: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
//#include vec4
@group(0) @binding(1) var<storage, read> xs: array<V>;
@group(0) @binding(2) var<storage, read> ys: array<V>;
//#if BACKWARD
@group(0) @binding(3) var<storage, read> gs: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<V>;
@group(0) @binding(5) var<storage, read_write> dy: array<V>;
//#else
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
//#endif

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let k = group_index(wid, nwg) * 64u + lid;
    if (k >= p.outer * p.inner) {
        return;
    }
    let o = k / p.inner;
    let i = k % p.inner;
    // Element (o, 0, i) in units of V; a step along D is inner of them (1
    // with VEC4).
    let base = (o * p.d * p.inner + i) / L;
    let d = p.d / L;
    let x_off = p.x_off / L;
    let y_off = p.y_off / L;
    var dotv = V(0.0);
    var xxv = V(0.0);
    var yyv = V(0.0);
    for (var j = 0u; j < d; j++) {
        let x = xs[x_off + base + j * p.inner];
        let y = ys[y_off + base + j * p.inner];
        dotv += x * y;
        xxv += x * x;
        yyv += y * y;
    }
    let dot = hsum(dotv);
    let xx = hsum(xxv);
    let yy = hsum(yyv);
    // Norms first, then their product: the product of the squares could overflow.
    let a = sqrt(xx);
    let b = sqrt(yy);
    let n = a * b;
//#if BACKWARD
    let g = gs[p.g_off + k];
    var cx = 0.0; // coefficient of x in dx (and of y in dy: cy)
    var cy = 0.0;
    var inv_n = 1.0 / p.eps;
    if (n > p.eps) {
        inv_n = 1.0 / n;
        let cos = dot * inv_n;
        cx = -cos / xx;
        cy = -cos / yy;
    }
    let dx_off = p.dx_off / L;
    let dy_off = p.dy_off / L;
    for (var j = 0u; j < d; j++) {
        let e = base + j * p.inner;
        let x = xs[x_off + e];
        let y = ys[y_off + e];
        dx[dx_off + e] = g * (y * inv_n + cx * x);
        dy[dy_off + e] = g * (x * inv_n + cy * y);
    }
//#else
    out[p.out_off + k] = dot / max(n, p.eps);
//#endif
}
