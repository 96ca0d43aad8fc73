//! `face-enroll enroll`: one enrollment without a queue, the answer printed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use face_enroll::cloudauth::{Client, Disposition, FaceRecordRequest, Keyring, Picture};
use face_enroll::config::Settings;
use face_enroll::image::budget::split_budget;
use face_enroll::image::rules::INLINE_MAX_BYTES;
use face_enroll::image::{Fetcher, KeyStore, Normalizer};
use face_enroll::job::ImageSource;
use face_enroll::retry::RetryPolicy;

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
    /// Pass --image-url, or a presigned URL of --image-key, to the service as
    /// FacePictureUrl instead of downloading it.
    #[arg(long)]
    send_as_url: bool,
    /// Ask the service to check the face's quality (FaceQualityCheck=Y).
    #[arg(long)]
    quality_check: bool,
}

pub async fn run(args: Args, settings: Settings) -> anyhow::Result<ExitCode> {
    let credentials = Keyring::discover(&settings.credentials, None).await?;
    let client = Client::new(&settings.api, credentials.clone())?;
    let policy = RetryPolicy::new(&settings.retry);
    let picture = picture(&args, &settings, &policy, &client, &credentials).await?;
    let request = FaceRecordRequest {
        face_group_code: args.group,
        merchant_user_id: args.merchant_user_id,
        picture,
        quality_check: args.quality_check,
    };
    let (reply, calls) = super::answer::call(&policy, || client.add_face_record(&request)).await;
    super::answer::print(&reply, calls, &client)
}

/// The picture as the worker would send it: normalized as `image.normalize`
/// says, inline up to 1 MB, else uploaded by the file-stream path.
async fn picture(
    args: &Args,
    settings: &Settings,
    policy: &RetryPolicy,
    client: &Client,
    keyring: &Keyring,
) -> anyhow::Result<Picture> {
    let budgets = split_budget(settings.worker.max_inflight_bytes);
    let store = KeyStore::configured(
        &settings.object_store,
        &settings.image,
        &settings.api.region,
        keyring,
    )?;
    let fetcher = Fetcher::new(&settings.image, store, budgets.fetched)?;
    let bytes = match (&args.image_url, &args.image_file, &args.image_key) {
        (Some(url), _, _) if args.send_as_url => return Ok(Picture::Url(url.to_string())),
        (_, _, Some(key)) if args.send_as_url => {
            let url = fetcher
                .presign(key)
                .await
                .context("cannot presign the key")?;
            return Ok(Picture::Url(url));
        }
        (_, Some(_), _) if args.send_as_url => {
            anyhow::bail!("--send-as-url goes with --image-url or --image-key, not a local file")
        }
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
    if prepared.jpeg.len() as u64 <= INLINE_MAX_BYTES {
        return Ok(Picture::inline(&prepared.jpeg));
    }
    let (grant, _) = super::answer::call(policy, || client.authorize_upload()).await;
    let Disposition::Success(grant) = grant.disposition else {
        anyhow::bail!("the upload was not authorized: {}", grant.describe());
    };
    let file = policy
        .run(|| client.post_upload(&grant, &prepared.jpeg))
        .await
        .map_err(|reply| {
            anyhow::anyhow!("the image could not be uploaded: {}", reply.describe())
        })?;
    Ok(Picture::File(file))
}
