//! Decoding to RGB and encoding the result: JPEG through libjpeg-turbo
//! (with its DCT scaling, which decodes a 12 MP photo at half size for about
//! a third of the work), PNG and WebP through their own modules, resampling
//! through `fast_image_resize` (Lanczos3).

use fast_image_resize::{PixelType, Resizer, images::Image as FirImage};
use turbojpeg::{Colorspace, Compressor, Decompressor, Image, PixelFormat, ScalingFactor, Subsamp};

use super::header::{Format, Header, Layout};
use super::orient::Rgb;
use crate::image::jpeg;
use crate::image::rules::ImageInvalid;

fn undecodable(e: impl std::fmt::Display) -> ImageInvalid {
    ImageInvalid::Undecodable(e.to_string())
}

/// The largest DCT scale (1/8, 1/4, 1/2, else 1) that keeps the stored
/// picture at least `min_width` x `min_height`.
pub fn dct_denominator(header: &Header, min_width: u32, min_height: u32) -> u32 {
    [8, 4, 2]
        .into_iter()
        .find(|d| {
            header.width.div_ceil(*d) >= min_width && header.height.div_ceil(*d) >= min_height
        })
        .unwrap_or(1)
}

/// Bytes normalizing holds at its peak to decode the picture of `header`
/// (at `1/denominator` for a JPEG) and resample it to `width` x `height`:
/// what the decoder allocates, every conversion copy, and the resampler's
/// intermediate and target images.
pub fn peak_bytes(header: &Header, denominator: u32, width: u32, height: u32) -> u64 {
    let (from_w, from_h) = decoded_size(header, denominator);
    let decoding = match header.layout {
        Layout::Jpeg(jpeg) => jpeg_bytes(&jpeg, from_w * from_h),
        Layout::Png(png) => super::png::decoded_bytes(header.width, header.height, png),
        Layout::WebP(webp) => super::webp::decoded_bytes(header.width, header.height, webp),
    };
    let (width, height) = (u64::from(width), u64::from(height));
    // One pass of the two, whichever the resampler runs first.
    let intermediate = 3 * (width * from_h).max(from_w * height);
    let target = 3 * width * height;
    // Resampling: what decoding left, the intermediate and the target.
    // Encoding: the target, its upright copy and the encoder's buffer.
    (decoding + intermediate + target).max(4 * target)
}

/// The size the decoder produces.
fn decoded_size(header: &Header, denominator: u32) -> (u64, u64) {
    let denominator = match header.layout {
        Layout::Jpeg(jpeg) if !jpeg.lossless() => denominator,
        _ => 1,
    };
    (
        u64::from(header.width.div_ceil(denominator)),
        u64::from(header.height.div_ceil(denominator)),
    )
}

/// libjpeg-turbo's peak for an output of `pixels`: the output (CMYK and its
/// RGB copy, or RGB), the full-resolution coefficients of a buffered
/// (progressive or multi-scan) JPEG whatever the scale, and its tables and
/// row buffers.
fn jpeg_bytes(jpeg: &jpeg::Layout, pixels: u64) -> u64 {
    let output = if jpeg.components == 4 { 4 + 3 } else { 3 };
    let coefficients = if jpeg.buffered() || jpeg.lossless() {
        jpeg.coefficient_bytes()
    } else {
        0
    };
    pixels * output + coefficients + 64 * u64::from(jpeg.width) + (1 << 20)
}

/// A zeroed buffer of the `size` a decoder of `format` asks for, refused
/// when it is unknown (too large to say) or over `limit`.
pub(super) fn output_buffer(
    size: Option<usize>,
    limit: u64,
    format: &str,
) -> Result<Vec<u8>, ImageInvalid> {
    let size = size
        .ok_or_else(|| ImageInvalid::Undecodable(format!("{format}: the picture is too large")))?;
    if size as u64 > limit {
        return Err(ImageInvalid::NeedsMemory {
            needed: size as u64,
            share: limit,
        });
    }
    Ok(vec![0; size])
}

/// The stored picture as RGB, at `1/denominator` of its size for a JPEG;
/// the PNG and WebP decoders may allocate at most `limit` bytes.
pub fn decode(
    bytes: &[u8],
    header: &Header,
    denominator: u32,
    limit: u64,
) -> Result<Rgb, ImageInvalid> {
    match header.format {
        Format::Jpeg => decode_jpeg(bytes, denominator),
        Format::Png => super::png::decode(bytes, limit),
        Format::WebP => super::webp::decode(bytes, limit),
    }
}

fn decode_jpeg(bytes: &[u8], denominator: u32) -> Result<Rgb, ImageInvalid> {
    let mut decompressor = Decompressor::new().map_err(undecodable)?;
    decompressor
        .set_scan_limit(jpeg::MAX_SCANS)
        .map_err(undecodable)?;
    let scale = ScalingFactor::new(1, denominator as usize);
    let header = decompressor.read_header(bytes).map_err(undecodable)?;
    let scale = if header.is_lossless {
        ScalingFactor::ONE
    } else {
        scale
    };
    decompressor
        .set_scaling_factor(scale)
        .map_err(undecodable)?;
    let scaled = header.scaled(scale);
    let (width, height) = (scaled.width, scaled.height);
    let cmyk = matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK);
    let format = if cmyk {
        PixelFormat::CMYK
    } else {
        PixelFormat::RGB
    };
    let mut pixels = vec![0; format.size() * width * height];
    let image = Image {
        pixels: pixels.as_mut_slice(),
        width,
        pitch: format.size() * width,
        height,
        format,
    };
    decompressor.decompress(bytes, image).map_err(undecodable)?;
    if cmyk {
        pixels = cmyk_to_rgb(&pixels, adobe_inverted(bytes));
    }
    Ok(Rgb {
        pixels,
        width: width as u32,
        height: height as u32,
    })
}

/// Whether an Adobe marker says the CMYK values are stored inverted, as
/// Photoshop and most writers of CMYK JPEGs do.
fn adobe_inverted(bytes: &[u8]) -> bool {
    bytes
        .windows(9)
        .take(1 << 16)
        .any(|w| w[..2] == [0xFF, 0xEE] && &w[4..] == b"Adobe")
}

/// Naive CMYK to RGB, enough for a face: no colour profile is applied.
fn cmyk_to_rgb(cmyk: &[u8], inverted: bool) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for p in cmyk.chunks_exact(4) {
        let ink = |v: u8| {
            if inverted {
                u32::from(v)
            } else {
                255 - u32::from(v)
            }
        };
        let k = ink(p[3]);
        for c in &p[..3] {
            rgb.push((ink(*c) * k / 255) as u8);
        }
    }
    rgb
}

/// `picture` resampled (Lanczos3) to `width` x `height`; as it is when
/// that is its size already.
pub fn resize(picture: Rgb, width: u32, height: u32) -> Result<Rgb, ImageInvalid> {
    if (picture.width, picture.height) == (width, height) {
        return Ok(picture);
    }
    let source = FirImage::from_vec_u8(
        picture.width,
        picture.height,
        picture.pixels,
        PixelType::U8x3,
    )
    .map_err(undecodable)?;
    let mut target = FirImage::new(width, height, PixelType::U8x3);
    Resizer::new()
        .resize(&source, &mut target, None)
        .map_err(undecodable)?;
    Ok(Rgb {
        pixels: target.into_vec(),
        width,
        height,
    })
}

/// A baseline 4:2:0 JPEG of `picture` at `quality`, with no metadata.
pub fn encode(picture: &Rgb, quality: u8) -> Result<Vec<u8>, ImageInvalid> {
    let mut compressor = Compressor::new().map_err(undecodable)?;
    compressor
        .set_quality(i32::from(quality))
        .map_err(undecodable)?;
    compressor
        .set_subsamp(Subsamp::Sub2x2)
        .map_err(undecodable)?;
    let image = Image {
        pixels: picture.pixels.as_slice(),
        width: picture.width as usize,
        pitch: 3 * picture.width as usize,
        height: picture.height as usize,
        format: PixelFormat::RGB,
    };
    compressor.compress_to_vec(image).map_err(undecodable)
}
