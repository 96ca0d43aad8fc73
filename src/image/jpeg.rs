//! The JPEG marker walk: every segment from start-of-image to end-of-image,
//! read without decoding a pixel, so the rules and the decoder's real cost
//! (frame kind, sampling, number of scans, metadata) are known first.
//!
//! Bounded: it allocates nothing but the EXIF block it reads the orientation
//! from (at most one segment, 64 KiB), stops at the 501st scan, and refuses a
//! JPEG whose metadata segments add up to more than 1 MiB.

use super::rules::ImageInvalid;

/// More scans than this is refused, as libjpeg-turbo advises against the
/// progressive-scan denial of service.
pub const MAX_SCANS: u32 = 500;
/// Most bytes of metadata segments (APPn, COM) a JPEG may carry in all.
pub const MAX_METADATA_BYTES: usize = 1 << 20;

/// What the markers of a whole JPEG say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Width as stored.
    pub width: u32,
    /// Height as stored.
    pub height: u32,
    /// EXIF orientation (1 to 8), 1 when absent or unreadable.
    pub orientation: u16,
    /// The start-of-frame marker (0xC0 baseline, 0xC2 progressive, ...).
    pub sof: u8,
    /// Horizontal and vertical sampling factor of each component.
    pub sampling: [(u8, u8); 4],
    /// Number of components (1 to 4).
    pub components: u8,
    /// Number of scans.
    pub scans: u32,
}

impl Layout {
    /// Progressive (SOF2, SOF6, SOF10, SOF14).
    pub fn progressive(&self) -> bool {
        matches!(self.sof, 0xC2 | 0xC6 | 0xCA | 0xCE)
    }

    /// Lossless (SOF3, SOF7, SOF11, SOF15): never decoded at a DCT scale.
    pub fn lossless(&self) -> bool {
        matches!(self.sof, 0xC3 | 0xC7 | 0xCB | 0xCF)
    }

    /// Whether the decoder buffers the whole image's coefficients before
    /// output: progressive, or several scans.
    pub fn buffered(&self) -> bool {
        self.progressive() || self.scans > 1
    }

    /// Bytes of the full-image coefficient buffer (2 bytes a sample, each
    /// component padded to whole blocks of its sampling), as libjpeg holds it.
    pub fn coefficient_bytes(&self) -> u64 {
        let (h_max, v_max) = self.sampling[..usize::from(self.components)]
            .iter()
            .fold((1, 1), |(h, v), &(ch, cv)| (h.max(ch), v.max(cv)));
        self.sampling[..usize::from(self.components)]
            .iter()
            .map(|&(h, v)| {
                let blocks = |side: u32, factor: u8, max: u8| {
                    let samples = (u64::from(side) * u64::from(factor)).div_ceil(u64::from(max));
                    samples.div_ceil(8).next_multiple_of(u64::from(factor))
                };
                blocks(self.width, h, h_max) * blocks(self.height, v, v_max) * 128
            })
            .sum()
    }
}

/// Walks every marker of `bytes`; the JPEG must end with its end-of-image.
pub fn walk(bytes: &[u8]) -> Result<Layout, ImageInvalid> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        let hint = if bytes.starts_with(b"\x89PNG") {
            "; it is a PNG"
        } else {
            ""
        };
        return Err(ImageInvalid::NotJpeg(hint));
    }
    let mut pos = 2;
    let mut frame: Option<Layout> = None;
    let mut orientation = 1;
    let mut metadata = 0usize;
    let mut scans = 0u32;
    loop {
        let marker = next_marker(bytes, &mut pos, scans > 0)?;
        match marker {
            0xD9 if scans == 0 => {
                return Err(ImageInvalid::Malformed("end-of-image before any scan"));
            }
            0xD9 => break,
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
                if frame.is_some() {
                    return Err(ImageInvalid::Malformed("a second frame header"));
                }
                frame = Some(frame_layout(marker, payload)?);
            }
            0xE0..=0xEF | 0xFE => {
                metadata += payload.len();
                if metadata > MAX_METADATA_BYTES {
                    return Err(ImageInvalid::Metadata {
                        what: "JPEG metadata segments",
                        limit: MAX_METADATA_BYTES,
                    });
                }
                if marker == 0xE1 && orientation == 1 && payload.starts_with(b"Exif\0\0") {
                    orientation = exif_orientation(&payload[6..]).unwrap_or(1);
                }
            }
            0xDA => {
                if frame.is_none() {
                    return Err(ImageInvalid::Malformed("no frame header before the scan"));
                }
                scans += 1;
                if scans > MAX_SCANS {
                    return Err(ImageInvalid::TooManyScans { limit: MAX_SCANS });
                }
                pos = skip_entropy_data(bytes, pos)
                    .ok_or(ImageInvalid::Truncated("no end-of-image marker"))?;
            }
            _ => {}
        }
    }
    let frame = frame.ok_or(ImageInvalid::Malformed("no frame header before the scan"))?;
    Ok(Layout {
        orientation,
        scans,
        ..frame
    })
}

/// Advances past the next marker (and any fill bytes) and returns its code.
fn next_marker(bytes: &[u8], pos: &mut usize, scanned: bool) -> Result<u8, ImageInvalid> {
    if bytes.get(*pos) != Some(&0xFF) {
        return match bytes.get(*pos) {
            None if scanned => Err(ImageInvalid::Truncated("no end-of-image marker")),
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

/// The position of the first marker after the entropy-coded data starting
/// at `pos` (stuffed bytes and restart markers belong to the data).
fn skip_entropy_data(bytes: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        pos += memchr::memchr(0xFF, bytes.get(pos..)?)?;
        match bytes.get(pos + 1)? {
            0x00 | 0xD0..=0xD7 => pos += 2,
            _ => return Some(pos),
        }
    }
}

/// The frame's size and components from a start-of-frame payload.
fn frame_layout(sof: u8, payload: &[u8]) -> Result<Layout, ImageInvalid> {
    let [_, h1, h0, w1, w0, count, rest @ ..] = payload else {
        return Err(ImageInvalid::Malformed("the frame header is too short"));
    };
    let height = u32::from(u16::from_be_bytes([*h1, *h0]));
    let width = u32::from(u16::from_be_bytes([*w1, *w0]));
    if height == 0 || width == 0 {
        return Err(ImageInvalid::Malformed(
            "the frame header gives a zero size",
        ));
    }
    if !(1..=4).contains(count) || rest.len() < 3 * usize::from(*count) {
        return Err(ImageInvalid::Malformed(
            "the frame header has an impossible number of components",
        ));
    }
    let mut sampling = [(1, 1); 4];
    for (slot, component) in sampling.iter_mut().zip(rest.chunks_exact(3)) {
        let (h, v) = (component[1] >> 4, component[1] & 0x0F);
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return Err(ImageInvalid::Malformed(
                "a component has an impossible sampling factor",
            ));
        }
        *slot = (h, v);
    }
    Ok(Layout {
        width,
        height,
        orientation: 1,
        sof,
        sampling,
        components: *count,
        scans: 0,
    })
}

/// The primary image's EXIF orientation, when present and valid.
pub(super) fn exif_orientation(tiff: &[u8]) -> Option<u16> {
    let exif = exif::Reader::new().read_raw(tiff.to_vec()).ok()?;
    let field = exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)?;
    let value = u16::try_from(field.value.get_uint(0)?).ok()?;
    (1..=8).contains(&value).then_some(value)
}
