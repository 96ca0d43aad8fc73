//! The commands of the binary, one file each; the only place that uses
//! `anyhow`, and the one that turns errors into exit codes.

mod answer;
mod check;
mod delete;
mod demo;
mod enroll;
mod normalize;
mod publish;
mod records;
mod signal;
mod simulate;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use face_enroll::config::{self, ConfigError, Settings};

/// Face enrollment worker for Alibaba Cloud ID Verification.
#[derive(Debug, Parser)]
#[command(name = "face-enroll", version, about, long_about = None)]
struct Cli {
    /// Settings file (TOML); also `FACE_ENROLL_CONFIG`.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Consume jobs, enroll faces and publish result events until SIGTERM (the main job).
    Worker(worker::Args),
    /// Run the whole loop locally: simulator, worker, sample jobs; no cloud account needed.
    Demo(demo::Args),
    /// Serve a stand-in for the service, with a face library, for development and load tests.
    Simulate(simulate::Args),
    /// Make one AddFaceRecord call, without a queue, and print the answer.
    Enroll(enroll::Args),
    /// Remove a user's face from a group (DeleteFaceRecordV2), without a queue.
    Delete(delete::Args),
    /// List a group's face records (QueryFaceRecord), without a queue.
    Records(records::Args),
    /// Make one image meet the service's rules as the worker would, and write it.
    Normalize(normalize::Args),
    /// Enqueue jobs from a JSON-lines file or from flags, with publisher confirms.
    Publish(publish::Args),
    /// Validate the settings and reach the broker, the endpoint and the object store.
    Check(check::Args),
}

/// Exit status for bad usage or settings.
const EXIT_USAGE: u8 = 2;

/// How long background tasks get to end once a command is done.
const EXIT_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs the command line and returns the process's exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded = config::load(cli.config.as_deref()).and_then(|settings| {
        face_enroll::cloudauth::endpoint::check_region(&settings.api)?;
        Ok(settings)
    });
    let settings = match loaded {
        Ok(settings) => settings,
        Err(e) => return usage_error(&e),
    };
    let mut log = settings.log.clone();
    if let Command::Demo(demo) = &cli.command {
        // The demo prints its events for a person on stdout; the worker's
        // logs stay out of the way (errors only) unless asked for.
        if demo.logs {
            log.format = config::LogFormat::Pretty;
        } else {
            log.level = "error".into();
        }
    }
    face_enroll::telemetry::logging::init(&log);
    let runtime = match runtime_for(&cli.command) {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command, settings));
    // Whatever a library left running must not keep the process alive.
    runtime.shutdown_timeout(EXIT_GRACE);
    match result {
        Ok(code) => code,
        Err(e) => {
            if let Some(config) = e.downcast_ref::<ConfigError>() {
                return usage_error(config);
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The worker and the demo run every task on one thread: at the steady rate
/// production runs (50 calls/s spread evenly), each wake-up of a second
/// thread cost more CPU than the job's own work, and the worker's heavy work
/// goes to the blocking pool. The other commands use one thread per core.
fn runtime_for(command: &Command) -> std::io::Result<tokio::runtime::Runtime> {
    match command {
        Command::Worker(_) | Command::Demo(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Runtime::new(),
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Worker(args) => worker::run(args, settings).await,
        Command::Demo(args) => demo::run(args, settings).await,
        Command::Simulate(args) => simulate::run(args).await,
        Command::Enroll(args) => enroll::run(args, settings).await,
        Command::Delete(args) => delete::run(args, settings).await,
        Command::Records(args) => records::run(args, settings).await,
        Command::Normalize(args) => normalize::run(args, settings).await,
        Command::Publish(args) => publish::run(args, settings).await,
        Command::Check(args) => check::run(args, settings).await,
    }
}

fn usage_error(error: &ConfigError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(EXIT_USAGE)
}
