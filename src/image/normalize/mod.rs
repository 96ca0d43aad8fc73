//! Normalizing: what makes a phone's photo meet the service's rules. The
//! picture is decoded (JPEG, PNG, WebP), turned upright as its EXIF
//! orientation says, shrunk so its shorter side is `image.normalize_short_side`
//! (never enlarged, never past 1080x1920), and encoded as a baseline 4:2:0
//! JPEG with no metadata. `image.normalize` says which pictures: `auto` only
//! those breaking a rule this mends, `always` every one, `never` none.
//!
//! Bounded, because pictures come from anyone: the header is walked (off the
//! async thread) before anything is decoded, the pixel count judged from it,
//! and the decode's real peak (see [`codec::peak_bytes`]) reserved from the
//! decoded-pixel budget; a picture needing more than that whole budget is
//! refused. The codecs run on the blocking pool, at most one per core, each
//! with its own limits; one running past `image.normalize_timeout` is given
//! up on, but its memory and its core stay counted until it really stops.
//! A panic in a codec ends the job, not the process.

pub mod codec;
pub mod header;
pub mod orient;
pub mod png;
pub mod webp;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Semaphore;

pub use header::{Format, Header, Layout};

use super::budget::MemoryBudget;
use super::rules::{self, INLINE_MAX_BYTES, ImageInvalid, JpegInfo, MAX_HEIGHT, MAX_WIDTH};
use crate::config::{ImageSettings, NormalizeMode};

/// A picture ready to send: a JPEG meeting the rules.
#[derive(Clone)]
pub struct Prepared {
    /// The JPEG.
    pub jpeg: Bytes,
    /// Its displayed size.
    pub info: JpegInfo,
    /// What normalizing did, when it ran.
    pub report: Option<Report>,
}

impl std::fmt::Debug for Prepared {
    /// Never prints image data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("bytes", &self.jpeg.len())
            .field("info", &self.info)
            .field("report", &self.report)
            .finish()
    }
}

/// What normalizing one picture did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The picture as it came.
    pub before: Header,
    /// Its size in bytes.
    pub before_bytes: usize,
    /// The DCT scale it was decoded at (1, 2, 4 or 8 for 1/1 to 1/8).
    pub dct_denominator: u32,
    /// Time spent decoding, resampling and encoding.
    pub elapsed: Duration,
}

/// What a picture needs, judged from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Sent byte for byte.
    AsIs,
    /// Normalized to this displayed width and height.
    Shrink {
        /// Width as displayed.
        width: u32,
        /// Height as displayed.
        height: u32,
    },
}

/// Applies `image.normalize*` and `image.max_pixels`; shared by every job.
#[derive(Debug, Clone)]
pub struct Normalizer {
    mode: NormalizeMode,
    short_side: u32,
    quality: u8,
    max_pixels: u64,
    timeout: Duration,
    budget: MemoryBudget,
    cores: Arc<Semaphore>,
    cores_total: usize,
}

/// Pictures up to this size have their header read on the async thread: the
/// walk takes microseconds.
const READ_INLINE_BYTES: usize = 64 << 10;

impl Normalizer {
    /// A normalizer charging decoded pixels to `budget`.
    pub fn new(settings: &ImageSettings, budget: MemoryBudget) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            mode: settings.normalize,
            short_side: settings.normalize_short_side,
            quality: settings.normalize_quality,
            max_pixels: settings.max_pixels,
            timeout: settings.normalize_timeout,
            budget,
            cores: Arc::new(Semaphore::new(cores)),
            cores_total: cores,
        }
    }

    /// What `header` (of an image of `size` bytes) needs, or why it can
    /// never be sent.
    pub fn plan(&self, header: &Header, size: usize) -> Result<Plan, ImageInvalid> {
        if header.pixels() > self.max_pixels {
            return Err(ImageInvalid::TooManyPixels {
                width: header.width,
                height: header.height,
                limit: self.max_pixels,
            });
        }
        let (width, height) = header.displayed();
        if height <= width {
            // Never cropped: the face might be anywhere.
            return Err(ImageInvalid::NotPortrait { width, height });
        }
        let breaks_a_rule = header.format != Format::Jpeg
            || size as u64 > INLINE_MAX_BYTES
            || width > MAX_WIDTH
            || height > MAX_HEIGHT;
        let shrink = match self.mode {
            NormalizeMode::Never => false,
            NormalizeMode::Auto => breaks_a_rule,
            NormalizeMode::Always => true,
        };
        if !shrink {
            return Ok(Plan::AsIs);
        }
        let scale = (f64::from(self.short_side) / f64::from(width))
            .min(f64::from(MAX_WIDTH) / f64::from(width))
            .min(f64::from(MAX_HEIGHT) / f64::from(height))
            .min(1.0);
        let fit = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
        let (width, height) = (fit(width), fit(height));
        // A nearly square portrait must stay a portrait once rounded.
        let height = height.max(width + 1).min(MAX_HEIGHT);
        Ok(Plan::Shrink { width, height })
    }

    /// The picture to send for `bytes`, or why there is none.
    pub async fn prepare(&self, bytes: Bytes) -> Result<Prepared, ImageInvalid> {
        let header = if bytes.len() <= READ_INLINE_BYTES {
            Header::read(&bytes)?
        } else {
            let read = bytes.clone();
            tokio::task::spawn_blocking(move || Header::read(&read))
                .await
                .map_err(|_| codec_failed())??
        };
        let (width, height) = match self.plan(&header, bytes.len())? {
            Plan::AsIs => return as_is(bytes, &header),
            Plan::Shrink { width, height } => (width, height),
        };
        let (stored_width, stored_height) = if header.transposed() {
            (height, width)
        } else {
            (width, height)
        };
        let denominator = codec::dct_denominator(&header, stored_width, stored_height);
        let needed = codec::peak_bytes(&header, denominator, stored_width, stored_height);
        let share = self.budget.total();
        if needed > share {
            return Err(ImageInvalid::NeedsMemory { needed, share });
        }
        let memory = self.budget.reserve_exact(needed).await;
        let core = self.cores.clone().acquire_owned().await;
        let started = Instant::now();
        let before_bytes = bytes.len();
        let quality = self.quality;
        let work = tokio::task::spawn_blocking(move || {
            // Held until the codec has really stopped, even once the job has
            // given up on it.
            let _held = (memory, core);
            let stored = codec::decode(&bytes, &header, denominator, needed)?;
            let small = codec::resize(stored, stored_width, stored_height)?;
            let jpeg = codec::encode(&orient::apply(small, header.orientation), quality)?;
            let info = rules::check(&jpeg, rules::SERVICE_MAX_BYTES)?;
            Ok::<_, ImageInvalid>((jpeg, info))
        });
        let (jpeg, info) = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| ImageInvalid::TimedOut {
                limit: self.timeout,
            })?
            .map_err(|_| codec_failed())??;
        Ok(Prepared {
            jpeg: Bytes::from(jpeg),
            info,
            report: Some(Report {
                before: header,
                before_bytes,
                dct_denominator: denominator,
                elapsed: started.elapsed(),
            }),
        })
    }

    /// Codecs running now (given up on or not).
    pub fn running(&self) -> usize {
        self.cores_total - self.cores.available_permits()
    }
}

/// A codec that panicked: the job ends, the process goes on.
fn codec_failed() -> ImageInvalid {
    ImageInvalid::Undecodable("the image codec failed on this data".into())
}

/// `bytes` sent as they are: they must meet every rule already.
fn as_is(bytes: Bytes, header: &Header) -> Result<Prepared, ImageInvalid> {
    if header.format != Format::Jpeg {
        return Err(ImageInvalid::NotJpeg(match header.format {
            Format::Png => "; it is a PNG",
            _ => "; it is a WebP",
        }));
    }
    if bytes.len() as u64 > rules::SERVICE_MAX_BYTES {
        return Err(ImageInvalid::TooManyBytes {
            size: bytes.len() as u64,
            limit: rules::SERVICE_MAX_BYTES,
        });
    }
    let (width, height) = header.displayed();
    let info = rules::judge(JpegInfo {
        width,
        height,
        orientation: header.orientation,
    })?;
    Ok(Prepared {
        jpeg: bytes,
        info,
        report: None,
    })
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
