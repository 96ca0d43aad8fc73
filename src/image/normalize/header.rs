//! What an image's header says, read before any pixel is decoded: its
//! format, its size as stored and its EXIF orientation.

use std::io::Cursor;

use image::ImageDecoder;

use crate::image::rules::{self, ImageInvalid};

/// The formats normalizing decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JPEG of any kind libjpeg-turbo reads (baseline, progressive, gray, CMYK).
    Jpeg,
    /// PNG.
    Png,
    /// WebP, lossy or lossless.
    WebP,
}

impl Format {
    /// The format's usual name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::WebP => "WebP",
        }
    }
}

/// An image's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The format, from the content.
    pub format: Format,
    /// Width as stored.
    pub width: u32,
    /// Height as stored.
    pub height: u32,
    /// EXIF orientation, 1 to 8 (1 when absent).
    pub orientation: u16,
}

impl Header {
    /// Reads the header of `bytes`; a JPEG must also be whole (end marker).
    pub fn read(bytes: &[u8]) -> Result<Self, ImageInvalid> {
        match sniff(bytes)? {
            Format::Jpeg => {
                let info = rules::inspect(bytes)?;
                let (width, height) = if info.orientation >= 5 {
                    (info.height, info.width)
                } else {
                    (info.width, info.height)
                };
                Ok(Self {
                    format: Format::Jpeg,
                    width,
                    height,
                    orientation: info.orientation,
                })
            }
            format => {
                let mut decoder = other_decoder(bytes, format)?;
                let (width, height) = decoder.dimensions();
                let orientation = decoder.orientation().map_or(1, |o| u16::from(o.to_exif()));
                Ok(Self {
                    format,
                    width,
                    height,
                    orientation,
                })
            }
        }
    }

    /// Whether the orientation swaps width and height.
    pub fn transposed(&self) -> bool {
        self.orientation >= 5
    }

    /// Width and height as displayed.
    pub fn displayed(&self) -> (u32, u32) {
        if self.transposed() {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }

    /// Pixels as stored.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// The format, from the first bytes.
fn sniff(bytes: &[u8]) -> Result<Format, ImageInvalid> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        Ok(Format::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok(Format::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Ok(Format::WebP)
    } else {
        let hint = match bytes.get(4..12) {
            Some(b"ftypheic" | b"ftypheix" | b"ftypmif1" | b"ftypmsf1") => {
                "; it is HEIC, which this release does not read"
            }
            _ if bytes.starts_with(b"GIF8") => "; it is a GIF",
            _ => "",
        };
        Err(ImageInvalid::UnknownFormat(hint))
    }
}

/// A PNG or WebP decoder that has read the header and nothing more.
pub(super) fn other_decoder(
    bytes: &[u8],
    format: Format,
) -> Result<Box<dyn ImageDecoder + '_>, ImageInvalid> {
    let undecodable =
        |e: image::ImageError| ImageInvalid::Undecodable(format!("{}: {e}", format.as_str()));
    let cursor = Cursor::new(bytes);
    Ok(match format {
        Format::Png => Box::new(image::codecs::png::PngDecoder::new(cursor).map_err(undecodable)?),
        Format::WebP => {
            Box::new(image::codecs::webp::WebPDecoder::new(cursor).map_err(undecodable)?)
        }
        Format::Jpeg => {
            return Err(ImageInvalid::Undecodable(
                "JPEG goes through libjpeg-turbo".into(),
            ));
        }
    })
}
