//! Publishing with publisher confirms: a message counts as sent only when the
//! broker has confirmed it.

use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Channel, Confirmation};

/// Why a publish did not get a positive confirm.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The broker refused to take the message (nack); worth retrying.
    #[error("the broker did not accept the message (nack)")]
    Nacked,
    /// The message was mandatory and nothing routed it.
    #[error("no queue is bound to route the message to {0}")]
    Unroutable(String),
    /// The channel or connection failed; the delivery will come again.
    #[error("the broker channel failed: {0}")]
    Channel(#[from] lapin::Error),
}

/// A channel in confirm mode.
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
}

/// One message to publish.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// Exchange, `""` for the default exchange.
    pub exchange: &'a str,
    /// Routing key (a queue name on the default exchange).
    pub routing_key: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// Report an unroutable message instead of dropping it.
    pub mandatory: bool,
}

impl Publisher {
    /// Wraps a channel already put in confirm mode.
    pub fn new(channel: Channel) -> Self {
        Self { channel }
    }

    /// Publishes and waits for the broker's confirm.
    pub async fn publish(
        &self,
        message: Outgoing<'_>,
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        let options = BasicPublishOptions {
            mandatory: message.mandatory,
            ..Default::default()
        };
        let confirm = self
            .channel
            .basic_publish(
                message.exchange.into(),
                message.routing_key.into(),
                options,
                message.body,
                properties,
            )
            .await?
            .await?;
        match confirm {
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
            Confirmation::Ack(Some(_)) => Err(PublishError::Unroutable(format!(
                "exchange {:?} with key {:?}",
                message.exchange, message.routing_key
            ))),
            Confirmation::Nack(_) => Err(PublishError::Nacked),
        }
    }
}
