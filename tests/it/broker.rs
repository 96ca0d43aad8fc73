//! The broker layer on the real RabbitMQ: an ack the channel can no longer
//! carry is the session's end, never a success; a failed count is not.

use std::time::Duration;

use face_enroll::broker::{Message, Session, SessionEnded, SessionOptions, Topology};
use face_enroll::config::Settings;
use face_enroll::telemetry::Metrics;

use crate::stack::{test_settings, unique};

/// A session on names of its own, its topology declared, publishes sent at once.
async fn session(name: &str) -> (Settings, Session) {
    let settings = test_settings(&unique(name));
    let topology = Topology::new(&settings.amqp, &settings.retry);
    let options = SessionOptions {
        nodes: std::sync::Arc::new(face_enroll::broker::BrokerNodes::new(&settings.amqp).unwrap()),
        declare_topology: true,
        prefetch: 4,
        connection_name: format!("it-{name}"),
        publish_linger: Duration::ZERO,
        connect_timeout: Duration::from_secs(10),
    };
    let session = Session::open(&options, 0, &topology, &Metrics::new().unwrap())
        .await
        .unwrap();
    (settings, session)
}

#[tokio::test]
async fn an_ack_on_a_closed_channel_is_an_error() {
    let (settings, session) = session("ack").await;
    let message = Message::to_queue(
        &settings.amqp.jobs_queue,
        b"{}".to_vec(),
        "application/json",
    );
    session.publisher().publish_once(&message).await.unwrap();
    let mut deliveries = session
        .consume(&settings.amqp.jobs_queue, "it-ack", 8)
        .await
        .unwrap();
    let inbound = deliveries.next().await.unwrap();
    session.close().await;
    let acked = inbound.ack().await;
    assert!(
        matches!(
            acked,
            Err(SessionEnded::ChannelGone | SessionEnded::Channel(_))
        ),
        "{acked:?}"
    );
    // The broker kept the message for redelivery.
    let broker = crate::stack::broker().await;
    assert_eq!(
        broker.queue_len(&settings.amqp.jobs_queue).await.unwrap(),
        1
    );
    crate::stack::delete_names(&broker, &settings).await;
}

/// A count that fails (here: of a queue that is not there) leaves the session
/// as it was: the consumer keeps its deliveries, events still go out, and the
/// next count of the jobs queue answers on a channel opened again.
#[tokio::test]
async fn a_failed_count_leaves_the_session_working() {
    let (settings, session) = session("count").await;
    let jobs = &settings.amqp.jobs_queue;
    let mut deliveries = session.consume(jobs, "it-count", 8).await.unwrap();
    let job = |n: u8| Message::to_queue(jobs, vec![b'0' + n], "application/json");
    session.publisher().publish_once(&job(1)).await.unwrap();
    let first = deliveries.next().await.unwrap();

    let missing = session.queue_counts(&unique("no-such-queue")).await;
    assert!(missing.is_err(), "{missing:?}");

    assert_eq!(
        session.queue_counts(jobs).await.unwrap().1,
        1,
        "the next count answers, with this consumer"
    );
    session.publisher().publish_once(&job(2)).await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(10), deliveries.next())
        .await
        .expect("the consumer still delivers")
        .unwrap();
    first.ack().await.unwrap();
    second.ack().await.unwrap();
    let broker = crate::stack::broker().await;
    assert_eq!(broker.queue_len(jobs).await.unwrap(), 0, "both acked");
    session.close().await;
    crate::stack::delete_names(&broker, &settings).await;
}
