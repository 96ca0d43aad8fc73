//! Carries out a pipeline [`Action`]: publish with confirms, then ack. A nack
//! is retried with backoff, never dropped; a dead channel gives up without
//! acking, so the broker delivers the job again.

use std::time::{Duration, Instant};

use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::options::BasicAckOptions;

use super::pipeline::Action;
use crate::broker::headers::{self, ATTEMPTS, ERROR, ROUND};
use crate::broker::{Outgoing, PublishError, Publisher, Topology};
use crate::event::{self, ResultEvent};
use crate::telemetry::Metrics;

/// Why a delivery was left unacked.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// The channel died; the broker will deliver the job again.
    #[error("left unacked: {0}")]
    Channel(#[from] lapin::Error),
}

/// Publishes outcomes and acks deliveries.
#[derive(Clone)]
pub struct Courier {
    /// Names of the exchanges and queues.
    pub topology: std::sync::Arc<Topology>,
    /// Where counts go.
    pub metrics: Metrics,
}

impl Courier {
    /// Publishes what `action` calls for, waits for the confirms, then acks.
    pub async fn deliver(
        &self,
        action: Action,
        delivery: &Delivery,
        publisher: &Publisher,
        received: Instant,
    ) -> Result<(), DeliverError> {
        let status = match action {
            Action::Abandon => return Ok(()),
            Action::Final(event) => {
                self.publish_event(publisher, &event).await?;
                event.data.status.as_str()
            }
            Action::DeadLetter { event, reason } => {
                if let Some(event) = event {
                    self.publish_event(publisher, &event).await?;
                }
                let properties =
                    headers::with_headers(&delivery.properties, &[(ERROR, headers::text(&reason))]);
                let copy = Outgoing {
                    exchange: &self.topology.dead_letter_exchange,
                    routing_key: &self.topology.jobs_queue,
                    body: &delivery.data,
                    mandatory: true,
                };
                publish_until_confirmed(publisher, copy, properties).await?;
                tracing::warn!(reason = %reason, "bad job dead-lettered");
                "dead_lettered"
            }
            Action::Delay { round, attempts } => {
                self.to_delay_queue(publisher, delivery, round, round, attempts)
                    .await?;
                "retried"
            }
            Action::Park { attempts } => {
                let round = headers::read_count(&delivery.properties, ROUND);
                self.to_delay_queue(publisher, delivery, 1, round, attempts)
                    .await?;
                "retried"
            }
        };
        delivery.ack(BasicAckOptions::default()).await?;
        self.metrics.job_ended(status, received.elapsed());
        Ok(())
    }

    async fn publish_event(
        &self,
        publisher: &Publisher,
        event: &ResultEvent,
    ) -> Result<(), DeliverError> {
        let body = event.to_bytes();
        let properties = BasicProperties::default()
            .with_content_type(event::CONTENT_TYPE.into())
            .with_message_id(event.id.as_str().into())
            .with_correlation_id(event.data.job_id.as_str().into())
            .with_type(event.event_type.into())
            .with_app_id("face-enroll".into())
            .with_delivery_mode(2)
            .with_timestamp(chrono::Utc::now().timestamp().max(0) as u64);
        let message = Outgoing {
            exchange: &self.topology.results_exchange,
            routing_key: event.event_type,
            body: &body,
            mandatory: true,
        };
        publish_until_confirmed(publisher, message, properties).await?;
        let data = &event.data;
        match &data.error {
            None => {
                tracing::info!(job_id = %data.job_id, status = data.status.as_str(), attempts = data.attempts, "result event published")
            }
            Some(error) => tracing::warn!(
                job_id = %data.job_id,
                status = data.status.as_str(),
                attempts = data.attempts,
                error.kind = ?error.kind,
                error.detail = %error.detail,
                "result event published",
            ),
        }
        Ok(())
    }

    /// Publishes a copy to the delay queue `queue_round`, marked as `round`.
    async fn to_delay_queue(
        &self,
        publisher: &Publisher,
        delivery: &Delivery,
        queue_round: u32,
        round: u32,
        attempts: u32,
    ) -> Result<(), DeliverError> {
        let queue = self
            .topology
            .retry_queue(queue_round)
            .unwrap_or(&self.topology.jobs_queue);
        let properties = headers::with_headers(
            &delivery.properties,
            &[
                (ROUND, headers::count(round)),
                (ATTEMPTS, headers::count(attempts)),
            ],
        );
        let copy = Outgoing {
            exchange: "",
            routing_key: queue,
            body: &delivery.data,
            mandatory: true,
        };
        publish_until_confirmed(publisher, copy, properties).await?;
        tracing::info!(queue, round, attempts, "job sent to a delay queue");
        Ok(())
    }
}

/// Publishes until the broker confirms; only a dead channel ends it otherwise.
async fn publish_until_confirmed(
    publisher: &Publisher,
    message: Outgoing<'_>,
    properties: BasicProperties,
) -> Result<(), lapin::Error> {
    let mut wait = Duration::from_millis(100);
    loop {
        match publisher.publish(message, properties.clone()).await {
            Ok(()) => return Ok(()),
            Err(PublishError::Channel(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, exchange = message.exchange, routing_key = message.routing_key, "publish not confirmed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}
