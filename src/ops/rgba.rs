//! rgba: generated images [B, 3, H, W] in [-1, 1] into a host's texture, on
//! the device, with no readback: packed in `copy_buffer_to_texture`'s row
//! layout (shaders/rgba.wgsl), then copied. Rgba8Unorm (and its sRGB twin,
//! which takes the same bytes) and Rgba16Float. Output only: nothing is
//! trained through it, so it has no backward rule.

use super::grid_1d;
use crate::runtime::{Error, KernelSpec, Result, Tensor};

/// The texel layouts [`pack`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// 8-bit unsigned normalised RGBA: one u32 a pixel, alpha 255.
    Rgba8,
    /// 16-bit float RGBA: two u32 a pixel, alpha 1.
    Rgba16Float,
}

impl Format {
    /// The layout a texture of format `f` takes, if it is one we write.
    pub fn of(f: wgpu::TextureFormat) -> Option<Format> {
        match f {
            wgpu::TextureFormat::Rgba8Unorm | wgpu::TextureFormat::Rgba8UnormSrgb => {
                Some(Format::Rgba8)
            }
            wgpu::TextureFormat::Rgba16Float => Some(Format::Rgba16Float),
            _ => None,
        }
    }

    /// Bytes of one texel.
    pub fn bytes_per_pixel(self) -> u32 {
        match self {
            Format::Rgba8 => 4,
            Format::Rgba16Float => 8,
        }
    }
}

pub(crate) fn spec(format: Format) -> KernelSpec {
    KernelSpec::new("rgba").define("F16", (format == Format::Rgba16Float) as u32)
}

/// One image packed for a texture: `data` holds `bytes_per_row / 4 * height`
/// u32 words in a tensor's buffer (read them with [`Packed::words`]).
pub struct Packed {
    /// The words (u32 bit patterns in an f32 tensor's buffer).
    pub data: Tensor,
    /// Texels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// A multiple of 256 (wgpu::COPY_BYTES_PER_ROW_ALIGNMENT).
    pub bytes_per_row: u32,
    /// The texel layout.
    pub format: Format,
}

impl Packed {
    /// The packed words, read back (for tests and hosts that want bytes).
    pub fn words(&self) -> Result<Vec<u32>> {
        Ok(self.data.to_vec()?.into_iter().map(f32::to_bits).collect())
    }
}

/// (batch, height, width) of images [B, 3, H, W], with `index` < B.
fn dims(images: &Tensor, index: usize) -> Result<(usize, usize, usize)> {
    match *images.shape() {
        [b, 3, h, w] if index < b && h > 0 && w > 0 => Ok((b, h, w)),
        _ => Err(Error::invalid(
            "rgba",
            format!(
                "needs images [B, 3, H, W] (H, W > 0) and an index below B; got {:?} and index {index}",
                images.shape()
            ),
        )),
    }
}

// images: [B, 3, H, W] in [-1, 1] -> image `index` as rows of texels
/// Image `index` of `images` (`[B, 3, H, W]` in `[-1, 1]`) packed in
/// `format` for `copy_buffer_to_texture`, rows padded to 256 bytes; recorded
/// like any op. [`write_texture`] packs and copies in one call.
pub fn pack(images: &Tensor, index: usize, format: Format) -> Result<Packed> {
    let (_, h, w) = dims(images, index)?;
    let align = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    let bytes_per_row = (w as u32 * format.bytes_per_pixel()).div_ceil(align) * align;
    let words = bytes_per_row as usize / 4 * h;
    let rt = images.runtime();
    let data = Tensor::uninit(rt, &[words])?;
    rt.dispatch(
        &spec(format),
        &[
            w as u32,
            h as u32,
            bytes_per_row / 4,
            (images.offset() + index * 3 * h * w) as u32,
            data.offset() as u32,
        ],
        &[images.buffer(), data.buffer()],
        grid_1d(rt, words, 256),
    )?;
    Ok(Packed {
        data,
        width: w as u32,
        height: h as u32,
        bytes_per_row,
        format,
    })
}

/// Writes image `index` of `images` ([B, 3, H, W] in [-1, 1]) into mip level
/// 0, layer 0 of `texture` (H x W, Rgba8Unorm, Rgba8UnormSrgb or
/// Rgba16Float, with COPY_DST usage), and submits: host commands submitted
/// after this returns see the image (the ordering contract of
/// [`Tensor::ready`]). A texture of another size, format or usage is an
/// error naming what differs.
pub fn write_texture(images: &Tensor, index: usize, texture: &wgpu::Texture) -> Result<()> {
    let (_, h, w) = dims(images, index)?;
    let bad = |m: String| Err(Error::invalid("write_texture", m));
    let Some(format) = Format::of(texture.format()) else {
        return bad(format!(
            "the texture's format is {:?}; write_texture writes Rgba8Unorm, Rgba8UnormSrgb or Rgba16Float",
            texture.format()
        ));
    };
    if (texture.width(), texture.height()) != (w as u32, h as u32)
        || texture.dimension() != wgpu::TextureDimension::D2
        || texture.sample_count() != 1
    {
        return bad(format!(
            "the texture is {:?} {}x{} with {} samples; the images are {w}x{h} (a 2D texture of one sample, that size, is needed)",
            texture.dimension(),
            texture.width(),
            texture.height(),
            texture.sample_count()
        ));
    }
    if !texture.usage().contains(wgpu::TextureUsages::COPY_DST) {
        return bad(format!(
            "the texture's usage {:?} lacks COPY_DST, which the copy into it needs",
            texture.usage()
        ));
    }
    let packed = pack(images, index, format)?;
    let rt = images.runtime();
    rt.with_encoder(|enc| {
        enc.copy_buffer_to_texture(
            wgpu::TexelCopyBufferInfo {
                buffer: packed.data.buffer(),
                layout: wgpu::TexelCopyBufferLayout {
                    offset: packed.data.offset() as u64 * 4,
                    bytes_per_row: Some(packed.bytes_per_row),
                    rows_per_image: Some(packed.height),
                },
            },
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::Extent3d {
                width: packed.width,
                height: packed.height,
                depth_or_array_layers: 1,
            },
        )
    });
    rt.flush();
    rt.check_errors()
}
