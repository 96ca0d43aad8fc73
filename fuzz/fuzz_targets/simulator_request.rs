//! The simulator's request parsing and signature verification: the input is
//! split into a query, header lines and a body.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use face_enroll::cloudauth::Credentials;
use face_enroll::simulate::{Judge, SimulatorOptions};
use libfuzzer_sys::fuzz_target;

fn judge() -> &'static Judge {
    static JUDGE: OnceLock<Judge> = OnceLock::new();
    JUDGE.get_or_init(|| {
        Judge::new(SimulatorOptions {
            credentials: Credentials::new("fuzz-id", "fuzz-secret"),
            qps: 0.0,
            fail_rate: 0.0,
            latency: Duration::ZERO,
            issuer: None,
            second_add: face_enroll::simulate::SecondAdd::Add,
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let mut headers = HeaderMap::new();
    for line in parts.next().unwrap_or_default().split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(&line[colon + 1..]),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let body = parts.next().unwrap_or_default();
    let _ = judge().judge(&query, &headers, body);
});
