//! `face-enroll simulate`: the strict AddFaceRecord stand-in on a port.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use face_enroll::cloudauth::Credentials;
use face_enroll::simulate::{Simulator, SimulatorOptions};

/// Serve an AddFaceRecord-compatible endpoint.
///
/// It verifies V1 and V3 signatures against ALIBABA_CLOUD_ACCESS_KEY_ID and
/// ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN when set),
/// a 15-minute timestamp window, single-use nonces, and every parameter and
/// image rule of the service. `Passed` is N for a MerchantUserId starting with
/// `reject-`, Y otherwise. FacePictureUrl and FacePictureFile are checked to be
/// http(s) URLs but not downloaded.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// Calls per second accepted before answering Throttling.Api (0 = unlimited).
    #[arg(long, default_value_t = 50.0)]
    qps: f64,
    /// Share of calls (0.0 to 1.0) answered with an injected HTTP 500, 503 or 502 page.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    fail_rate: f64,
    /// Milliseconds to wait before every answer.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("{text} is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{rate} is not between 0.0 and 1.0"))
    }
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let credentials = Credentials::from_env()?;
    let options = SimulatorOptions {
        credentials,
        qps: args.qps.max(0.0),
        fail_rate: args.fail_rate,
        latency: Duration::from_millis(args.latency_ms),
    };
    let simulator = Simulator::bind(args.listen, options)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(url = %simulator.url(), qps = args.qps, "simulator listening");
    eprintln!("simulator listening on {}", simulator.url());
    tokio::select! {
        _ = simulator.wait() => anyhow::bail!("the simulator stopped"),
        _ = tokio::signal::ctrl_c() => Ok(ExitCode::SUCCESS),
    }
}
