// Fragment (//#include vec4): the element type of kernels that move 4 values
// per invocation where sizes and offsets allow (the host checks, with
// ops::vec4_fits). With VEC4, V is vec4<f32> and L = 4, else f32 and 1;
// hsum sums a V. Why: llvmpipe loads or stores a vec4 per lane as one
// contiguous access, where scalar accesses at computed addresses are gathers
// and scatters (batch norm, the elementwise ops, Adam: 2-3x, measured in
// their headers).
//#if VEC4
alias V = vec4<f32>;
const L: u32 = 4u;
fn hsum(v: V) -> f32 {
    return v.x + v.y + v.z + v.w;
}
//#else
alias V = f32;
const L: u32 = 1u;
fn hsum(v: V) -> f32 {
    return v;
}
//#endif
