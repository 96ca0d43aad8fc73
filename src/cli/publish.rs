//! `face-enroll publish`: put jobs on the jobs queue, with confirms.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine;
use face_enroll::broker::{Client, Message, Topology};
use face_enroll::config::Settings;
use face_enroll::job::Job;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// Publishes waiting for confirms at most this many at a time.
const WINDOW: usize = 256;

/// Enqueue jobs from a JSON-lines file (or stdin), or one job from flags
/// (an add job, or with --delete a delete job).
///
/// Each line is checked as a job first; invalid lines are reported and not
/// published (exit 1). Prints how many were confirmed by the broker.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// JSON-lines file of jobs, `-` for stdin.
    #[arg(long, conflicts_with = "group")]
    file: Option<PathBuf>,
    /// One job: its face group (the other flags fill the rest).
    #[arg(long, required_unless_present = "file")]
    group: Option<String>,
    /// One job: its id (default: a new UUID).
    #[arg(long)]
    job_id: Option<String>,
    /// One job: MerchantUserId.
    #[arg(long)]
    merchant_user_id: Option<String>,
    /// One job: image URL.
    #[arg(long, group = "source")]
    image_url: Option<String>,
    /// One job: object key in object_store.url.
    #[arg(long, group = "source")]
    image_key: Option<String>,
    /// One job: a local file sent inline as base64.
    #[arg(long, group = "source")]
    image_file: Option<PathBuf>,
    /// One job: pass the URL (or a presigned URL of the key) to the service
    /// instead of downloading it.
    #[arg(long, conflicts_with = "image_file")]
    send_as_url: bool,
    /// One job: ask for the quality check.
    #[arg(long)]
    quality_check: bool,
    /// One job: what to do when the user already has a record (add, skip, replace).
    #[arg(long, value_parser = ["add", "skip", "replace"], conflicts_with = "delete")]
    on_existing: Option<String>,
    /// One job: a delete job, removing --merchant-user-id from --group (no image).
    #[arg(long, requires = "merchant_user_id", conflicts_with_all = ["image_url", "image_key", "image_file", "quality_check"])]
    delete: bool,
}

pub async fn run(args: Args, settings: Settings) -> anyhow::Result<ExitCode> {
    let (jobs, invalid) = match &args.file {
        Some(path) => read_lines(path)?,
        None => (vec![one_job(&args)?], 0),
    };
    let client = Client::open(&settings.amqp)
        .await
        .context("cannot reach the broker")?;
    if settings.amqp.declare_topology {
        client
            .declare(&Topology::new(&settings.amqp, &settings.retry))
            .await?;
    }
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(jobs.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} confirmed")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let queue = settings.amqp.jobs_queue.as_str();
    let client = &client;
    let mut results = futures_util::stream::iter(jobs)
        .map(|(job_id, body)| async move {
            let mut message = Message::to_queue(queue, body, "application/json");
            message.properties = message.properties.with_message_id(job_id.as_str().into());
            client.publish(&message).await
        })
        .buffer_unordered(WINDOW);
    let (mut confirmed, mut failed) = (0u64, 0u64);
    while let Some(result) = results.next().await {
        match result {
            Ok(()) => confirmed += 1,
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("not confirmed: {e}"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    client.close().await;
    println!("{confirmed} job(s) confirmed on {queue}");
    Ok(if failed + invalid == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A job to publish: its id and its body.
type Outbound = (String, Vec<u8>);

/// Valid lines as jobs to publish; the count of invalid ones.
fn read_lines(path: &PathBuf) -> anyhow::Result<(Vec<Outbound>, u64)> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read stdin")?;
    } else {
        text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    let mut jobs = Vec::new();
    let mut invalid = 0;
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match Job::parse(line.as_bytes(), None) {
            Ok(job) => jobs.push((job.job_id.to_string(), line.as_bytes().to_vec())),
            Err(bad) => {
                invalid += 1;
                eprintln!("line {}: not published: {}", n + 1, bad.reason);
            }
        }
    }
    Ok((jobs, invalid))
}

fn one_job(args: &Args) -> anyhow::Result<Outbound> {
    let job_id = args
        .job_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if args.delete {
        let job = json!({
            "action": "delete",
            "job_id": job_id,
            "face_group_code": args.group,
            "merchant_user_id": args.merchant_user_id,
        });
        return checked(job_id, &job);
    }
    let image = match (&args.image_url, &args.image_key, &args.image_file) {
        (Some(url), _, _) => json!({"url": url, "send_as_url": args.send_as_url}),
        (_, Some(key), _) => json!({"key": key, "send_as_url": args.send_as_url}),
        (_, _, Some(path)) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            json!({"base64": base64::engine::general_purpose::STANDARD.encode(bytes)})
        }
        _ => anyhow::bail!("one of --image-url, --image-key, --image-file is needed"),
    };
    let job = json!({
        "job_id": job_id,
        "face_group_code": args.group,
        "merchant_user_id": args.merchant_user_id,
        "image": image,
        "face_quality_check": args.quality_check,
        "on_existing": args.on_existing,
    });
    checked(job_id, &job)
}

/// `job` as a body to publish, once it parses as a valid job.
fn checked(job_id: String, job: &serde_json::Value) -> anyhow::Result<Outbound> {
    let body = serde_json::to_vec(job)?;
    Job::parse(&body, None)
        .map_err(|bad| anyhow::anyhow!("the job is not valid: {}", bad.reason))?;
    Ok((job_id, body))
}
