//! The operators' listener: `/metrics`, `/healthz`, `/readyz`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use super::health::Health;
use super::metrics::Metrics;
use crate::retry::RateLimiter;

/// What the listener reads.
#[derive(Clone)]
pub struct Probes {
    /// The registry served on `/metrics`.
    pub metrics: Metrics,
    /// The flags behind `/healthz` and `/readyz`.
    pub health: Arc<Health>,
    /// Read at scrape time for `face_enroll_rate_limit_qps`.
    pub limiter: Arc<RateLimiter>,
}

/// Binds `addr` and serves the probes until the task is dropped.
pub async fn serve(
    addr: SocketAddr,
    probes: Probes,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(probes);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok((local, task))
}

async fn metrics(State(probes): State<Probes>) -> impl IntoResponse {
    probes
        .metrics
        .rate_limit_qps
        .set(probes.limiter.current_rate());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        probes.metrics.render(),
    )
}

async fn healthz(State(probes): State<Probes>) -> impl IntoResponse {
    verdict(probes.health.alive(), "consume loop stalled")
}

async fn readyz(State(probes): State<Probes>) -> impl IntoResponse {
    verdict(
        probes.health.ready(),
        "not ready: broker, consumer or circuit",
    )
}

fn verdict(ok: bool, problem: &'static str) -> (StatusCode, &'static str) {
    if ok {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, problem)
    }
}
