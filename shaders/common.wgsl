// Prepended to every kernel by the runtime (src/runtime/kernels.rs).

// Linear index of this workgroup in a grid that the host folded into 2-D
// when it had more than 65,535 workgroups (Runtime::fold_grid).
fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

// tanh without overflow for large |x|.
fn stable_tanh(x: f32) -> f32 {
    let e = exp(-2.0 * abs(x));
    return sign(x) * (1.0 - e) / (1.0 + e);
}

// sigmoid without overflow for large |x|.
fn stable_sigmoid(x: f32) -> f32 {
    let e = exp(-abs(x));
    return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}
