//! The AMQP names the worker uses, and their declaration: jobs queue, delay
//! queues (one per round), dead-letter exchange and queue, results exchange
//! with its alternate exchange and queue. Every queue has the jobs queue's type.

use std::time::Duration;

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

use crate::config::{AmqpSettings, QueueType, RetrySettings};

/// The names and arguments of everything the worker touches.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Queue consumed.
    pub jobs_queue: String,
    /// Delay queues, round 1 first, with their message TTL.
    pub retry_queues: Vec<(String, Duration)>,
    /// Fanout exchange for bad jobs.
    pub dead_letter_exchange: String,
    /// Queue bound to it.
    pub dead_letter_queue: String,
    /// Topic exchange for events.
    pub results_exchange: String,
    /// Alternate exchange (and queue) for events no binding routes.
    pub results_unrouted: String,
    /// Quorum or classic jobs queue.
    pub queue_type: QueueType,
    /// Quorum queue's delivery limit.
    pub delivery_limit: u32,
}

/// A declaration the broker refused.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The name exists with other arguments; the broker's own words follow.
    #[error("{what} {name} already exists with a different {argument}: {detail}")]
    Mismatch {
        /// `queue` or `exchange`.
        what: &'static str,
        /// Its name.
        name: String,
        /// The argument that differs, such as `x-queue-type`.
        argument: String,
        /// What the broker said.
        detail: String,
    },
    /// Any other failure, with the name being declared.
    #[error("declaring {what} {name} failed: {source}")]
    Other {
        /// `queue`, `exchange` or `binding`.
        what: &'static str,
        /// Its name.
        name: String,
        /// The broker's error.
        source: lapin::Error,
    },
}

impl Topology {
    /// The topology named by the settings.
    pub fn new(amqp: &AmqpSettings, retry: &RetrySettings) -> Self {
        let retry_queues = (1..=retry.max_rounds)
            .map(|n| {
                let ttl = retry.round_delay.saturating_mul(4u32.saturating_pow(n - 1));
                (format!("{}.{n}", amqp.retry_queue), ttl)
            })
            .collect();
        Self {
            jobs_queue: amqp.jobs_queue.clone(),
            retry_queues,
            dead_letter_exchange: amqp.dead_letter_exchange.clone(),
            dead_letter_queue: amqp.dead_letter_queue.clone(),
            results_exchange: amqp.results_exchange.clone(),
            results_unrouted: amqp.results_unrouted.clone(),
            queue_type: amqp.queue_type,
            delivery_limit: amqp.delivery_limit,
        }
    }

    /// The delay queue of `round` (1-based); the jobs queue itself when there
    /// is no such round (`retry.max_rounds = 0`).
    pub fn delay_queue(&self, round: u32) -> &str {
        let index = usize::try_from(round.max(1) - 1).unwrap_or(usize::MAX);
        self.retry_queues
            .get(index)
            .map_or(self.jobs_queue.as_str(), |(name, _)| name.as_str())
    }

    /// Declares every name; idempotent when they exist as declared.
    pub async fn declare(&self, channel: &Channel) -> Result<(), TopologyError> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        exchange(
            channel,
            &self.dead_letter_exchange,
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
        queue(channel, &self.dead_letter_queue, self.typed(&[])).await?;
        bind(
            channel,
            &self.dead_letter_queue,
            &self.dead_letter_exchange,
            "",
        )
        .await?;
        exchange(
            channel,
            &self.results_unrouted,
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
        queue(channel, &self.results_unrouted, self.typed(&[])).await?;
        bind(channel, &self.results_unrouted, &self.results_unrouted, "").await?;
        let results_args = table(&[("alternate-exchange", text(&self.results_unrouted))]);
        exchange(
            channel,
            &self.results_exchange,
            ExchangeKind::Topic,
            durable,
            results_args,
        )
        .await?;
        queue(channel, &self.jobs_queue, self.jobs_arguments()).await?;
        for (name, ttl) in &self.retry_queues {
            let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
            let mut args = vec![
                ("x-message-ttl", AMQPValue::LongLongInt(ttl_ms)),
                ("x-dead-letter-exchange", text("")),
                ("x-dead-letter-routing-key", text(&self.jobs_queue)),
            ];
            if self.queue_type == QueueType::Quorum {
                // Dead-lettered at least once: a job on its way back while the
                // jobs queue refuses publishes waits here instead of being lost.
                args.extend([
                    ("x-dead-letter-strategy", text("at-least-once")),
                    ("x-overflow", text("reject-publish")),
                ]);
            }
            queue(channel, name, self.typed(&args)).await?;
        }
        Ok(())
    }

    /// Deletes every queue and exchange of this topology, messages included
    /// (for the demo and for tests that made their own names).
    pub async fn delete(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let retry = self.retry_queues.iter().map(|(name, _)| name);
        for queue in [
            &self.jobs_queue,
            &self.dead_letter_queue,
            &self.results_unrouted,
        ]
        .into_iter()
        .chain(retry)
        {
            channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await?;
        }
        for exchange in [
            &self.results_exchange,
            &self.results_unrouted,
            &self.dead_letter_exchange,
        ] {
            channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }

    fn jobs_arguments(&self) -> FieldTable {
        let mut args = vec![("x-dead-letter-exchange", text(&self.dead_letter_exchange))];
        if self.queue_type == QueueType::Quorum {
            args.extend([
                (
                    "x-delivery-limit",
                    AMQPValue::LongLongInt(i64::from(self.delivery_limit)),
                ),
                ("x-dead-letter-strategy", text("at-least-once")),
                ("x-overflow", text("reject-publish")),
            ]);
        }
        self.typed(&args)
    }

    /// `args` with the jobs queue's type: every queue has it, since on a
    /// cluster a classic queue lives on one node and cannot even be declared
    /// while that node is down.
    fn typed(&self, args: &[(&str, AMQPValue)]) -> FieldTable {
        let kind = match self.queue_type {
            QueueType::Quorum => "quorum",
            QueueType::Classic => "classic",
        };
        let mut all = vec![("x-queue-type", text(kind))];
        all.extend(args.iter().cloned());
        table(&all)
    }
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut table = FieldTable::default();
    for (key, value) in entries {
        table.insert((*key).into(), value.clone());
    }
    table
}

async fn exchange(
    channel: &Channel,
    name: &str,
    kind: ExchangeKind,
    options: ExchangeDeclareOptions,
    args: FieldTable,
) -> Result<(), TopologyError> {
    channel
        .exchange_declare(name.into(), kind, options, args)
        .await
        .map_err(|e| refused("exchange", name, e))
}

async fn queue(channel: &Channel, name: &str, args: FieldTable) -> Result<(), TopologyError> {
    channel
        .queue_declare(
            name.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await
        .map(|_| ())
        .map_err(|e| refused("queue", name, e))
}

async fn bind(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    key: &str,
) -> Result<(), TopologyError> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| refused("binding", queue, e))
}

/// Turns `inequivalent arg 'x'` refusals into a [`TopologyError::Mismatch`].
fn refused(what: &'static str, name: &str, error: lapin::Error) -> TopologyError {
    let detail = error.to_string();
    let argument = detail
        .split("inequivalent arg '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .map(str::to_owned);
    match argument {
        Some(argument) => TopologyError::Mismatch {
            what,
            name: name.into(),
            argument,
            detail,
        },
        None => TopologyError::Other {
            what,
            name: name.into(),
            source: error,
        },
    }
}
