//! The worker's own message headers: delay rounds done, calls made, and the
//! reason a copy was dead-lettered.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, LongString};

/// Delay-queue rounds the job has been through.
pub const ROUND: &str = "x-face-enroll-round";
/// Calls made to the service for the job so far, of every action.
pub const ATTEMPTS: &str = "x-face-enroll-attempts";
/// Why a copy was sent to the dead-letter exchange.
pub const ERROR: &str = "x-face-enroll-error";

/// A numeric header, 0 when absent or not a non-negative integer.
pub(super) fn read_count(properties: &BasicProperties, name: &str) -> u32 {
    let value = properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(name));
    let number = match value {
        Some(AMQPValue::LongLongInt(n)) => *n,
        Some(AMQPValue::LongInt(n)) => i64::from(*n),
        Some(AMQPValue::LongUInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortUInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortShortInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortShortUInt(n)) => i64::from(*n),
        Some(AMQPValue::LongString(s)) => s.to_string().parse().unwrap_or(0),
        _ => 0,
    };
    u32::try_from(number).unwrap_or(0)
}

/// The same properties with the given headers set (others kept).
pub(super) fn with_headers(
    properties: &BasicProperties,
    set: &[(&str, AMQPValue)],
) -> BasicProperties {
    let mut headers = properties.headers().clone().unwrap_or_default();
    for (name, value) in set {
        headers.insert((*name).into(), value.clone());
    }
    properties.clone().with_headers(headers)
}

/// A count as a header value.
pub(super) fn count(n: u32) -> AMQPValue {
    AMQPValue::LongLongInt(i64::from(n))
}

/// A text header value.
pub(super) fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}
