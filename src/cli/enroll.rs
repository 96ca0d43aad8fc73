//! `face-enroll enroll`: one enrollment without a queue, the answer printed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context;
use face_enroll::cloudauth::{Client, Disposition, FaceRecordRequest, Keyring, Picture};
use face_enroll::config::Settings;
use face_enroll::image::budget::split_budget;
use face_enroll::image::{Fetcher, Normalizer};
use face_enroll::job::ImageSource;
use face_enroll::retry::RetryPolicy;
use serde_json::json;

/// Make one AddFaceRecord call and print the service's answer as JSON.
///
/// Exits 0 only when the answer's Code is Success. Throttling and server
/// errors are retried as the worker retries them.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("image").required(true)))]
pub struct Args {
    /// Face group to add the face to (FaceGroupCode).
    #[arg(long)]
    group: String,
    /// Your own id for the person (MerchantUserId, at most 32 characters).
    #[arg(long)]
    merchant_user_id: Option<String>,
    /// Download the image from this http(s) URL.
    #[arg(long, group = "image")]
    image_url: Option<url::Url>,
    /// Read the image from this local file.
    #[arg(long, group = "image")]
    image_file: Option<PathBuf>,
    /// Read the image from this key in object_store.url.
    #[arg(long, group = "image")]
    image_key: Option<String>,
    /// Pass --image-url to the service as FacePictureUrl instead of downloading it.
    #[arg(long, requires = "image_url")]
    send_as_url: bool,
    /// Ask the service to check the face's quality (FaceQualityCheck=Y).
    #[arg(long)]
    quality_check: bool,
}

pub async fn run(args: Args, settings: Settings) -> anyhow::Result<ExitCode> {
    let credentials = Keyring::discover(&settings.credentials, None).await?;
    let client = Client::new(&settings.api, credentials)?;
    let policy = RetryPolicy::new(&settings.retry);
    let picture = picture(&args, &settings, &policy, &client).await?;
    let request = FaceRecordRequest {
        face_group_code: args.group,
        merchant_user_id: args.merchant_user_id,
        picture,
        quality_check: args.quality_check,
    };
    let calls = AtomicU32::new(0);
    let answered = policy
        .run(|| async {
            calls.fetch_add(1, Ordering::Relaxed);
            let reply = client.add_face_record(&request).await.reply;
            match reply.disposition {
                Disposition::Success { .. } => Ok(reply),
                _ => Err(reply),
            }
        })
        .await;
    let reply = match &answered {
        Ok(reply) | Err(reply) => reply,
    };
    let printed = match &reply.answer {
        Some(answer) => serde_json::to_value(answer)?,
        None => json!({ "error": reply.describe() }),
    };
    println!("{}", serde_json::to_string_pretty(&printed)?);
    eprintln!("{} call(s) to {}", calls.into_inner(), client.endpoint());
    Ok(match reply.disposition {
        Disposition::Success { .. } => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

/// The picture as the worker would send it: normalized as `image.normalize`
/// says, inline up to 1 MB, else uploaded by the file-stream path.
async fn picture(
    args: &Args,
    settings: &Settings,
    policy: &RetryPolicy,
    client: &Client,
) -> anyhow::Result<Picture> {
    let budgets = split_budget(settings.worker.max_inflight_bytes);
    let bytes = match (&args.image_url, &args.image_file, &args.image_key) {
        (Some(url), _, _) if args.send_as_url => return Ok(Picture::Url(url.to_string())),
        (_, Some(path), _) => {
            super::normalize::read_image_file(path, settings.image.max_bytes).await?
        }
        (url, _, key) => {
            let source = match (url, key) {
                (Some(url), _) => ImageSource::Url(url.clone()),
                (None, Some(key)) => ImageSource::Key(key.clone()),
                (None, None) => {
                    anyhow::bail!("one of --image-url, --image-file, --image-key is needed")
                }
            };
            let fetcher = Fetcher::new(&settings.image, &settings.object_store, budgets.fetched)?;
            let (bytes, _reservation) = policy
                .run(|| fetcher.fetch(&source))
                .await
                .context("cannot get the image")?;
            bytes
        }
    };
    let prepared = Normalizer::new(&settings.image, budgets.decoding)
        .prepare(bytes)
        .await
        .context("the image cannot be sent")?;
    let picture = policy
        .run(|| face_enroll::worker::send_form(client, &prepared.jpeg))
        .await
        .map_err(|reply| {
            anyhow::anyhow!("the image could not be uploaded: {}", reply.describe())
        })?;
    Ok(picture)
}
