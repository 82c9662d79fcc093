// Elementwise binary ops with broadcasting: out[i] = f(a[ia], b[ib]).
// The output is viewed as 5-D [d0, d1, d2, d3, d4]; a and b have a stride per
// axis, 0 where they are broadcast. With SAME=1 both are contiguous and of the
// output's shape, and the index arithmetic is skipped. With VEC4 (n, d4 and
// the offsets multiples of 4) an invocation does 4 elements of the last axis
// as vec4s (V is the element type, L its width), since llvmpipe loads a vec4
// per lane as one contiguous load where scalar loads at computed addresses
// gather, and the index arithmetic (a division per axis, scalarized there)
// is paid once per 4; an operand with A_VEC / B_VEC reads vec4s (stride 1 on
// the last axis), one without reads its value and splats it (stride 0).
// {{EXPR}} is the op, an expression in a and b (src/ops/binary.rs).
//
// History:
//   v1 (70108ac, 2026-11-27): 5-D broadcasting with the SAME fast path;
//       unchanged since. Elementwise add [8,64,64,64]: 4.58 ms = 5.50 GB/s
//       (71.4% of the copy ceiling) on lavapipe Mesa 22.3.6, 2-core Zen 3, at
//       a193e16 (README); 15.6 and 16.3 ms = 1.6 GB/s on lavapipe Mesa
//       25.0.7, 2-core EPYC, at 21c7c85 (docs/bench-lavapipe-mesa25-*.json).
//       H200 (Vulkan), [20,64,128,128]: 0.09 ms at a193e16, 0.24 ms at
//       8198dc5, 0.23 ms at 23b0c04, the same kernel [PyTorch 0.061 ms].
//   v2 (2026-12-05): VEC4.
//   v3 (2026-12-06): VEC4 with broadcasting (A_VEC, B_VEC).

struct Params {
    n: u32,
    a_off: u32,
    b_off: u32,
    out_off: u32,
    d1: u32,
    d2: u32,
    d3: u32,
    d4: u32,
    sa0: u32,
    sa1: u32,
    sa2: u32,
    sa3: u32,
    sa4: u32,
    sb0: u32,
    sb1: u32,
    sb2: u32,
    sb3: u32,
    sb4: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
//#include vec4
//#if A_VEC
alias VA = vec4<f32>;
const LA: u32 = 4u;
//#else
alias VA = f32;
const LA: u32 = 1u;
//#endif
//#if B_VEC
alias VB = vec4<f32>;
const LB: u32 = 4u;
//#else
alias VB = f32;
const LB: u32 = 1u;
//#endif

@group(0) @binding(1) var<storage, read> xa: array<VA>;
@group(0) @binding(2) var<storage, read> xb: array<VB>;
@group(0) @binding(3) var<storage, read_write> out: array<V>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
    if (i >= p.n / L) {
        return;
    }
//#if SAME
    let ia = p.a_off / L + i;
    let ib = p.b_off / L + i;
//#else
    // i counts groups of L along the last axis.
    var r = i;
    let i4 = (r % (p.d4 / L)) * L;
    r = r / (p.d4 / L);
    let i3 = r % p.d3;
    r = r / p.d3;
    let i2 = r % p.d2;
    r = r / p.d2;
    let i1 = r % p.d1;
    let i0 = r / p.d1;
    let ia = (p.a_off + i0 * p.sa0 + i1 * p.sa1 + i2 * p.sa2 + i3 * p.sa3 + i4 * p.sa4) / LA;
    let ib = (p.b_off + i0 * p.sb0 + i1 * p.sb1 + i2 * p.sb2 + i3 * p.sb3 + i4 * p.sb4) / LB;
//#endif
    let a = V(xa[ia]);
    let b = V(xb[ib]);
    out[p.out_off / L + i] = {{EXPR}};
}
