// Prepended to every kernel by the runtime (src/runtime/kernels.rs).

// Linear index of this workgroup in a grid that the host folded into 2-D
// when it had more than 65,535 workgroups (Runtime::fold_grid).
fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

// k / d (d >= 1) without an integer division, exact for k <= 2^20: llvmpipe
// turns a vector udiv into one scalar division per lane. The f32 quotient
// is then within 3 ulps of k / d (Vulkan allows 2.5), that is off by less
// than 1, and one correction each way makes it exact (the rule is checked
// on the CPU by kernels-tests/conv.rs, f32_quotient_rule_is_exact_below_its_limit).
// (Batch norm's element decoding, with a uniform divisor, ran slower with
// it: forward [8,64,64,64] 9.7 -> 10.8 ms.)
fn quot_f32(k: u32, d: u32) -> u32 {
    var q = u32(f32(k) / f32(d));
    q = select(q, q - 1u, q * d > k);
    q = select(q, q + 1u, (q + 1u) * d <= k);
    return q;
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
