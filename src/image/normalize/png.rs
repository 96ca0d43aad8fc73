//! PNG: the chunk walk that reads the header, the orientation and what the
//! decode will hold, then the decode itself through the `png` crate with its
//! own allocation limit. Compressed metadata (ICC profiles, text) is skipped,
//! never inflated.

use std::io::Cursor;

use png::{ColorType, Transformations};

use super::codec::output_buffer;
use super::orient::Rgb;
use crate::image::jpeg::{MAX_METADATA_BYTES, exif_orientation};
use crate::image::rules::ImageInvalid;

/// What the decoder will produce, from the IHDR and tRNS chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Samples a pixel once expanded to 8 bits: 1 gray, 2 gray and alpha,
    /// 3 RGB, 4 RGBA.
    pub channels: u8,
}

/// Width, height, EXIF orientation and layout of the PNG in `bytes`.
pub fn walk(bytes: &[u8]) -> Result<(u32, u32, u16, Layout), ImageInvalid> {
    let mut pos = 8;
    let mut header = None;
    let mut orientation = 1;
    let mut transparency = false;
    while let Some(length) = bytes.get(pos..pos + 4) {
        let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
        let kind = bytes
            .get(pos + 4..pos + 8)
            .ok_or_else(|| bad("a chunk header is cut off"))?;
        let data = bytes
            .get(pos + 8..(pos + 8).saturating_add(length))
            .ok_or_else(|| bad("a chunk is cut off"))?;
        match kind {
            b"IHDR" => header = Some(ihdr(data)?),
            b"tRNS" => transparency = true,
            b"eXIf" if data.len() > MAX_METADATA_BYTES => {
                return Err(ImageInvalid::Metadata {
                    what: "PNG EXIF chunk",
                    limit: MAX_METADATA_BYTES,
                });
            }
            b"eXIf" => orientation = exif_orientation(data).unwrap_or(1),
            b"IDAT" | b"IEND" => break,
            _ => {}
        }
        if header.is_none() {
            return Err(bad("it does not start with IHDR"));
        }
        pos += 12 + length;
    }
    let (width, height, color) = header.ok_or_else(|| bad("there is no IHDR"))?;
    let channels = match color {
        ColorType::Grayscale => 1,
        ColorType::GrayscaleAlpha => 2,
        ColorType::Rgb | ColorType::Indexed => 3,
        ColorType::Rgba => 4,
    } + u8::from(
        transparency
            && matches!(
                color,
                ColorType::Grayscale | ColorType::Rgb | ColorType::Indexed
            ),
    );
    Ok((width, height, orientation, Layout { channels }))
}

fn ihdr(data: &[u8]) -> Result<(u32, u32, ColorType), ImageInvalid> {
    let [w0, w1, w2, w3, h0, h1, h2, h3, _depth, color, ..] = data else {
        return Err(bad("the IHDR is too short"));
    };
    let width = u32::from_be_bytes([*w0, *w1, *w2, *w3]);
    let height = u32::from_be_bytes([*h0, *h1, *h2, *h3]);
    if width == 0 || height == 0 {
        return Err(bad("the IHDR gives a zero size"));
    }
    let color = ColorType::from_u8(*color).ok_or_else(|| bad("the colour type is unknown"))?;
    Ok((width, height, color))
}

/// Bytes the decode holds at its peak: the 8-bit output, the RGB copy when
/// the output is gray, and the decoder's rows and inflate window.
pub fn decoded_bytes(width: u32, height: u32, layout: Layout) -> u64 {
    let pixels = u64::from(width) * u64::from(height);
    let copy = if layout.channels < 3 { 3 * pixels } else { 0 };
    pixels * u64::from(layout.channels) + copy + 16 * u64::from(width) + (256 << 10)
}

/// The PNG as RGB (transparency laid on white), allocating at most `limit`
/// bytes for the decoder's output.
pub fn decode(bytes: &[u8], limit: u64) -> Result<Rgb, ImageInvalid> {
    let undecodable = |e: png::DecodingError| ImageInvalid::Undecodable(format!("PNG: {e}"));
    let limits = png::Limits {
        bytes: usize::try_from(limit).unwrap_or(usize::MAX),
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    decoder.set_ignore_iccp_chunk(true);
    decoder.set_ignore_text_chunk(true);
    decoder.set_transformations(Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(undecodable)?;
    let mut pixels = output_buffer(reader.output_buffer_size(), limit, "PNG")?;
    let frame = reader.next_frame(&mut pixels).map_err(undecodable)?;
    pixels.truncate(frame.buffer_size());
    let (width, height) = (frame.width, frame.height);
    let pixels = match frame.color_type {
        ColorType::Rgb => pixels,
        ColorType::Rgba => super::orient::rgba_over_white(pixels),
        ColorType::Grayscale => pixels.iter().flat_map(|&g| [g, g, g]).collect(),
        ColorType::GrayscaleAlpha => pixels
            .chunks_exact(2)
            .flat_map(|p| {
                let g = super::orient::over_white(p[0], p[1]);
                [g, g, g]
            })
            .collect(),
        ColorType::Indexed => {
            return Err(ImageInvalid::Undecodable(
                "PNG: the palette was not expanded".into(),
            ));
        }
    };
    Ok(Rgb {
        pixels,
        width,
        height,
    })
}

/// A PNG that cannot be read, with what is wrong.
fn bad(what: &str) -> ImageInvalid {
    ImageInvalid::Undecodable(format!("PNG: {what}"))
}
