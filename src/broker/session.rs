//! One broker connection and its channels: consuming with QoS, publishing in
//! confirm mode, and reading the jobs queue's consumer count.
//!
//! A session is not repaired: when it fails, the supervisor opens a new one,
//! and deliveries of the dead one are redelivered by the broker.

use std::time::Duration;

use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, Consumer};
use rand::Rng;

use super::publisher::Publisher;
use super::topology::{Topology, TopologyError};

/// How long a broker reply may take when stopping (cancel, close) before the
/// worker goes on without it.
const BROKER_REPLY: Duration = Duration::from_secs(5);

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Connecting or opening a channel failed; worth retrying.
    #[error("the broker connection failed: {0}")]
    Connection(#[from] lapin::Error),
    /// The topology does not match; retrying cannot help.
    #[error(transparent)]
    Topology(#[from] TopologyError),
}

impl SessionError {
    /// Whether opening again later may work.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Connection(_))
            || matches!(self, Self::Topology(TopologyError::Other { .. }))
    }
}

/// What a session needs to know.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// The broker URL (a secret: never logged).
    pub url: String,
    /// Declare the topology on open.
    pub declare_topology: bool,
    /// Unacked deliveries per consumer.
    pub prefetch: u16,
    /// Shown in the broker's connection list.
    pub connection_name: String,
}

/// An open connection with its channels.
pub struct Session {
    connection: Connection,
    consume: Channel,
    poll: Channel,
    publisher: Publisher,
}

impl Session {
    /// Connects, declares (when asked), and prepares the channels.
    pub async fn open(options: &SessionOptions, topology: &Topology) -> Result<Self, SessionError> {
        let properties = ConnectionProperties::default()
            .with_connection_name(options.connection_name.as_str().into());
        let connection = Connection::connect(&options.url, properties).await?;
        if options.declare_topology {
            let declare = connection.create_channel().await?;
            topology.declare(&declare).await?;
            let _ = declare.close(200, "declared".into()).await;
        }
        let consume = connection.create_channel().await?;
        consume
            .basic_qos(options.prefetch, BasicQosOptions::default())
            .await?;
        let publish = connection.create_channel().await?;
        publish
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let poll = connection.create_channel().await?;
        Ok(Self {
            connection,
            consume,
            poll,
            publisher: Publisher::new(publish),
        })
    }

    /// Starts consuming `queue`.
    pub async fn consume(&self, queue: &str, tag: &str) -> Result<Consumer, lapin::Error> {
        self.consume
            .basic_consume(
                queue.into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
    }

    /// Stops the consumer: no new deliveries arrive; unacked ones stay unacked.
    pub async fn cancel(&self, tag: &str) -> Result<(), lapin::Error> {
        let cancel = self
            .consume
            .basic_cancel(tag.into(), BasicCancelOptions::default());
        match tokio::time::timeout(BROKER_REPLY, cancel).await {
            Ok(result) => result,
            Err(_) => Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into()),
        }
    }

    /// The publishing channel.
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Messages ready and consumers attached on `queue`, by a passive declare.
    pub async fn queue_counts(&self, queue: &str) -> Result<(u32, u32), lapin::Error> {
        let options = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let declared = self
            .poll
            .queue_declare(queue.into(), options, FieldTable::default())
            .await?;
        Ok((declared.message_count(), declared.consumer_count()))
    }

    /// Closes the connection; unacked deliveries go back to the queue.
    pub async fn close(&self) {
        let close = self.connection.close(200, "bye".into());
        let _ = tokio::time::timeout(BROKER_REPLY, close).await;
    }
}

/// Delay before reconnect attempt `n` (0-based): full jitter under a ceiling
/// growing from 100 ms to 10 s.
pub fn reconnect_delay(n: u32) -> Duration {
    let ceiling = Duration::from_millis(100)
        .saturating_mul(2u32.saturating_pow(n.min(10)))
        .min(Duration::from_secs(10));
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(10_000);
    Duration::from_millis(rand::rng().random_range(ms / 4..=ms))
}
