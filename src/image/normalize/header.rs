//! What an image's header says, read before any pixel is decoded: its
//! format, its size as stored, its EXIF orientation, and what its decoder
//! will hold (the format's own walk of its markers or chunks).

use super::{png, webp};
use crate::image::jpeg;
use crate::image::rules::ImageInvalid;

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

/// What the decoder of each format needs to know to say what it will hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Frame kind, sampling and scans.
    Jpeg(jpeg::Layout),
    /// Output samples a pixel.
    Png(png::Layout),
    /// Alpha or not.
    WebP(webp::Layout),
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
    /// What decoding it involves.
    pub layout: Layout,
}

impl Header {
    /// Reads the header of `bytes`; a JPEG must also be whole (end marker).
    /// Walks the whole file (a JPEG's every marker), so it belongs off the
    /// async thread for large pictures.
    pub fn read(bytes: &[u8]) -> Result<Self, ImageInvalid> {
        let format = sniff(bytes)?;
        let (width, height, orientation, layout) = match format {
            Format::Jpeg => {
                let walked = jpeg::walk(bytes)?;
                let orientation = walked.orientation;
                (
                    walked.width,
                    walked.height,
                    orientation,
                    Layout::Jpeg(walked),
                )
            }
            Format::Png => {
                let (w, h, o, layout) = png::walk(bytes)?;
                (w, h, o, Layout::Png(layout))
            }
            Format::WebP => {
                let (w, h, o, layout) = webp::walk(bytes)?;
                (w, h, o, Layout::WebP(layout))
            }
        };
        Ok(Self {
            format,
            width,
            height,
            orientation,
            layout,
        })
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
