//! Publishing with publisher confirms: a message counts as sent only when the
//! broker has confirmed it. A nack or an unroutable message is tried again a
//! bounded number of times; a dead channel ends at once.

use std::time::Duration;

use lapin::{Channel, Confirmation};
use tokio_util::sync::CancellationToken;

use super::SessionEnded;
use super::blocked::Blocked;
use super::linger::Linger;
use super::message::Message;
use crate::retry::Backoff;
use crate::telemetry::{Metrics, PublishResult};

/// Tries of one message before [`PublishFailed::Refused`].
pub const PUBLISH_TRIES: u32 = 8;
/// Waits between tries: about 11 s in all at most.
const REPUBLISH: Backoff = Backoff {
    first: Duration::from_millis(100),
    max: Duration::from_secs(5),
};
/// Longest wait for the broker's confirm of one publish.
const CONFIRM_WITHIN: Duration = Duration::from_secs(30);

/// Why one try did not get a positive confirm.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The broker refused to take the message (nack); worth retrying.
    #[error("the broker did not accept the message (nack)")]
    Nacked,
    /// The message was mandatory and nothing routed it.
    #[error(
        "no queue is bound to route the message to exchange {exchange:?} with key {routing_key:?}"
    )]
    Unroutable {
        /// Where it was sent.
        exchange: String,
        /// With this key.
        routing_key: String,
    },
    /// The channel or connection failed.
    #[error(transparent)]
    Session(#[from] SessionEnded),
}

/// Why [`Publisher::publish_confirmed`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum PublishFailed {
    /// Every try was nacked or unroutable; the last reason follows.
    #[error("not confirmed after {PUBLISH_TRIES} tries: {0}")]
    Refused(PublishError),
    /// The session ended; the broker will deliver the job again.
    #[error(transparent)]
    Session(#[from] SessionEnded),
}

/// A channel in confirm mode, shared by every job of a session.
#[derive(Clone)]
pub struct Publisher {
    /// In confirm mode since the session opened.
    channel: Channel,
    /// Counts each try's result.
    metrics: Metrics,
    /// Gathers publishes into batches at a low rate (`amqp.publish_linger`).
    linger: std::sync::Arc<Linger>,
    /// The broker's block on publishing: a confirm is awaited while it lasts.
    blocked: Blocked,
}

impl Publisher {
    /// Wraps a channel already put in confirm mode on a connection whose
    /// publishing may be `blocked`; publishes wait for `linger`'s flush points.
    pub fn new(
        channel: Channel,
        metrics: Metrics,
        linger: std::sync::Arc<Linger>,
        blocked: Blocked,
    ) -> Self {
        Self {
            channel,
            metrics,
            linger,
            blocked,
        }
    }

    /// The broker's block on this connection's publishing.
    pub fn blocked(&self) -> &Blocked {
        &self.blocked
    }

    /// Publishes at the next flush point, then until the broker confirms, at
    /// most [`PUBLISH_TRIES`] times with jittered backoff between; ends early
    /// when `lost` is cancelled.
    pub async fn publish_confirmed(
        &self,
        message: &Message,
        lost: &CancellationToken,
    ) -> Result<(), PublishFailed> {
        self.linger.wait().await;
        let mut tries = 0;
        loop {
            let error = match self.publish_once(message).await {
                Ok(()) => return Ok(()),
                Err(PublishError::Session(ended)) => return Err(ended.into()),
                Err(e) => e,
            };
            tries += 1;
            if tries >= PUBLISH_TRIES {
                return Err(PublishFailed::Refused(error));
            }
            tracing::warn!(error = %error, exchange = %message.exchange, routing_key = %message.routing_key, "publish not confirmed; retrying");
            tokio::select! {
                () = tokio::time::sleep(REPUBLISH.jittered(tries - 1)) => {}
                () = lost.cancelled() => return Err(SessionEnded::Lost.into()),
            }
        }
    }

    /// Publishes once and waits for the broker's confirm.
    pub async fn publish_once(&self, message: &Message) -> Result<(), PublishError> {
        let confirm = async { message.send(&self.channel).await?.await };
        tokio::pin!(confirm);
        // A confirm may take as long as the broker blocks publishing: giving
        // up then would end the session and have every job called again.
        let confirm = loop {
            match tokio::time::timeout(CONFIRM_WITHIN, &mut confirm).await {
                Ok(confirm) => break confirm.map_err(SessionEnded::Channel)?,
                Err(_) if self.blocked.is_blocked() => {}
                Err(_) => return Err(SessionEnded::Unresponsive("a publisher confirm").into()),
            }
        };
        let result = confirmation(confirm, message);
        let outcome = match &result {
            Ok(()) => PublishResult::Confirmed,
            Err(PublishError::Unroutable { .. }) => PublishResult::Unroutable,
            Err(_) => PublishResult::Nacked,
        };
        self.metrics.published(outcome);
        result
    }
}

/// What the broker's confirm says of `message`.
pub(super) fn confirmation(confirm: Confirmation, message: &Message) -> Result<(), PublishError> {
    match confirm {
        Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
        Confirmation::Ack(Some(_)) => Err(PublishError::Unroutable {
            exchange: message.exchange.clone(),
            routing_key: message.routing_key.clone(),
        }),
        Confirmation::Nack(_) => Err(PublishError::Nacked),
    }
}
