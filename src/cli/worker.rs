//! `face-enroll worker`: the main job.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use face_enroll::cloudauth::Keyring;
use face_enroll::config::Settings;
use face_enroll::telemetry::http::{self, Probes};
use face_enroll::telemetry::{Health, Metrics};
use face_enroll::worker::Worker;

/// Time beyond `worker.shutdown_grace` for cancelling the consumer and
/// closing the connection.
const STOP_SLACK: std::time::Duration = std::time::Duration::from_secs(15);

/// Consume jobs, enroll faces, publish result events and serve metrics until
/// SIGTERM or SIGINT; then stop consuming, finish the calls under way within
/// worker.shutdown_grace, and leave every other delivery for redelivery.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args, settings: Settings) -> anyhow::Result<ExitCode> {
    let metrics = Metrics::new().context("cannot register the metrics")?;
    let credentials = Keyring::discover(&settings.credentials, Some(metrics.clone())).await?;
    tracing::info!(provider = credentials.provider(), "credentials found");
    let health = Arc::new(Health::default());
    let worker = Worker::new(&settings, credentials, metrics.clone(), health.clone())?;
    let probes = Probes {
        metrics,
        health,
        limiter: worker.limiter().clone(),
    };
    let (addr, _server) = http::serve(settings.metrics.listen, probes)
        .await
        .with_context(|| format!("cannot listen on {} for metrics", settings.metrics.listen))?;
    tracing::info!(%addr, "serving /metrics, /healthz, /readyz");
    let shutdown = super::signal::shutdown_token()?;
    // However the broker behaves, the process ends soon after the drain time:
    // deliveries left unacked go back to the queue when the connection drops.
    let deadline = settings.worker.shutdown_grace + STOP_SLACK;
    let overdue = async {
        shutdown.cancelled().await;
        tokio::time::sleep(deadline).await;
    };
    tokio::select! {
        result = worker.run(shutdown.clone()) => result?,
        () = overdue => {
            tracing::error!(?deadline, "the worker did not stop in time; exiting anyway");
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}
