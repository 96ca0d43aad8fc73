//! The broker layer on the real RabbitMQ: an ack the channel can no longer
//! carry is the session's end, never a success.

use std::time::Duration;

use face_enroll::broker::{Message, Session, SessionEnded, SessionOptions, Topology};
use face_enroll::telemetry::Metrics;

use crate::stack::{test_settings, unique};

#[tokio::test]
async fn an_ack_on_a_closed_channel_is_an_error() {
    let settings = test_settings(&unique("ack"));
    let topology = Topology::new(&settings.amqp, &settings.retry);
    let options = SessionOptions {
        nodes: std::sync::Arc::new(face_enroll::broker::BrokerNodes::new(&settings.amqp).unwrap()),
        declare_topology: true,
        prefetch: 4,
        connection_name: "it-ack".into(),
        publish_linger: Duration::ZERO,
        connect_timeout: Duration::from_secs(10),
    };
    let session = Session::open(&options, 0, &topology, &Metrics::new().unwrap())
        .await
        .unwrap();
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
