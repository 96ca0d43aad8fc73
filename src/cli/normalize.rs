//! `face-enroll normalize`: the worker's normalizing on one file, with an
//! account of what it did.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use face_enroll::config::Settings;
use face_enroll::image::normalize::Header;
use face_enroll::image::{MemoryBudget, Normalizer};

/// Make an image meet the service's rules as the worker would, and write it.
///
/// Uses the image.* settings (normalize, normalize_short_side,
/// normalize_quality, max_pixels, max_bytes). Exits 1 when the image cannot
/// be sent, with the reason the job's event would give.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image to read (JPEG, PNG or WebP).
    #[arg(long)]
    image_file: PathBuf,
    /// Where to write the JPEG that would be sent.
    #[arg(long)]
    out: PathBuf,
}

pub async fn run(args: Args, settings: Settings) -> anyhow::Result<ExitCode> {
    let bytes = read_image_file(&args.image_file, settings.image.max_bytes).await?;
    let before = Header::read(&bytes).ok();
    let size_before = bytes.len();
    let budget = MemoryBudget::new(settings.worker.max_inflight_bytes);
    let started = Instant::now();
    let prepared = match Normalizer::new(&settings.image, budget)
        .prepare(bytes)
        .await
    {
        Ok(prepared) => prepared,
        Err(invalid) => {
            eprintln!("image_invalid: {invalid}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let elapsed = started.elapsed();
    tokio::fs::write(&args.out, &prepared.jpeg)
        .await
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    if let Some(before) = before {
        let (w, h) = before.displayed();
        println!(
            "before: {} {}x{} as stored, {w}x{h} as displayed (EXIF orientation {}), {size_before} bytes",
            before.format.as_str(),
            before.width,
            before.height,
            before.orientation
        );
    }
    let info = prepared.info;
    let after = format!(
        "{}x{}, {} bytes",
        info.width,
        info.height,
        prepared.jpeg.len()
    );
    match prepared.report {
        Some(report) => println!(
            "after:  JPEG {after}, upright, decoded at 1/{} scale, in {:.1} ms",
            report.dct_denominator,
            report.elapsed.as_secs_f64() * 1e3
        ),
        None => println!(
            "after:  unchanged: it meets the rules as it is ({after}; {:.1} ms to check)",
            elapsed.as_secs_f64() * 1e3
        ),
    }
    let path = if prepared.jpeg.len() as u64 > face_enroll::image::rules::INLINE_MAX_BYTES {
        "over 1 MB: the worker uploads it by the file-stream path"
    } else {
        "sent inline as FacePicture"
    };
    println!("{path}; written to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// A local image file, refused past `max_bytes` (`image.max_bytes`) before
/// it is read.
pub async fn read_image_file(path: &Path, max_bytes: u64) -> anyhow::Result<bytes::Bytes> {
    let size = tokio::fs::metadata(path)
        .await
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    anyhow::ensure!(
        size <= max_bytes,
        "{} is {size} bytes, over image.max_bytes ({max_bytes})",
        path.display()
    );
    let bytes = tokio::fs::read(path)
        .await
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(bytes.into())
}
