//! WebP: the RIFF walk that reads the canvas, the frame inside it, the alpha
//! and the EXIF orientation without trusting a length, then the decode
//! through `image-webp` with its own memory limit. A frame of another size
//! than its canvas, or an animation, is refused before anything is decoded.

use std::io::Cursor;

use super::codec::output_buffer;
use super::orient::Rgb;
use crate::image::jpeg::{MAX_METADATA_BYTES, exif_orientation};
use crate::image::rules::ImageInvalid;

/// What the decoder will produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// An alpha channel (RGBA output).
    pub alpha: bool,
}

/// Width, height, EXIF orientation and layout of the WebP in `bytes`.
pub fn walk(bytes: &[u8]) -> Result<(u32, u32, u16, Layout), ImageInvalid> {
    let mut pos = 12;
    let mut canvas = None;
    let mut frame = None;
    let mut alpha = false;
    let mut orientation = 1;
    while let Some(header) = bytes.get(pos..pos + 8) {
        let length = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let data = bytes
            .get(pos + 8..(pos + 8).saturating_add(length))
            .ok_or_else(|| bad("a chunk is cut off"))?;
        match &header[..4] {
            b"VP8X" => {
                let [flags, _, _, _, w0, w1, w2, h0, h1, h2, ..] = data else {
                    return Err(bad("the VP8X chunk is too short"));
                };
                if flags & 0x02 != 0 {
                    return Err(ImageInvalid::Undecodable(
                        "an animated WebP is not read".into(),
                    ));
                }
                alpha |= flags & 0x10 != 0;
                canvas = Some((
                    u32::from_le_bytes([*w0, *w1, *w2, 0]) + 1,
                    u32::from_le_bytes([*h0, *h1, *h2, 0]) + 1,
                ));
            }
            b"VP8 " if frame.is_none() => frame = Some(lossy_size(data)?),
            b"VP8L" if frame.is_none() => {
                let (size, has_alpha) = lossless_size(data)?;
                alpha |= has_alpha;
                frame = Some(size);
            }
            b"VP8 " | b"VP8L" => {
                return Err(bad("it holds more than one frame"));
            }
            b"ANIM" | b"ANMF" => {
                return Err(ImageInvalid::Undecodable(
                    "an animated WebP is not read".into(),
                ));
            }
            b"ALPH" => alpha = true,
            b"EXIF" if data.len() > MAX_METADATA_BYTES => {
                return Err(ImageInvalid::Metadata {
                    what: "WebP EXIF chunk",
                    limit: MAX_METADATA_BYTES,
                });
            }
            b"EXIF" => {
                let tiff = data.strip_prefix(b"Exif\0\0").unwrap_or(data);
                orientation = exif_orientation(tiff).unwrap_or(1);
            }
            _ => {}
        }
        pos += 8 + length + (length & 1);
    }
    let (width, height) = frame.ok_or_else(|| bad("it holds no frame"))?;
    if canvas.is_some_and(|c| c != (width, height)) {
        return Err(bad("the frame is not the size of its canvas"));
    }
    Ok((width, height, orientation, Layout { alpha }))
}

/// The frame size of a lossy (VP8) key frame.
fn lossy_size(data: &[u8]) -> Result<(u32, u32), ImageInvalid> {
    match data {
        [tag, _, _, 0x9D, 0x01, 0x2A, w0, w1, h0, h1, ..] if tag & 1 == 0 => Ok((
            u32::from(u16::from_le_bytes([*w0, *w1]) & 0x3FFF),
            u32::from(u16::from_le_bytes([*h0, *h1]) & 0x3FFF),
        )),
        _ => Err(bad("the VP8 frame header is not a key frame")),
    }
    .and_then(nonzero)
}

/// The frame size and alpha flag of a lossless (VP8L) frame.
fn lossless_size(data: &[u8]) -> Result<((u32, u32), bool), ImageInvalid> {
    let [0x2F, b0, b1, b2, b3, ..] = data else {
        return Err(bad("the VP8L frame header is wrong"));
    };
    let bits = u32::from_le_bytes([*b0, *b1, *b2, *b3]);
    let size = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
    Ok((nonzero(size)?, bits & (1 << 28) != 0))
}

fn nonzero((width, height): (u32, u32)) -> Result<(u32, u32), ImageInvalid> {
    if width == 0 || height == 0 {
        return Err(bad("the frame has a zero size"));
    }
    Ok((width, height))
}

/// Bytes the decode holds at its peak: the output, and the decoder's own
/// planes (YUV and alpha for lossy, 32-bit pixels for lossless).
pub fn decoded_bytes(width: u32, height: u32, layout: Layout) -> u64 {
    let pixels = u64::from(width) * u64::from(height);
    let output = if layout.alpha { 4 } else { 3 };
    pixels * (output + 4) + 64 * u64::from(width) + (256 << 10)
}

/// The WebP as RGB (transparency laid on white), the decoder allowed at
/// most `limit` bytes.
pub fn decode(bytes: &[u8], limit: u64) -> Result<Rgb, ImageInvalid> {
    let undecodable =
        |e: image_webp::DecodingError| ImageInvalid::Undecodable(format!("WebP: {e}"));
    let mut decoder = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(undecodable)?;
    decoder.set_memory_limit(usize::try_from(limit).unwrap_or(usize::MAX));
    let (width, height) = decoder.dimensions();
    let mut pixels = output_buffer(decoder.output_buffer_size(), limit, "WebP")?;
    decoder.read_image(&mut pixels).map_err(undecodable)?;
    let pixels = if decoder.has_alpha() {
        super::orient::rgba_over_white(pixels)
    } else {
        pixels
    };
    Ok(Rgb {
        pixels,
        width,
        height,
    })
}

/// A WebP that cannot be read, with what is wrong.
fn bad(what: &str) -> ImageInvalid {
    ImageInvalid::Undecodable(format!("WebP: {what}"))
}
