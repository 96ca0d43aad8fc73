//! One broker connection and its channels: consuming with QoS, publishing in
//! confirm mode, and reading the jobs queue's consumer count.
//!
//! A session is not repaired: when it fails, the supervisor opens a new one,
//! and deliveries of the dead one are redelivered by the broker.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, Consumer};

use super::SessionEnded;
use super::acks::Acks;
use super::inbound::Inbound;
use super::linger::Linger;
use super::publisher::Publisher;
use super::topology::{Topology, TopologyError};
use crate::telemetry::Metrics;

/// How long a broker reply may take when stopping (cancel, close) before the
/// worker goes on without it.
const BROKER_REPLY: Duration = Duration::from_secs(5);

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Connecting or opening a channel failed; worth retrying.
    #[error("the broker connection failed: {0}")]
    Connection(#[from] lapin::Error),
    /// The broker's TLS certificate was refused (wrong CA, wrong name,
    /// expired): a setting to fix, not an outage to wait out.
    #[error(
        "the broker's TLS certificate is refused ({node}): {error}; check amqp.tls_ca_file and the host name in amqp.url"
    )]
    Certificate {
        /// `host:port` of the node.
        node: String,
        /// The TLS error.
        error: lapin::Error,
    },
    /// The node did not complete the connection in time (it drops packets,
    /// or accepts and never speaks): the next node is tried.
    #[error("{node} did not complete the connection (TCP, TLS, AMQP handshake) within {after:?}")]
    Timeout {
        /// `host:port` of the node.
        node: String,
        /// `amqp.connect_timeout`.
        after: Duration,
    },
    /// The topology does not match; retrying cannot help.
    #[error(transparent)]
    Topology(#[from] TopologyError),
}

impl SessionError {
    /// Whether opening again later may work.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Connection(_) | Self::Timeout { .. })
            || matches!(self, Self::Topology(TopologyError::Other { .. }))
    }
}

/// What a session needs to know.
#[derive(Clone)]
pub struct SessionOptions {
    /// The broker's nodes and TLS settings.
    pub nodes: std::sync::Arc<super::BrokerNodes>,
    /// Declare the topology on open.
    pub declare_topology: bool,
    /// Unacked deliveries per consumer.
    pub prefetch: u16,
    /// Shown in the broker's connection list.
    pub connection_name: String,
    /// `amqp.connect_timeout`: the most one node's connect may take.
    pub connect_timeout: Duration,
    /// `amqp.publish_linger`: the flush points of confirmed publishes.
    pub publish_linger: Duration,
}

impl std::fmt::Debug for SessionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionOptions")
            .field("nodes", &self.nodes)
            .field("declare_topology", &self.declare_topology)
            .field("prefetch", &self.prefetch)
            .field("connection_name", &self.connection_name)
            .field("publish_linger", &self.publish_linger)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// An open connection with its channels.
pub struct Session {
    /// Closed on drop of the session by [`Session::close`]; its loss ends every channel.
    connection: Connection,
    /// Carries the consumer and its QoS; acks go back on it.
    consume: Channel,
    /// The consume channel's acks, gathered at the flush points.
    acks: Arc<Acks>,
    /// Passive declares for the consumer count, kept off the consume channel
    /// so a slow answer never holds up deliveries.
    poll: std::sync::Mutex<Channel>,
    /// The confirm-mode channel every event and copy goes out on.
    publisher: Publisher,
    /// Follows the broker's block on publishing; stopped with the session.
    watcher: tokio::task::JoinHandle<()>,
}

/// Messages ready and consumers attached on `queue`, by a passive declare
/// on `channel`.
pub(super) async fn queue_counts(
    channel: &Channel,
    queue: &str,
) -> Result<(u32, u32), lapin::Error> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let declared = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await?;
    Ok((declared.message_count(), declared.consumer_count()))
}

/// The deliveries of one consumer.
pub struct Deliveries {
    /// The broker client's consumer.
    consumer: Consumer,
    /// Where each delivery is acked.
    acks: Arc<Acks>,
    /// Its tag, unique on the channel: a cancelled consumer's tag is never
    /// reused (a quorum queue may still deliver to it while it is cancelled).
    tag: String,
    /// The tag asked for; restarts add `#n` to it.
    base: String,
    /// How many times the consumer was started again.
    generation: u32,
}

impl Deliveries {
    /// The consumer tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The next delivery; an error when the channel failed or the broker
    /// cancelled the consumer.
    pub async fn next(&mut self) -> Result<Inbound, SessionEnded> {
        match self.consumer.next().await {
            Some(Ok(delivery)) => {
                self.acks.delivered(delivery.delivery_tag);
                Ok(Inbound::new(delivery, self.acks.clone()))
            }
            Some(Err(e)) => Err(SessionEnded::Channel(e)),
            None => Err(SessionEnded::ConsumerCancelled),
        }
    }
}

impl Session {
    /// Connects to node `node` of the options' nodes, declares (when
    /// asked), and prepares the channels.
    pub async fn open(
        options: &SessionOptions,
        node: usize,
        topology: &Topology,
        metrics: &Metrics,
    ) -> Result<Self, SessionError> {
        let properties = ConnectionProperties::default()
            .with_connection_name(options.connection_name.as_str().into());
        let label = || {
            options
                .nodes
                .labels()
                .get(node)
                .cloned()
                .unwrap_or_default()
        };
        let connect = options.nodes.connect(node, properties);
        let connection = match tokio::time::timeout(options.connect_timeout, connect).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) if super::nodes::is_certificate_error(&error) => {
                return Err(SessionError::Certificate {
                    node: label(),
                    error,
                });
            }
            Ok(Err(error)) => return Err(error.into()),
            Err(_) => {
                return Err(SessionError::Timeout {
                    node: label(),
                    after: options.connect_timeout,
                });
            }
        };
        if options.declare_topology {
            let declare = connection.create_channel().await?;
            topology.declare(&declare).await?;
            let _ = declare.close(200, "declared".into()).await;
        }
        let consume = connection.create_channel().await?;
        let publish = connection.create_channel().await?;
        publish
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let poll = connection.create_channel().await?;
        let (blocked, watcher) = super::blocked::watch(&connection, metrics.clone());
        let linger = Arc::new(Linger::new(options.publish_linger));
        Ok(Self {
            connection,
            acks: Arc::new(Acks::new(consume.clone(), linger.clone())),
            consume,
            poll: std::sync::Mutex::new(poll),
            publisher: Publisher::new(publish, metrics.clone(), linger, blocked),
            watcher,
        })
    }

    /// Starts consuming `queue` with at most `prefetch` deliveries unacked.
    pub async fn consume(
        &self,
        queue: &str,
        tag: &str,
        prefetch: u16,
    ) -> Result<Deliveries, SessionEnded> {
        self.consume
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let consumer = self
            .consume
            .basic_consume(
                queue.into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Deliveries {
            consumer,
            acks: self.acks.clone(),
            tag: tag.to_owned(),
            base: tag.to_owned(),
            generation: 0,
        })
    }

    /// Starts the consumer of `deliveries` again with `prefetch`, under a new
    /// tag: the old one is cancelled, and what it had received is handed to
    /// `pending`.
    pub async fn restart(
        &self,
        deliveries: &mut Deliveries,
        queue: &str,
        prefetch: u16,
        pending: &mut std::collections::VecDeque<Inbound>,
    ) -> Result<(), SessionEnded> {
        self.pause(deliveries, pending).await?;
        self.resume(deliveries, queue, prefetch).await
    }

    /// Stops the consumer and takes what it had received into `pending`.
    pub async fn pause(
        &self,
        deliveries: &mut Deliveries,
        pending: &mut std::collections::VecDeque<Inbound>,
    ) -> Result<(), SessionEnded> {
        self.cancel(&deliveries.tag).await?;
        // Deliveries sent before the cancel came back are queued before its end.
        loop {
            match deliveries.next().await {
                Ok(inbound) => pending.push_back(inbound),
                Err(SessionEnded::ConsumerCancelled) => return Ok(()),
                Err(ended) => return Err(ended),
            }
        }
    }

    /// Consumes `queue` again after [`pause`](Self::pause), under a new tag
    /// (reusing a cancelled tag crashes a quorum queue's channel).
    pub async fn resume(
        &self,
        deliveries: &mut Deliveries,
        queue: &str,
        prefetch: u16,
    ) -> Result<(), SessionEnded> {
        let generation = deliveries.generation + 1;
        let base = std::mem::take(&mut deliveries.base);
        *deliveries = self
            .consume(queue, &format!("{base}#{generation}"), prefetch)
            .await?;
        deliveries.base = base;
        deliveries.generation = generation;
        Ok(())
    }

    /// Stops the consumer: no new deliveries arrive; unacked ones stay unacked.
    pub async fn cancel(&self, tag: &str) -> Result<(), SessionEnded> {
        let cancel = self
            .consume
            .basic_cancel(tag.into(), BasicCancelOptions::default());
        match tokio::time::timeout(BROKER_REPLY, cancel).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(SessionEnded::Unresponsive("the consumer cancel")),
        }
    }

    /// The publishing channel.
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Messages ready and consumers attached on `queue`, by a passive declare.
    pub async fn queue_counts(&self, queue: &str) -> Result<(u32, u32), SessionEnded> {
        let poll = self.poll.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let counted = queue_counts(&poll, queue).await;
        if counted.is_err() && !poll.status().connected() {
            // A failed passive declare closes its channel: the next poll
            // gets a new one, so one failure does not fail every poll after.
            if let Ok(fresh) = self.connection.create_channel().await {
                *self.poll.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
            }
        }
        Ok(counted?)
    }

    /// The broker's block on this session's publishing.
    pub fn blocked(&self) -> &super::Blocked {
        self.publisher.blocked()
    }

    /// Closes the connection; unacked deliveries go back to the queue.
    pub async fn close(&self) {
        self.watcher.abort();
        let close = self.connection.close(200, "bye".into());
        let _ = tokio::time::timeout(BROKER_REPLY, close).await;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_broker_url() {
        let amqp = crate::config::AmqpSettings {
            url: "amqp://worker:S3cret-Br0ker@rabbit:5672/%2f,amqp://worker:S3cret-Br0ker@rabbit-2:5672/%2f".into(),
            ..Default::default()
        };
        let options = SessionOptions {
            nodes: std::sync::Arc::new(crate::broker::BrokerNodes::new(&amqp).unwrap()),
            declare_topology: true,
            prefetch: 64,
            connection_name: "face-enroll/host".into(),
            connect_timeout: Duration::from_secs(10),
            publish_linger: Duration::from_millis(100),
        };
        let shown = format!("{options:?}");
        assert!(!shown.contains("S3cret-Br0ker"), "{shown}");
        assert!(shown.contains("prefetch: 64"), "{shown}");
        assert!(shown.contains("rabbit-2:5672"), "{shown}");
    }
}
