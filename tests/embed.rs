//! The engine on a device a host application opened itself, as an
//! application would: its own instance, adapter, device and queue, and its
//! own uncaptured-error handler, which must stay the host's.

mod common;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use wgpu_attngan::{Runtime, Tensor};

fn host_device() -> (wgpu::Device, wgpu::Queue) {
    host_device_with(wgpu::Limits::default())
}

fn host_device_with(limits: wgpu::Limits) -> (wgpu::Device, wgpu::Queue) {
    let instance = wgpu::Instance::default();
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .expect("an adapter (lavapipe: apt-get install mesa-vulkan-drivers)");
    pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("host"),
        // What a host asks for: no optional features, default limits.
        required_features: wgpu::Features::empty(),
        required_limits: limits,
        ..Default::default()
    }))
    .unwrap()
}

/// The host's handler keeps receiving the host's errors after the engine is
/// attached, the engine never sees them, and the engine works on the device.
#[test]
fn the_hosts_error_handler_stays_the_hosts() {
    let (device, queue) = host_device();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    {
        let (seen, count) = (seen.clone(), count.clone());
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            count.fetch_add(1, Ordering::SeqCst);
            seen.lock().unwrap().push(e.to_string());
        }));
    }
    let rt = Runtime::from_device(device.clone(), queue.clone()).unwrap();
    let a = Tensor::from_slice(&rt, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let c = wgpu_attngan::ops::matmul(&a, &a, false, true).unwrap(); // [2, 2]
    assert_eq!(c.to_vec().unwrap(), vec![14.0, 32.0, 32.0, 77.0]);
    assert_eq!(
        count.load(Ordering::SeqCst),
        0,
        "{:?}",
        seen.lock().unwrap()
    );

    // A host mistake (a mapped buffer whose size is not a multiple of 4)
    // goes to the host's handler, not to the engine.
    let _bad = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("host's bad buffer"),
        size: 3,
        usage: wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: true,
    });
    let _ = device.poll(wgpu::PollType::Wait {
        submission_index: None,
        timeout: None,
    });
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "the host's handler got its own error"
    );
    assert!(
        seen.lock().unwrap()[0].contains("host's bad buffer")
            || !seen.lock().unwrap()[0].is_empty()
    );
    rt.check_errors().unwrap();
    let d = wgpu_attngan::ops::matmul(&c, &c, false, false).unwrap();
    assert_eq!(d.to_vec().unwrap(), vec![1220.0, 2912.0, 2912.0, 6953.0]);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

/// The ordering contract: engine work is recorded and submitted in batches;
/// `Tensor::ready()` submits it, after which host commands come after it in
/// queue order. A host copy out of a result sees the result, and a host
/// write into an input does not change an op recorded before it.
#[test]
fn host_commands_after_ready_see_results_and_cannot_change_recorded_work() {
    let (device, queue) = host_device();
    let rt = Runtime::from_device(device.clone(), queue.clone()).unwrap();
    let a = Tensor::from_slice(&rt, &[1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let c = wgpu_attngan::ops::matmul(&a, &a, false, false).unwrap(); // recorded, not submitted
                                                                      // The host overwrites the input after ready(): c keeps a's old value.
    queue.write_buffer(
        a.ready(),
        (a.offset() * 4) as u64,
        bytemuck::cast_slice(&[9.0f32; 4]),
    );
    // The host copies c out with its own commands.
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("host readback"),
        size: 16,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(c.ready(), (c.offset() * 4) as u64, &staging, 0, Some(16));
    queue.submit([enc.finish()]);
    staging
        .slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.unwrap());
    device
        .poll(wgpu::PollType::Wait {
            submission_index: None,
            timeout: None,
        })
        .unwrap();
    let host: Vec<f32> =
        bytemuck::pod_collect_to_vec(&staging.slice(..).get_mapped_range().unwrap());
    assert_eq!(host, vec![7.0, 10.0, 15.0, 22.0]);
    assert_eq!(c.to_vec().unwrap(), vec![7.0, 10.0, 15.0, 22.0]);
    assert_eq!(
        a.to_vec().unwrap(),
        vec![9.0; 4],
        "the host's write landed after"
    );
}

/// A device below the kernels' needs is refused up front, each missing limit
/// named, instead of failing when some op first runs.
#[test]
fn a_device_below_the_kernels_needs_is_refused_naming_each_limit() {
    let (device, queue) = host_device_with(wgpu::Limits::downlevel_defaults());
    let e = Runtime::from_device(device, queue).unwrap_err().to_string();
    assert!(
        e.contains("max_storage_buffers_per_shader_stage: 4, needs 8"),
        "{e}"
    );
    // What the README states as the minimum is what the check asks for.
    for (name, _) in wgpu_attngan::runtime::required_limits(wgpu_attngan::Flavour::Registers) {
        assert!(
            include_str!("../README.md").contains(name),
            "README does not state {name}"
        );
    }
}

/// A binding limit that is no power of two (real adapters report such
/// values): a tensor just under it gets a buffer the device can bind, and
/// an op on it works (its size class, 112 MiB, was over a 100 MiB limit).
#[test]
fn tensors_under_a_limit_that_is_no_power_of_two_get_bindable_buffers() {
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: 100 << 20,
        ..wgpu::Limits::default()
    };
    let (device, queue) = host_device_with(limits);
    let rt = Runtime::from_device(device, queue).unwrap();
    let n = (99 << 20) / 4;
    let x = Tensor::from_slice(&rt, &vec![1.5f32; n], &[n]).unwrap();
    let y = x.add_scalar(1.0).unwrap();
    let v = y.to_vec().unwrap();
    assert_eq!((v.len(), v[0], v[n - 1]), (n, 2.5, 2.5));
    rt.check_errors().unwrap();
}

/// examples/embed.rs, the path a host takes (its own device with default
/// limits and no features, the shipped model, the image written into its
/// texture on the device, drawn by its own render pipeline), gives the frame
/// `engine generate` writes for the same caption and seed, pixel for pixel.
#[test]
fn the_embed_example_renders_what_engine_generate_draws() {
    #[allow(dead_code)]
    #[path = "../examples/embed.rs"]
    mod example;
    let caption = "a big red circle at the top left on a white background";
    let frame = example::run(caption, 5).unwrap();
    let dir = std::env::temp_dir().join(format!("engine-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("generated.png");
    let (ok, text) = common::cli::engine(&[
        "generate",
        caption,
        "--seed",
        "5",
        "-o",
        png.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let generated = image::open(&png).unwrap().to_rgb8();
    assert_eq!(frame.dimensions(), generated.dimensions());
    let differing = frame
        .pixels()
        .zip(generated.pixels())
        .filter(|(f, g)| f.0[..3] != g.0[..] || f.0[3] != 255)
        .count();
    assert_eq!(differing, 0, "pixels that differ from engine generate's");
    // Not a blank frame: the model drew something on its background.
    let distinct: std::collections::HashSet<[u8; 3]> = generated.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 10);
    std::fs::remove_dir_all(dir).ok();
}

/// write_texture checks the host's texture before writing into it.
#[test]
fn write_texture_names_what_does_not_fit() {
    let (device, queue) = host_device();
    let rt = Runtime::from_device(device.clone(), queue).unwrap();
    let images = Tensor::from_slice(&rt, &vec![0.0; 2 * 3 * 4 * 5], &[2, 3, 4, 5]).unwrap();
    let texture = |w, h, format, usage| {
        device.create_texture(&wgpu::TextureDescriptor {
            label: None,
            size: wgpu::Extent3d {
                width: w,
                height: h,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage,
            view_formats: &[],
        })
    };
    use wgpu::{TextureFormat as F, TextureUsages as U};
    let write = |t: &wgpu::Texture| wgpu_attngan::ops::rgba::write_texture(&images, 1, t);
    let e = write(&texture(4, 5, F::Rgba8Unorm, U::COPY_DST))
        .unwrap_err()
        .to_string();
    assert!(e.contains("4x5") && e.contains("5x4"), "{e}");
    let e = write(&texture(5, 4, F::R32Float, U::COPY_DST))
        .unwrap_err()
        .to_string();
    assert!(e.contains("R32Float"), "{e}");
    let e = write(&texture(5, 4, F::Rgba8Unorm, U::TEXTURE_BINDING))
        .unwrap_err()
        .to_string();
    assert!(e.contains("COPY_DST"), "{e}");
    write(&texture(5, 4, F::Rgba16Float, U::COPY_DST)).unwrap();
    write(&texture(5, 4, F::Rgba8UnormSrgb, U::COPY_DST)).unwrap();
    rt.check_errors().unwrap();
}
