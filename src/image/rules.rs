//! The service's image rules, judged from the bytes alone: a complete JPEG,
//! within the size limit, portrait and at most 1080 wide by 1920 high as
//! displayed (after EXIF orientation).

/// Largest height the service accepts, in pixels, as displayed.
pub const MAX_HEIGHT: u32 = 1920;
/// Largest width the service accepts, in pixels, as displayed.
pub const MAX_WIDTH: u32 = 1080;
/// Largest image the service accepts, in bytes (10 MB).
pub const SERVICE_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Largest image sent inline as `FacePicture` (1 MB); larger ones go by the
/// file-stream path.
pub const INLINE_MAX_BYTES: u64 = 1024 * 1024;

/// Why an image breaks the rules; each message is the `image_invalid` detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageInvalid {
    /// Over `image.max_bytes`.
    #[error("the image is {size} bytes, over the limit of {limit} bytes")]
    TooManyBytes {
        /// Bytes seen (at least).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// No start-of-image marker.
    #[error("the image is not a JPEG (it does not start with the JPEG start-of-image marker){0}")]
    NotJpeg(&'static str),
    /// The data ends before the end-of-image marker.
    #[error("the JPEG is truncated: {0}")]
    Truncated(&'static str),
    /// Neither JPEG, PNG nor WebP.
    #[error("the image is not a JPEG, PNG or WebP{0}")]
    UnknownFormat(&'static str),
    /// More pixels than `image.max_pixels`, judged from the header.
    #[error(
        "the image is {width}x{height} pixels as stored, over the limit of {limit} pixels (image.max_pixels)"
    )]
    TooManyPixels {
        /// Width as stored.
        width: u32,
        /// Height as stored.
        height: u32,
        /// The limit.
        limit: u64,
    },
    /// The codec refused the data (corrupt, unsupported) or failed.
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
    /// A segment that cannot be read.
    #[error("the JPEG is malformed: {0}")]
    Malformed(&'static str),
    /// Width not below height as displayed.
    #[error(
        "the image is {width}x{height} (width x height) as displayed; it must be higher than wide"
    )]
    NotPortrait {
        /// Width as displayed.
        width: u32,
        /// Height as displayed.
        height: u32,
    },
    /// Over 1080 wide or 1920 high as displayed.
    #[error(
        "the image is {width}x{height} (width x height) as displayed; at most 1080x1920 is allowed"
    )]
    TooLarge {
        /// Width as displayed.
        width: u32,
        /// Height as displayed.
        height: u32,
    },
}

/// What the bytes say about the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegInfo {
    /// Width as displayed.
    pub width: u32,
    /// Height as displayed.
    pub height: u32,
    /// EXIF orientation (1 to 8), 1 when absent.
    pub orientation: u16,
}

/// Checks `bytes` against every rule; `Ok` carries the displayed size.
pub fn check(bytes: &[u8], max_bytes: u64) -> Result<JpegInfo, ImageInvalid> {
    let size = bytes.len() as u64;
    if size > max_bytes {
        return Err(ImageInvalid::TooManyBytes {
            size,
            limit: max_bytes,
        });
    }
    judge(inspect(bytes)?)
}

/// Checks what [`inspect`] read against the size rules.
pub fn judge(info: JpegInfo) -> Result<JpegInfo, ImageInvalid> {
    let (width, height) = (info.width, info.height);
    if height <= width {
        return Err(ImageInvalid::NotPortrait { width, height });
    }
    if width > MAX_WIDTH || height > MAX_HEIGHT {
        return Err(ImageInvalid::TooLarge { width, height });
    }
    Ok(info)
}

/// Reads the frame size and EXIF orientation, and checks the JPEG is whole.
pub fn inspect(bytes: &[u8]) -> Result<JpegInfo, ImageInvalid> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        let hint = if bytes.starts_with(b"\x89PNG") {
            "; it is a PNG"
        } else {
            ""
        };
        return Err(ImageInvalid::NotJpeg(hint));
    }
    let mut pos = 2;
    let mut frame = None;
    let mut orientation = 1;
    loop {
        let marker = next_marker(bytes, &mut pos)?;
        match marker {
            0xD9 => return Err(ImageInvalid::Malformed("end-of-image before any scan")),
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let len = bytes
            .get(pos..pos + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or(ImageInvalid::Truncated("a segment header is cut off"))?;
        if len < 2 {
            return Err(ImageInvalid::Malformed(
                "a segment has an impossible length",
            ));
        }
        let payload = bytes
            .get(pos + 2..pos + len)
            .ok_or(ImageInvalid::Truncated("a segment is cut off"))?;
        pos += len;
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                frame = Some(frame_size(payload)?);
            }
            0xE1 if payload.starts_with(b"Exif\0\0") => {
                orientation = exif_orientation(&payload[6..]).unwrap_or(1);
            }
            0xDA => break,
            _ => {}
        }
    }
    let (width, height) =
        frame.ok_or(ImageInvalid::Malformed("no frame header before the scan"))?;
    if !has_end_marker(&bytes[pos..]) {
        return Err(ImageInvalid::Truncated("no end-of-image marker"));
    }
    let (width, height) = if (5..=8).contains(&orientation) {
        (height, width)
    } else {
        (width, height)
    };
    Ok(JpegInfo {
        width,
        height,
        orientation,
    })
}

/// Advances past the next marker (and any fill bytes) and returns its code.
fn next_marker(bytes: &[u8], pos: &mut usize) -> Result<u8, ImageInvalid> {
    if bytes.get(*pos) != Some(&0xFF) {
        return match bytes.get(*pos) {
            None => Err(ImageInvalid::Truncated(
                "the data ends before the first scan",
            )),
            Some(_) => Err(ImageInvalid::Malformed("expected a segment marker")),
        };
    }
    while bytes.get(*pos) == Some(&0xFF) {
        *pos += 1;
    }
    let marker = *bytes
        .get(*pos)
        .ok_or(ImageInvalid::Truncated("the data ends inside a marker"))?;
    *pos += 1;
    Ok(marker)
}

/// Width and height from a start-of-frame payload.
fn frame_size(payload: &[u8]) -> Result<(u32, u32), ImageInvalid> {
    match payload {
        [_, h1, h0, w1, w0, ..] => {
            let height = u32::from(u16::from_be_bytes([*h1, *h0]));
            let width = u32::from(u16::from_be_bytes([*w1, *w0]));
            if height == 0 || width == 0 {
                return Err(ImageInvalid::Malformed(
                    "the frame header gives a zero size",
                ));
            }
            Ok((width, height))
        }
        _ => Err(ImageInvalid::Malformed("the frame header is too short")),
    }
}

/// The primary image's EXIF orientation, when present and valid.
fn exif_orientation(tiff: &[u8]) -> Option<u16> {
    let exif = exif::Reader::new().read_raw(tiff.to_vec()).ok()?;
    let field = exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)?;
    let value = u16::try_from(field.value.get_uint(0)?).ok()?;
    (1..=8).contains(&value).then_some(value)
}

/// Whether the scan data holds an end-of-image marker (searched from the end,
/// where it normally sits).
fn has_end_marker(scan: &[u8]) -> bool {
    scan.windows(2).rev().any(|w| w == [0xFF, 0xD9])
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
