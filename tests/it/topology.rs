//! The topology on the real broker: every queue of the jobs queue's type, and
//! a job on its way back from a delay queue never lost while the jobs queue is
//! full.

use std::time::{Duration, Instant};

use face_enroll::broker::{Client, Message, Topology};
use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable};

use crate::rabbit::{Vhost, rabbitmqctl};
use crate::stack::test_settings;

#[tokio::test]
async fn a_job_returning_while_the_jobs_queue_is_full_arrives_once_there_is_room() {
    let vhost = Vhost::new("full");
    let mut settings = test_settings("full");
    settings.amqp.url = vhost.url().into();
    settings.retry.max_rounds = 1;
    settings.retry.round_delay = Duration::from_millis(500);
    let broker = Client::connect(&vhost.url()).await.unwrap();
    broker
        .declare(&Topology::new(&settings.amqp, &settings.retry))
        .await
        .unwrap();
    let jobs = settings.amqp.jobs_queue.clone();
    let policy = r#"{"max-length": 1, "overflow": "reject-publish"}"#;
    rabbitmqctl(&[
        "set_policy",
        "-p",
        &vhost.0,
        "full",
        &format!("^{jobs}$"),
        policy,
        "--apply-to",
        "queues",
    ]);
    // The jobs queue holds one message and refuses more.
    let blocker = Message::to_queue(&jobs, b"{\"blocker\": true}".to_vec(), "application/json");
    broker.publish(&blocker).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while broker.publish(&blocker).await.is_ok() {
        assert!(Instant::now() < deadline, "the policy never applied");
        let _ = broker.get(&jobs).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(broker.queue_len(&jobs).await.unwrap(), 1);
    // A job waits out its delay and comes back while there is no room.
    let delay = format!("{}.1", settings.amqp.retry_queue);
    let job = Message::to_queue(
        &delay,
        b"{\"job_id\": \"coming-back\"}".to_vec(),
        "application/json",
    );
    broker.publish(&job).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Room again: the job is there, exactly once, whether it waited in the
    // delay queue (at-least-once) or the broker let it past the limit.
    let mut bodies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !bodies
        .iter()
        .any(|b: &Vec<u8>| b.as_slice() == b"{\"job_id\": \"coming-back\"}")
    {
        match broker.get(&jobs).await.unwrap() {
            Some(message) => bodies.push(message.body),
            None => {
                assert!(
                    Instant::now() < deadline,
                    "the delayed job was lost: {bodies:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    while let Some(message) = broker.get(&jobs).await.unwrap() {
        bodies.push(message.body);
    }
    let returned = bodies
        .iter()
        .filter(|b| b.as_slice() == b"{\"job_id\": \"coming-back\"}")
        .count();
    assert_eq!(returned, 1, "{bodies:?}");
    assert_eq!(broker.queue_len(&delay).await.unwrap(), 0);

    broker.close().await;
}

#[tokio::test]
async fn every_queue_has_the_jobs_queues_type() {
    let settings = test_settings(&crate::stack::unique("types"));
    let broker = crate::stack::broker().await;
    let mut retry = settings.retry.clone();
    retry.max_rounds = 2;
    let topology = Topology::new(&settings.amqp, &retry);
    broker.declare(&topology).await.unwrap();
    let passive_as_classic = |name: String| {
        async move {
            // Declaring it as classic must be refused: it exists as quorum.
            // A refusal closes the channel, so each check has its own.
            let client = crate::stack::broker().await;
            let channel = client.channel().clone();
            let mut args = FieldTable::default();
            args.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("classic".into()),
            );
            let durable = QueueDeclareOptions {
                durable: true,
                ..Default::default()
            };
            let refused = channel
                .queue_declare(name.as_str().into(), durable, args)
                .await
                .is_err();
            client.close().await;
            refused
        }
    };
    let a = &settings.amqp;
    for name in [
        a.jobs_queue.clone(),
        format!("{}.1", a.retry_queue),
        format!("{}.2", a.retry_queue),
        a.dead_letter_queue.clone(),
        a.results_unrouted.clone(),
    ] {
        assert!(
            passive_as_classic(name.clone()).await,
            "{name} is not a quorum queue"
        );
    }
    let broker = crate::stack::broker().await;
    crate::stack::delete_names(&broker, &settings).await;
}
