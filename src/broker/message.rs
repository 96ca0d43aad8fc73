//! A message to publish, and the AMQP properties of a result event.

use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Channel, PublisherConfirm};

use crate::event::{self, ResultEvent};

/// One message for [`super::Publisher::publish_confirmed`]: always mandatory,
/// so a message no queue takes is reported instead of dropped.
#[derive(Debug, Clone)]
pub struct Message {
    /// Exchange, `""` for the default exchange.
    pub exchange: String,
    /// Routing key (a queue name on the default exchange).
    pub routing_key: String,
    /// The body.
    pub body: Vec<u8>,
    /// Properties and headers.
    pub properties: BasicProperties,
}

impl Message {
    /// A message with the given properties.
    pub fn new(
        exchange: &str,
        routing_key: &str,
        body: Vec<u8>,
        properties: BasicProperties,
    ) -> Self {
        Self {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
            body,
            properties,
        }
    }

    /// A persistent message with a content type, straight to `queue`.
    pub fn to_queue(queue: &str, body: Vec<u8>, content_type: &str) -> Self {
        let properties = BasicProperties::default()
            .with_content_type(content_type.into())
            .with_delivery_mode(2);
        Self::new("", queue, body, properties)
    }

    /// A result event on `exchange`, routed by its type: `message_id` is the
    /// event id, `correlation_id` the job id, delivery mode persistent.
    pub fn event(exchange: &str, event: &ResultEvent) -> Self {
        let properties = BasicProperties::default()
            .with_content_type(event::CONTENT_TYPE.into())
            .with_message_id(event.id.as_str().into())
            .with_correlation_id(event.data.job_id.as_str().into())
            .with_type(event.event_type.into())
            .with_app_id("face-enroll".into())
            .with_delivery_mode(2)
            .with_timestamp(chrono::Utc::now().timestamp().max(0).unsigned_abs());
        Self::new(exchange, event.event_type, event.to_bytes(), properties)
    }
}

impl Message {
    /// Hands the message to `channel`, mandatory; the confirm comes later.
    pub(super) async fn send(&self, channel: &Channel) -> Result<PublisherConfirm, lapin::Error> {
        let options = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        channel
            .basic_publish(
                self.exchange.as_str().into(),
                self.routing_key.as_str().into(),
                options,
                &self.body,
                self.properties.clone(),
            )
            .await
    }
}
