//! The runtime itself: upload and download, views, the buffer pool, batching,
//! grid folding, size limits.

use wgpu_attngan::ops::fill::full;
use wgpu_attngan::Tensor;

use crate::common::{random_vec, rng, rt, seed};

#[test]
fn upload_download_round_trip() {
    let rt = rt();
    for n in [1usize, 3, 7, 33, 129, 100_003] {
        let s = seed();
        let data = random_vec(&mut rng(s), n, -10.0, 10.0);
        let t = Tensor::from_slice(&rt, &data, &[n]).unwrap();
        assert_eq!(t.to_vec().unwrap(), data, "n={n} seed {s}");
    }
}

#[test]
fn views_share_storage_without_copies() {
    let rt = rt();
    let data: Vec<f32> = (0..60).map(|i| i as f32).collect();
    let t = Tensor::from_slice(&rt, &data, &[3, 4, 5]).unwrap();
    let r = t.reshape(&[12, usize::MAX]).unwrap();
    assert_eq!(r.shape(), &[12, 5]);
    assert!(r.same_storage(&t));
    let rows = t.narrow(1, 2).unwrap();
    assert!(rows.same_storage(&t));
    assert_eq!(rows.to_vec().unwrap(), data[20..60].to_vec());
    let e = t.reshape(&[7, 9]).unwrap_err().to_string();
    assert!(e.contains("[3, 4, 5]") && e.contains("[7, 9]"), "{e}");
    assert!(t.narrow(2, 2).is_err());
}

#[test]
fn rank_outside_one_to_five_is_an_error() {
    let rt = rt();
    assert!(Tensor::uninit(&rt, &[]).is_err());
    assert!(Tensor::uninit(&rt, &[1, 1, 1, 1, 1, 1]).is_err());
    assert!(Tensor::uninit(&rt, &[1, 2, 1, 2, 1]).is_ok());
}

#[test]
fn released_buffers_are_reused_after_submission() {
    // A runtime of its own, so other tests' allocations do not interfere.
    let rt = wgpu_attngan::Runtime::new().unwrap();
    let a = full(&rt, &[1000], 1.0).unwrap();
    a.to_vec().unwrap();
    let before = rt.memory();
    drop(a);
    // Released but not yet submitted: not reusable, so this allocates.
    let b = full(&rt, &[1000], 2.0).unwrap();
    assert_eq!(rt.memory().allocations, before.allocations + 1);
    rt.flush();
    drop(b);
    rt.flush();
    let c = full(&rt, &[1000], 3.0).unwrap();
    let after = rt.memory();
    assert_eq!(after.allocations, before.allocations + 1, "{after:?}");
    assert!(after.reuses >= 1);
    assert_eq!(c.to_vec().unwrap(), vec![3.0; 1000]);
    assert_eq!(after.in_use, 4096);
    // One tensor alive at a time: the peak is one buffer, not two.
    assert_eq!(after.peak_in_use, 4096, "{after:?}");
}

#[test]
fn many_ops_share_one_submission_until_a_read() {
    let rt = wgpu_attngan::Runtime::new().unwrap();
    let x = full(&rt, &[64], 1.0).unwrap();
    rt.flush();
    let start = rt.batch_stats();
    let mut y = x.clone();
    for _ in 0..50 {
        y = y.add_scalar(1.0).unwrap();
    }
    let mid = rt.batch_stats();
    assert_eq!(mid.dispatches - start.dispatches, 50);
    assert_eq!(
        mid.submissions, start.submissions,
        "nothing submitted before the read"
    );
    assert_eq!(y.to_vec().unwrap(), vec![51.0; 64]);
    assert_eq!(rt.batch_stats().submissions, start.submissions + 1);
}

#[test]
fn grids_over_65535_workgroups_are_folded() {
    let rt = rt();
    // 65,536 * 256 + 7 elements: 65,537 workgroups of 256.
    let n = 65_536 * 256 + 7;
    assert!(rt.fold_grid(65_537)[1] > 1);
    let t = full(&rt, &[n], 1.5).unwrap();
    let y = t.add_scalar(1.0).unwrap();
    let v = y.to_vec().unwrap();
    assert!(v.iter().all(|&x| x == 2.5), "some element was not written");
}

#[test]
fn tensors_over_the_device_limit_are_clear_errors() {
    let rt = rt();
    let limit = rt.max_tensor_bytes();
    let n = (limit / 4 + 1) as usize;
    let e = Tensor::uninit(&rt, &[n]).unwrap_err().to_string();
    assert!(e.contains("limit") && e.contains(&format!("[{n}]")), "{e}");
}

#[test]
fn a_host_device_can_be_handed_over_and_results_read_from_its_own_buffers() {
    // The host application opens its own device and queue...
    let (_adapter, device, queue) = wgpu_attngan::runtime::device::open_default().unwrap();
    let rt = wgpu_attngan::Runtime::from_device(device.clone(), queue.clone()).unwrap();
    // ...runs our ops on them...
    let a = Tensor::from_slice(&rt, &[1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let c = wgpu_attngan::ops::matmul(&a, &a, false, false).unwrap(); // [[7, 10], [15, 22]]
    rt.flush();
    // ...and copies the result into a buffer of its own with its own encoder.
    let mine = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("host buffer"),
        size: 16,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(c.buffer(), c.offset() as u64 * 4, &mine, 0, Some(16));
    queue.submit([enc.finish()]);
    mine.slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.unwrap());
    device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let got: Vec<f32> = bytemuck::pod_collect_to_vec(&mine.slice(..).get_mapped_range().unwrap());
    assert_eq!(got, vec![7.0, 10.0, 15.0, 22.0]);
}

#[test]
fn several_small_tensors_read_back_in_order_with_one_submission() {
    let rt = wgpu_attngan::Runtime::new().unwrap();
    let a = full(&rt, &[1], 1.5).unwrap();
    let b = Tensor::from_slice(&rt, &[2.0, 3.0], &[2, 1]).unwrap();
    let c = full(&rt, &[1], -4.0).unwrap();
    rt.flush();
    let before = rt.batch_stats().submissions;
    let v = wgpu_attngan::ops::concat::read_scalars(&[&a, &b, &c]).unwrap();
    assert_eq!(v, vec![1.5, 2.0, 3.0, -4.0]);
    assert_eq!(rt.batch_stats().submissions, before + 1);
}
