//! A plain broker client for the commands (`demo`, `publish`, `check`), the
//! tests and the benchmarks: one connection with a confirm-mode channel, to
//! declare or delete a topology, publish with confirms, tap an exchange, and
//! read a queue.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, ConfirmSelectOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};

use super::SessionEnded;
use super::message::Message;
use super::publisher::{PublishError, confirmation as check};
use super::topology::{Topology, TopologyError};

/// Why no node of `amqp.url` could be reached.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A TLS file is missing or unreadable.
    #[error(transparent)]
    Nodes(#[from] super::nodes::NodesError),
    /// Every node refused or failed, each with its reason.
    #[error("no broker node could be reached: {0}")]
    Unreachable(String),
    /// A node was reached but its channel failed.
    #[error("the broker connection failed: {0}")]
    Channel(#[from] lapin::Error),
}

/// Publishes in flight before their confirms are awaited, in [`Client::publish_all`].
const CONFIRM_WINDOW: usize = 1000;

/// One connection and a channel in confirm mode.
pub struct Client {
    /// Closed by [`Client::close`].
    connection: Connection,
    /// In confirm mode: every publish is confirmed.
    channel: Channel,
}

/// A message taken from a queue.
#[derive(Debug, Clone)]
pub struct Received {
    /// The body.
    pub body: Vec<u8>,
    /// The routing key it was published with.
    pub routing_key: String,
    /// Its properties and headers.
    pub properties: BasicProperties,
}

impl Received {
    /// A text header, when present.
    pub fn header_text(&self, name: &str) -> Option<String> {
        let headers = self.properties.headers().as_ref()?;
        match headers.inner().get(name)? {
            AMQPValue::LongString(s) => Some(s.to_string()),
            other => Some(format!("{other:?}")),
        }
    }
}

/// Every message published to an exchange, from the moment the tap exists.
pub struct Tap(Consumer);

impl Tap {
    /// The next message, or `None` when none came within `limit`.
    pub async fn next(&mut self, limit: Duration) -> Result<Option<Received>, SessionEnded> {
        match tokio::time::timeout(limit, self.0.next()).await {
            Err(_) => Ok(None),
            Ok(None) => Err(SessionEnded::ConsumerCancelled),
            Ok(Some(Err(e))) => Err(SessionEnded::Channel(e)),
            Ok(Some(Ok(delivery))) => Ok(Some(Received {
                body: delivery.data,
                routing_key: delivery.routing_key.to_string(),
                properties: delivery.properties,
            })),
        }
    }
}

impl Client {
    /// Connects to `url` and opens a confirm-mode channel.
    pub async fn connect(url: &str) -> Result<Self, lapin::Error> {
        let connection = Connection::connect(url, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Self {
            connection,
            channel,
        })
    }

    /// Connects to the first node of `amqp.url` that answers (starting at a
    /// random one), with the `amqp.tls_*` settings.
    pub async fn open(amqp: &crate::config::AmqpSettings) -> Result<Self, OpenError> {
        let nodes = super::BrokerNodes::new(amqp)?;
        let mut failures = Vec::new();
        for _ in 0..nodes.len() {
            let (index, node) = nodes.take_turn();
            let connect = nodes.connect(index, ConnectionProperties::default());
            let connected = tokio::time::timeout(amqp.connect_timeout, connect).await;
            let Ok(connected) = connected else {
                failures.push(format!(
                    "{node}: no answer within amqp.connect_timeout ({:?})",
                    amqp.connect_timeout
                ));
                continue;
            };
            match connected {
                Ok(connection) => {
                    let channel = connection.create_channel().await?;
                    channel
                        .confirm_select(ConfirmSelectOptions::default())
                        .await?;
                    return Ok(Self {
                        connection,
                        channel,
                    });
                }
                Err(e) => failures.push(format!("{node}: {e}")),
            }
        }
        Err(OpenError::Unreachable(failures.join("; ")))
    }

    /// The channel, for what this client does not offer.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Declares every name of `topology`.
    pub async fn declare(&self, topology: &Topology) -> Result<(), TopologyError> {
        topology.declare(&self.channel).await
    }

    /// Deletes every name of `topology`, messages included.
    pub async fn delete(&self, topology: &Topology) -> Result<(), lapin::Error> {
        topology.delete(&self.channel).await
    }

    /// Publishes one message and waits for its confirm.
    pub async fn publish(&self, message: &Message) -> Result<(), PublishError> {
        let confirm = self.send(message).await?;
        check(confirm.await.map_err(SessionEnded::Channel)?, message)
    }

    /// Publishes every message, keeping up to a thousand confirms in flight;
    /// `confirmed` is called after each confirm. Stops at the first failure.
    pub async fn publish_all(
        &self,
        messages: impl IntoIterator<Item = Message>,
        mut confirmed: impl FnMut(),
    ) -> Result<(), PublishError> {
        let mut pending = Vec::with_capacity(CONFIRM_WINDOW);
        for message in messages {
            pending.push((self.send(&message).await?, message));
            if pending.len() == CONFIRM_WINDOW {
                for (confirm, message) in pending.drain(..) {
                    check(confirm.await.map_err(SessionEnded::Channel)?, &message)?;
                    confirmed();
                }
            }
        }
        for (confirm, message) in pending {
            check(confirm.await.map_err(SessionEnded::Channel)?, &message)?;
            confirmed();
        }
        Ok(())
    }

    /// Taps every message published to `exchange` (a server-named queue that
    /// lives as long as this connection, bound with `#`).
    pub async fn tap(&self, exchange: &str) -> Result<Tap, lapin::Error> {
        let exclusive = QueueDeclareOptions {
            exclusive: true,
            ..Default::default()
        };
        let queue = self
            .channel
            .queue_declare("".into(), exclusive, FieldTable::default())
            .await?;
        self.channel
            .queue_bind(
                queue.name().clone(),
                exchange.into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let no_ack = BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        };
        let consumer = self
            .channel
            .basic_consume(
                queue.name().clone(),
                "".into(),
                no_ack,
                FieldTable::default(),
            )
            .await?;
        Ok(Tap(consumer))
    }

    /// Declares a durable `queue` that keeps every message published to
    /// `exchange` from now on, whoever reads it and whenever.
    pub async fn keep(&self, exchange: &str, queue: &str) -> Result<(), lapin::Error> {
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        self.channel
            .queue_declare(queue.into(), durable, FieldTable::default())
            .await?;
        self.channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
    }

    /// Deletes `queue`, messages included.
    pub async fn delete_queue(&self, queue: &str) -> Result<(), lapin::Error> {
        self.channel
            .queue_delete(queue.into(), lapin::options::QueueDeleteOptions::default())
            .await
            .map(|_| ())
    }

    /// Messages ready in `queue`.
    pub async fn queue_len(&self, queue: &str) -> Result<u32, lapin::Error> {
        Ok(super::session::queue_counts(&self.channel, queue).await?.0)
    }

    /// Takes the next message from `queue`, if any.
    pub async fn get(&self, queue: &str) -> Result<Option<Received>, lapin::Error> {
        let taken = self
            .channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await?;
        Ok(taken.map(|m| Received {
            body: m.delivery.data,
            routing_key: m.delivery.routing_key.to_string(),
            properties: m.delivery.properties,
        }))
    }

    /// Closes the connection.
    pub async fn close(&self) {
        let _ = self.connection.close(200, "done".into()).await;
    }

    async fn send(&self, message: &Message) -> Result<lapin::PublisherConfirm, SessionEnded> {
        Ok(message.send(&self.channel).await?)
    }
}
