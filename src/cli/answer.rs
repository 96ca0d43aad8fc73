//! What `enroll`, `delete` and `records` share: a call retried as the
//! worker retries it, and the answer printed as JSON.

use std::future::Future;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};

use face_enroll::cloudauth::{Client, Disposition, Reply, TimedReply};
use face_enroll::retry::RetryPolicy;
use serde::Serialize;
use serde_json::{Value, json};

/// Calls `send` until a final answer (throttling and server errors are
/// retried); the reply and the number of calls made.
pub async fn call<T, F, Fut>(policy: &RetryPolicy, send: F) -> (Reply<T>, u32)
where
    F: Fn() -> Fut,
    Fut: Future<Output = TimedReply<T>>,
{
    let calls = AtomicU32::new(0);
    let answered = policy
        .run(|| async {
            calls.fetch_add(1, Ordering::Relaxed);
            let reply = send().await.reply;
            match reply.disposition {
                Disposition::Success(_) => Ok(reply),
                _ => Err(reply),
            }
        })
        .await;
    let reply = match answered {
        Ok(reply) | Err(reply) => reply,
    };
    (reply, calls.into_inner())
}

/// Prints `reply` as JSON, as the service wrote it (`RequestId`, `Code`,
/// `Message` and, on success, what the action answered), and the calls
/// made on stderr; exit 0 only on `Success`.
pub fn print<T: Serialize>(
    reply: &Reply<T>,
    calls: u32,
    client: &Client,
) -> anyhow::Result<ExitCode> {
    let mut printed = match &reply.answer {
        Some(answer) => serde_json::to_value(answer)?,
        None => json!({ "error": reply.describe() }),
    };
    let success = match &reply.disposition {
        Disposition::Success(success) => Some(serde_json::to_value(success)?),
        _ => None,
    };
    if let (Value::Object(fields), Some(Value::Object(answered))) = (&mut printed, success.clone())
    {
        fields.extend(answered);
    }
    if let (None, Some(_), Value::Object(fields)) = (&success, &reply.answer, &mut printed) {
        fields.insert("error".into(), reply.describe().into());
    }
    println!("{}", serde_json::to_string_pretty(&printed)?);
    eprintln!("{calls} call(s) to {}", client.endpoint());
    Ok(if success.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
