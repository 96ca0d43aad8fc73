//! The service's image rules, judged from the bytes alone: a complete JPEG,
//! within the size limit, portrait and at most 1080 wide by 1920 high as
//! displayed (after EXIF orientation).

/// Largest height the service accepts, in pixels, as displayed.
pub const MAX_HEIGHT: u32 = 1920;
/// Largest width the service accepts, in pixels, as displayed.
pub const MAX_WIDTH: u32 = 1080;
/// Largest image the service accepts, in bytes (10 MB, read the strict way).
pub const SERVICE_MAX_BYTES: u64 = 10_000_000;
/// Largest image sent inline as `FacePicture` (1 MB, read the strict way);
/// larger ones go by the file-stream path.
pub const INLINE_MAX_BYTES: u64 = 1_000_000;

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
    /// Decoding would need more memory than the decoded-pixel share of
    /// `worker.max_inflight_bytes`.
    #[error(
        "decoding the image would need {needed} bytes, over the {share} bytes of worker.max_inflight_bytes given to decoding"
    )]
    NeedsMemory {
        /// Bytes the decode would hold at its peak.
        needed: u64,
        /// The decoded-pixel share.
        share: u64,
    },
    /// Metadata (ICC profile, EXIF, XMP, text) larger than allowed.
    #[error("the image's {what} are over {limit} bytes")]
    Metadata {
        /// Which metadata.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A JPEG with more scans than allowed.
    #[error("the JPEG has more than {limit} scans")]
    TooManyScans {
        /// The limit.
        limit: u32,
    },
    /// Normalizing took longer than `image.normalize_timeout`.
    #[error("normalizing the image took longer than {limit:?} (image.normalize_timeout)")]
    TimedOut {
        /// `image.normalize_timeout`.
        limit: std::time::Duration,
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

impl ImageInvalid {
    /// Every value of [`reason`](Self::reason).
    pub const REASONS: [&'static str; 7] = [
        "pixels", "memory", "metadata", "scans", "timeout", "format", "rules",
    ];

    /// The `reason` label of `face_enroll_image_refused_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooManyPixels { .. } => "pixels",
            Self::NeedsMemory { .. } => "memory",
            Self::Metadata { .. } => "metadata",
            Self::TooManyScans { .. } => "scans",
            Self::TimedOut { .. } => "timeout",
            Self::NotJpeg(_)
            | Self::Truncated(_)
            | Self::UnknownFormat(_)
            | Self::Undecodable(_)
            | Self::Malformed(_) => "format",
            Self::TooManyBytes { .. } | Self::NotPortrait { .. } | Self::TooLarge { .. } => "rules",
        }
    }
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
    let layout = super::jpeg::walk(bytes)?;
    let (width, height) = if (5..=8).contains(&layout.orientation) {
        (layout.height, layout.width)
    } else {
        (layout.width, layout.height)
    };
    Ok(JpegInfo {
        width,
        height,
        orientation: layout.orientation,
    })
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
