//! Whether the broker blocks this connection's publishing: during a memory
//! or disk alarm RabbitMQ stops reading from connections that publish and
//! says so (`connection.blocked`, then `connection.unblocked`). Watched from
//! the connection's events, so no call starts whose result could not be
//! published, and a confirm is waited for as long as the block lasts.

use futures_util::StreamExt;
use lapin::{Connection, Event};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::telemetry::Metrics;

/// The broker's block on publishing, as last announced.
#[derive(Debug, Clone)]
pub struct Blocked(watch::Receiver<bool>);

impl Blocked {
    /// A connection never blocked (commands, tests without a broker).
    pub fn never() -> Self {
        Self(watch::channel(false).1)
    }

    /// Whether publishing is blocked now.
    pub fn is_blocked(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once publishing is not blocked (at once when it is not, and
    /// when the connection is gone: then nothing is blocked any more).
    pub async fn until_unblocked(&self) {
        let mut watch = self.0.clone();
        let _ = watch.wait_for(|blocked| !*blocked).await;
    }

    /// Waits for the next change; `None` once the connection is gone.
    pub async fn changed(&mut self) -> Option<bool> {
        self.0.changed().await.ok()?;
        Some(*self.0.borrow_and_update())
    }
}

/// Follows `connection`'s block and unblock notices, logging them and
/// setting `face_enroll_amqp_blocked`, until the connection's events end.
pub(super) fn watch(connection: &Connection, metrics: Metrics) -> (Blocked, JoinHandle<()>) {
    let (sender, receiver) = watch::channel(connection.status().blocked());
    let mut events = connection.events_listener();
    let task = tokio::spawn(async move {
        while let Some(event) = events.next().await {
            let blocked = match event {
                Event::ConnectionBlocked(reason) => {
                    tracing::warn!(%reason, "the broker blocks publishing (a resource alarm): no call starts until it lifts");
                    true
                }
                Event::ConnectionUnblocked => {
                    tracing::info!("the broker publishes again");
                    false
                }
                _ => continue,
            };
            metrics.amqp_blocked.set(i64::from(blocked));
            sender.send_replace(blocked);
        }
        metrics.amqp_blocked.set(0);
    });
    (Blocked(receiver), task)
}
