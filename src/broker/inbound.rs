//! A delivery from the jobs queue, with the headers the worker reads taken
//! once, and the copies of it the worker may publish (to a delay queue, to the
//! dead-letter exchange).

use std::sync::Arc;

use bytes::Bytes;
use lapin::message::Delivery;

use super::SessionEnded;
use super::acks::Acks;
use super::headers::{self, ATTEMPTS, ERROR, ROUND};
use super::message::Message;

/// One delivery of a job, not yet acknowledged.
pub struct Inbound {
    /// Properties and the tag, as the broker sent them.
    delivery: Delivery,
    /// The channel's acks, gathered at the flush points.
    acks: Arc<Acks>,
    /// The body, taken out of the delivery so the job can share it.
    body: Bytes,
    /// `x-face-enroll-round`: delay rounds done so far.
    round: u32,
    /// `x-face-enroll-attempts`: calls made in earlier rounds.
    attempts: u32,
}

impl Inbound {
    pub(super) fn new(mut delivery: Delivery, acks: Arc<Acks>) -> Self {
        let round = headers::read_count(&delivery.properties, ROUND);
        let attempts = headers::read_count(&delivery.properties, ATTEMPTS);
        let body = Bytes::from(std::mem::take(&mut delivery.data));
        Self {
            delivery,
            acks,
            body,
            round,
            attempts,
        }
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The `content_type` property.
    pub fn content_type(&self) -> Option<&str> {
        self.delivery
            .properties
            .content_type()
            .as_ref()
            .map(|t| t.as_str())
    }

    /// Delay rounds done so far.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// Calls made for this job in earlier rounds.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The broker delivered this message before, to this or another consumer.
    pub fn redelivered(&self) -> bool {
        self.delivery.redelivered
    }

    /// A copy for the delay queue `queue`, marked with `round` and `attempts`;
    /// body and other properties unchanged.
    pub fn delay_copy(&self, queue: &str, round: u32, attempts: u32) -> Message {
        let properties = headers::with_headers(
            &self.delivery.properties,
            &[
                (ROUND, headers::count(round)),
                (ATTEMPTS, headers::count(attempts)),
            ],
        );
        Message::new("", queue, self.body.to_vec(), properties)
    }

    /// A copy for the dead-letter `exchange`, with the reason in
    /// `x-face-enroll-error`.
    pub fn dead_letter_copy(&self, exchange: &str, routing_key: &str, reason: &str) -> Message {
        let properties =
            headers::with_headers(&self.delivery.properties, &[(ERROR, headers::text(reason))]);
        Message::new(exchange, routing_key, self.body.to_vec(), properties)
    }

    /// Acknowledges the delivery, with the others done by the next flush
    /// point: call it only once its outcome is confirmed. An ack the channel
    /// can no longer carry is the session's end, not a success.
    pub async fn ack(&self) -> Result<(), SessionEnded> {
        self.acks.ack(self.delivery.delivery_tag).await
    }

    /// Hands the delivery back to the queue for another consumer, at once.
    pub async fn requeue(&self) -> Result<(), SessionEnded> {
        self.acks.requeue(self.delivery.delivery_tag).await
    }
}
