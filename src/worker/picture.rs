//! Step 2 of the road: the picture to send. A URL job sent as a URL is
//! passed on; any other image is fetched, normalized as the rules need, and
//! sent inline up to 1 MB or uploaded by the file-stream path.

use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::outcome::Trouble;
use super::road::Road;
use super::steps::{Stage, origin};
use crate::cloudauth::{Client, Picture, Reply};
use crate::event::ErrorKind;
use crate::image::rules::INLINE_MAX_BYTES;
use crate::image::{FetchError, Reservation};
use crate::job::{ImageSource, Job};

impl Road {
    /// Step 2: the picture to send (the URL as is, or the fetched image,
    /// normalized as needed, inline or uploaded) with the memory it holds
    /// until the call is done.
    pub(super) async fn picture(
        &self,
        job: &Job,
        stop: &CancellationToken,
    ) -> Result<(Picture, Reservation), Stage> {
        if let (true, ImageSource::Url(url)) = (job.send_as_url, &job.image) {
            return Ok((Picture::Url(url.to_string()), Reservation::none()));
        }
        let started = Instant::now();
        let fetched = self
            .policy
            .run_until(stop, || self.fetcher.fetch(&job.image))
            .await;
        let size = fetched.as_ref().ok().map(|(bytes, _)| bytes.len());
        self.metrics
            .image_fetched(origin(&job.image), started.elapsed(), size);
        let (bytes, mut memory) = fetched.map_err(|e| match e {
            FetchError::Transient(detail) => Stage::Trouble(Trouble {
                image_host: true,
                detail,
                reply: None,
            }),
            FetchError::Refused(detail) => Stage::Failed(ErrorKind::ImageFetch, detail),
            FetchError::Invalid(invalid) => {
                self.metrics.image_refused(&invalid);
                Stage::Failed(ErrorKind::ImageInvalid, invalid.to_string())
            }
            FetchError::BadSource(detail) => Stage::BadSource(detail),
        })?;
        let prepared = self.normalizer.prepare(bytes).await.map_err(|invalid| {
            self.metrics.image_refused(&invalid);
            Stage::Failed(ErrorKind::ImageInvalid, invalid.to_string())
        })?;
        if prepared.report.is_some() {
            // The original is gone: only the normalized JPEG is held now.
            memory.shrink_to(prepared.jpeg.len() as u64);
        }
        let picture = self
            .policy
            .run_until(stop, || send_form(&self.client, &prepared.jpeg))
            .await
            .map_err(|reply| match reply.retry_reason() {
                Some(_) => Stage::Trouble(Trouble {
                    image_host: false,
                    detail: reply.describe(),
                    reply: Some(Box::new(reply)),
                }),
                None => Stage::Failed(ErrorKind::Api, reply.describe()),
            })?;
        let normalized = prepared.report.map(|r| r.elapsed);
        self.metrics.image_sent(prepared.jpeg.len(), normalized);
        Ok((picture, memory))
    }
}

/// How `jpeg` is given to the service: inline up to 1 MB, else uploaded by
/// the file-stream path first.
pub async fn send_form(client: &Client, jpeg: &[u8]) -> Result<Picture, Reply> {
    if jpeg.len() as u64 <= INLINE_MAX_BYTES {
        return Ok(Picture::inline(jpeg));
    }
    client.upload(jpeg).await.map(Picture::File)
}
