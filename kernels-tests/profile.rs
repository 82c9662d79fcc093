//! The profiler: exact dispatch counts per kernel, positive GPU times that fit
//! in the wall time, and the host-side counters (uploads, pool misses,
//! readbacks, submits) of a small known sequence of ops.

use wgpu_attngan::ops::matmul::matmul;
use wgpu_attngan::{Runtime, Tensor};

use crate::common::{random_vec, rng, seed};

/// A runtime of its own: other tests' dispatches must not land in the profile.
fn own_runtime() -> Runtime {
    Runtime::new().unwrap_or_else(|e| panic!("{e}"))
}

fn timestamps(rt: &Runtime) -> bool {
    rt.features().contains(wgpu::Features::TIMESTAMP_QUERY)
}

#[test]
fn profile_counts_dispatches_uploads_and_misses_of_two_matmuls_and_an_add() {
    let rt = own_runtime();
    let (m, k) = (96, 80);
    let s = seed();
    let mut r = rng(s);
    let a_data = random_vec(&mut r, m * k, -1.0, 1.0);
    let b = Tensor::from_slice(&rt, &random_vec(&mut r, k * k, -1.0, 1.0), &[k, k]).unwrap();
    let matmul_name = match rt.flavour() {
        wgpu_attngan::runtime::Flavour::Registers => "matmul",
        wgpu_attngan::runtime::Flavour::Tiled | wgpu_attngan::runtime::Flavour::Subgroups => {
            "matmul_tiled"
        }
    };
    // Warm-up: pipelines compiled outside the profile.
    let a = Tensor::from_slice(&rt, &a_data, &[m, k]).unwrap();
    matmul(&a, &b, false, false).unwrap().add(&a).unwrap();
    drop(a);
    rt.sync().unwrap();
    rt.trim_memory();

    let (out, p) = rt
        .profile(|| {
            let a = Tensor::from_slice(&rt, &a_data, &[m, k])?;
            let c = matmul(&a, &b, false, false)?;
            let d = matmul(&c, &b, false, false)?;
            c.add(&d)?.to_vec()
        })
        .unwrap();
    assert_eq!(out.len(), m * k);
    assert!(out.iter().all(|v| v.is_finite()), "seed {s}");

    let counts: Vec<(&str, u64)> = p
        .per_kernel
        .iter()
        .map(|k| (k.name.as_str(), k.dispatches))
        .collect();
    let mut sorted = counts.clone();
    sorted.sort();
    let mut expected = vec![("binary", 1), (matmul_name, 2)];
    expected.sort();
    assert_eq!(sorted, expected, "{p:#?}");
    assert_eq!(p.dispatches, 3);

    // One upload of a's data; a, c, d and the sum are new buffers (the pool was trimmed).
    assert_eq!(p.upload.count, 1, "{p:#?}");
    assert_eq!(p.upload.bytes, (m * k * 4) as u64);
    assert_eq!(p.pool_alloc.count, 4, "{p:#?}");
    assert!(p.pool_alloc.bytes >= 4 * (m * k * 4) as u64);
    assert_eq!(p.readback.count, 1);
    assert_eq!(p.readback.bytes, (m * k * 4) as u64);
    assert_eq!(p.params.count, 1, "one batch of parameters");
    assert!(p.submit.count >= 1 && p.wait.count >= 1, "{p:#?}");
    let host: f64 = p.host().iter().map(|(_, h)| h.ms).sum();
    assert!(host <= p.wall_ms * 1.0001, "{p:#?}");
    assert!((host + p.host_other_ms() - p.wall_ms).abs() < 1e-6 * p.wall_ms.max(1.0));

    if !timestamps(&rt) {
        eprintln!("no timestamp queries on this adapter: GPU times not checked");
        assert_eq!(p.gpu_ms, 0.0);
        return;
    }
    assert!(p.gpu_timestamps);
    for kt in &p.per_kernel {
        assert!(kt.gpu_ms > 0.0, "{kt:?}");
    }
    let sum: f64 = p.per_kernel.iter().map(|k| k.gpu_ms).sum();
    assert!((sum - p.gpu_ms).abs() < 1e-9 * sum.max(1.0));
    assert!(p.gpu_ms <= p.wall_ms, "{p:#?}");
    assert!(p.gpu_busy_ms <= p.wall_ms && p.gpu_busy_ms > 0.0, "{p:#?}");
}

#[test]
fn profile_spans_several_submissions_and_leaves_no_state_behind() {
    let rt = own_runtime();
    let x = Tensor::from_slice(&rt, &[1.0; 1000], &[1000]).unwrap();
    x.add(&x).unwrap();
    rt.sync().unwrap();
    // More dispatches than one batch holds (its parameter arena has 256 slots).
    let n = 600;
    let run = || {
        let mut y = x.clone();
        for _ in 0..n {
            y = y.add(&x)?;
        }
        Ok(y)
    };
    for _ in 0..2 {
        let (y, p) = rt.profile(run).unwrap();
        assert_eq!(p.per_kernel.len(), 1, "{p:#?}");
        assert_eq!(p.per_kernel[0].name, "binary");
        assert_eq!(p.per_kernel[0].dispatches, n as u64);
        assert_eq!(p.dispatches, n as u64);
        assert!(p.submit.count >= 3, "{p:#?}");
        if timestamps(&rt) {
            assert!(p.gpu_ms > 0.0 && p.gpu_ms <= p.wall_ms, "{p:#?}");
        }
        assert_eq!(y.to_vec().unwrap()[999], (n + 1) as f32);
    }
    // Off again: work after the profile is not recorded anywhere.
    let before = rt.batch_stats().dispatches;
    x.add(&x).unwrap();
    rt.sync().unwrap();
    assert_eq!(rt.batch_stats().dispatches, before + 1);
}
