// Prepended to every kernel by the runtime (src/runtime/kernels.rs).

// Linear index of this workgroup in a grid that the host folded into 2-D
// when it had more than 65,535 workgroups (Runtime::fold_grid).
fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}
