//! The picture of an add job: a URL job sent as a URL is passed on, a key
//! job sent as a URL goes as a presigned URL of the key; any
//! other image is fetched and normalized as the rules need, then sent inline
//! up to 1 MB or uploaded by the file-stream path (whose grant is a call
//! like any other: limited, retried, counted, and heard by the circuit).

use std::time::Instant;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::flows::JobCalls;
use super::outcome::{Outcome, Trouble};
use super::road::Road;
use super::steps::{Stage, origin};
use crate::cloudauth::{ApiAction, Picture};
use crate::event::ErrorKind;
use crate::image::rules::INLINE_MAX_BYTES;
use crate::image::{FetchError, Reservation};
use crate::job::{Enrollment, ImageSource};

/// A picture ready to be given to the service.
pub(super) enum Sendable {
    /// A URL the service fetches itself.
    Url(String),
    /// A JPEG within the service's rules.
    Jpeg(Bytes),
}

impl Road {
    /// The picture to send (the URL as is, or the fetched image, normalized
    /// as needed) with the memory it holds until the call is done.
    pub(super) async fn picture(
        &self,
        enrollment: &Enrollment,
        stop: &CancellationToken,
    ) -> Result<(Sendable, Reservation), Stage> {
        match (enrollment.send_as_url, &enrollment.image) {
            (true, ImageSource::Url(url)) => {
                return Ok((Sendable::Url(url.to_string()), Reservation::none()));
            }
            (true, ImageSource::Key(key)) => {
                let url = self
                    .policy
                    .run_until(stop, || self.fetcher.presign(key))
                    .await
                    .map_err(|e| self.fetch_failed(e))?;
                return Ok((Sendable::Url(url), Reservation::none()));
            }
            _ => {}
        }
        let source = &enrollment.image;
        let started = Instant::now();
        let fetched = self
            .policy
            .run_until(stop, || self.fetcher.fetch(source))
            .await;
        let size = fetched.as_ref().ok().map(|(bytes, _)| bytes.len());
        self.metrics
            .image_fetched(origin(source), started.elapsed(), size);
        let (bytes, mut memory) = fetched.map_err(|e| self.fetch_failed(e))?;
        let prepared = self.normalizer.prepare(bytes).await.map_err(|invalid| {
            self.metrics.image_refused(&invalid);
            Stage::Failed(ErrorKind::ImageInvalid, invalid.to_string())
        })?;
        if prepared.report.is_some() {
            // The original is gone: only the normalized JPEG is held now.
            memory.shrink_to(prepared.jpeg.len() as u64);
        }
        let normalized = prepared.report.map(|r| r.elapsed);
        self.metrics.image_sent(prepared.jpeg.len(), normalized);
        Ok((Sendable::Jpeg(prepared.jpeg), memory))
    }

    /// The stage a picture that could not be had ends in.
    fn fetch_failed(&self, error: FetchError) -> Stage {
        match error {
            FetchError::Transient(detail) => Stage::Trouble(Trouble {
                image_host: true,
                detail,
                answer: None,
            }),
            FetchError::Refused(detail) => Stage::Failed(ErrorKind::ImageFetch, detail),
            FetchError::Invalid(invalid) => {
                self.metrics.image_refused(&invalid);
                Stage::Failed(ErrorKind::ImageInvalid, invalid.to_string())
            }
            FetchError::BadSource(detail) => Stage::BadSource(detail),
        }
    }

    /// How the picture is given to the service: a URL as is, a JPEG inline
    /// up to 1 MB, else uploaded by the file-stream path first.
    pub(super) async fn hand_over(
        &self,
        calls: &mut JobCalls<'_>,
        picture: Sendable,
    ) -> Result<Picture, Outcome> {
        let jpeg = match picture {
            Sendable::Url(url) => return Ok(Picture::Url(url)),
            Sendable::Jpeg(jpeg) if jpeg.len() as u64 <= INLINE_MAX_BYTES => {
                return Ok(Picture::inline(&jpeg));
            }
            Sendable::Jpeg(jpeg) => jpeg,
        };
        let grant = self
            .step(calls, ApiAction::AuthorizeFileUpload, || {
                self.client.authorize_upload()
            })
            .await?;
        let posted = self
            .policy
            .run_until(calls.gates.stop, || self.client.post_upload(&grant, &jpeg))
            .await;
        match posted {
            Ok(file) => Ok(Picture::File(file)),
            Err(_) if calls.gates.stop.is_cancelled() => Err(Outcome::Abandon),
            Err(reply) => Err(self.unsuccessful(calls, reply)),
        }
    }
}
