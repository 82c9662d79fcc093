//! The engine inside a wgpu application, the way a host would use it: the
//! application creates its own device (default limits, no optional
//! features), hands it to the engine, generates an image for a caption from
//! the shipped world model straight into its own texture (no readback),
//! then draws that texture with its own render pipeline, a quad over an
//! offscreen target, and saves the frame as a PNG. tests/embed.rs runs the
//! same path and checks the frame against `engine generate`, pixel for pixel.
//!
//!   cargo run --release --example embed -- "a big red circle on a white background" frame.png [SEED]

use std::error::Error;

use wgpu_attngan::train::attngan::Sampler;
use wgpu_attngan::Runtime;

/// The host's renderer: each fragment loads the texel under it, so the frame
/// shows the texture exactly.
const QUAD: &str = r#"
@group(0) @binding(0) var picture: texture_2d<f32>;

@vertex
fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    // Two triangles covering the target.
    var corners = array<vec2<f32>, 6>(
        vec2(-1.0, -1.0), vec2(1.0, -1.0), vec2(-1.0, 1.0),
        vec2(-1.0, 1.0), vec2(1.0, -1.0), vec2(1.0, 1.0),
    );
    return vec4<f32>(corners[i], 0.0, 1.0);
}

@fragment
fn fs(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    return textureLoad(picture, vec2<i32>(pos.xy), 0);
}
"#;

/// Generates `caption` (noise of `seed`) into the host's texture and renders
/// it; returns the rendered frame.
pub fn run(caption: &str, seed: u64) -> Result<image::RgbaImage, Box<dyn Error>> {
    // The host's own device, as an application opens it.
    let instance = wgpu::Instance::default();
    let adapter = pollster::block_on(instance.request_adapter(&Default::default()))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("host"),
        required_features: wgpu::Features::empty(),
        required_limits: wgpu::Limits::default(),
        ..Default::default()
    }))?;

    // The engine on it: the model, and the image as a device tensor.
    let rt = Runtime::from_device(device.clone(), queue.clone())?;
    let sampler = Sampler::shipped(&rt)?;
    let drawing = sampler.generate_on_device(&rt, caption, 1, seed)?;
    let side = drawing.images.dim(3) as u32; // images: [1, 3, side, side]
    let size = wgpu::Extent3d {
        width: side,
        height: side,
        depth_or_array_layers: 1,
    };
    let texture = |label, usage| {
        device.create_texture(&wgpu::TextureDescriptor {
            label: Some(label),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage,
            view_formats: &[],
        })
    };
    let picture = texture(
        "host picture",
        wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
    );
    // Recorded after the generator's work and submitted: the host's commands
    // from here on see the image.
    wgpu_attngan::ops::rgba::write_texture(&drawing.images, 0, &picture)?;

    // The host's own render pass.
    let target = texture(
        "host frame",
        wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
    );
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("quad"),
        source: wgpu::ShaderSource::Wgsl(QUAD.into()),
    });
    let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("quad"),
        layout: None,
        vertex: wgpu::VertexState {
            module: &module,
            entry_point: Some("vs"),
            compilation_options: Default::default(),
            buffers: &[],
        },
        primitive: Default::default(),
        depth_stencil: None,
        multisample: Default::default(),
        fragment: Some(wgpu::FragmentState {
            module: &module,
            entry_point: Some("fs"),
            compilation_options: Default::default(),
            targets: &[Some(wgpu::TextureFormat::Rgba8Unorm.into())],
        }),
        multiview_mask: None,
        cache: None,
    });
    let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("quad"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::TextureView(&picture.create_view(&Default::default())),
        }],
    });
    let bytes_per_row = (side * 4).div_ceil(256) * 256;
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("host readback"),
        size: (bytes_per_row * side) as u64,
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let view = target.create_view(&Default::default());
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("quad"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                    store: wgpu::StoreOp::Store,
                },
            })],
            ..Default::default()
        });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.draw(0..6, 0..1);
    }
    encoder.copy_texture_to_buffer(
        target.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &readback,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(bytes_per_row),
                rows_per_image: Some(side),
            },
        },
        size,
    );
    queue.submit([encoder.finish()]);
    readback
        .slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.expect("map the frame"));
    device.poll(wgpu::PollType::wait_indefinitely())?;
    let rows = readback.slice(..).get_mapped_range()?;
    let mut frame = image::RgbaImage::new(side, side);
    for (y, row) in rows.chunks(bytes_per_row as usize).enumerate() {
        for x in 0..side as usize {
            let px = &row[x * 4..x * 4 + 4];
            frame.put_pixel(
                x as u32,
                y as u32,
                image::Rgba([px[0], px[1], px[2], px[3]]),
            );
        }
    }
    Ok(frame)
}

#[allow(dead_code)] // tests/embed.rs includes this file for `run`
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(caption), Some(out)) = (args.first(), args.get(1)) else {
        eprintln!("usage: embed CAPTION OUT.png [SEED]");
        std::process::exit(2);
    };
    let seed = match args.get(2).map(|s| s.parse::<u64>()) {
        None => 0,
        Some(Ok(s)) => s,
        Some(Err(_)) => {
            eprintln!("SEED must be a whole number");
            std::process::exit(2);
        }
    };
    match run(caption, seed).and_then(|f| f.save(out).map_err(Into::into)) {
        Ok(()) => println!("wrote {out}: the host's frame, rendered from the engine's texture"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
