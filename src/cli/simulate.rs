//! `face-enroll simulate`: the strict stand-in for the service on a port.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use face_enroll::cloudauth::Credentials;
use face_enroll::simulate::{IssuerOptions, SecondAdd, Simulator, SimulatorOptions};

/// Serve an endpoint compatible with AddFaceRecord, QueryFaceRecord and
/// DeleteFaceRecordV2, keeping a face library in memory.
///
/// It verifies V1 and V3 signatures against ALIBABA_CLOUD_ACCESS_KEY_ID and
/// ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN when set),
/// a 15-minute timestamp window, single-use nonces, where each action takes
/// its parameters (AddFaceRecord's in a form body, the face-library calls'
/// in the query string), and every parameter and image rule of the service.
/// `Passed` is N for a MerchantUserId starting with `reject-`, Y otherwise;
/// a passed face becomes a record of its group. A FacePictureFile is judged
/// by the object uploaded to its OSS bucket; a FacePictureUrl that is a
/// presigned URL of its own OSS (--oss-dir) is verified and its picture
/// judged; any other FacePictureUrl is checked to be http(s), not downloaded.
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
    /// Serve STS AssumeRoleWithOIDC for this RAM role (and the metadata service).
    #[arg(long, requires_all = ["oidc_provider_arn", "oidc_token_file"])]
    sts_role_arn: Option<String>,
    /// The OIDC provider AssumeRoleWithOIDC must name.
    #[arg(long)]
    oidc_provider_arn: Option<String>,
    /// File holding the OIDC token AssumeRoleWithOIDC must carry.
    #[arg(long)]
    oidc_token_file: Option<std::path::PathBuf>,
    /// The RAM role name the metadata service serves.
    #[arg(long, default_value = "face-enroll")]
    ecs_role: String,
    /// Lifetime of the temporary credentials issued, in seconds.
    #[arg(long, default_value_t = 3600)]
    credentials_lifetime_secs: u64,
    /// What AddFaceRecord does for a user already in the group (the service
    /// does not document it): add a second record, or fail the call.
    #[arg(long, value_enum, default_value_t = SecondAdd::Add)]
    on_existing: SecondAdd,
    /// Serve OSS GetObject (V4-signed, or presigned URLs) of the files in
    /// this directory: `DIR/<bucket>/<key>`.
    #[arg(long)]
    oss_dir: Option<std::path::PathBuf>,
    /// The region of the buckets in --oss-dir.
    #[arg(long, default_value = "ap-southeast-1")]
    oss_region: String,
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
    let issuer = match (
        &args.sts_role_arn,
        &args.oidc_provider_arn,
        &args.oidc_token_file,
    ) {
        (Some(role), Some(provider), Some(file)) => {
            let token = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            Some(IssuerOptions {
                role_arn: role.clone(),
                oidc_provider_arn: provider.clone(),
                oidc_token: token.trim().to_owned().into(),
                ecs_role: args.ecs_role.clone(),
                lifetime: Duration::from_secs(args.credentials_lifetime_secs),
            })
        }
        _ => None,
    };
    let options = SimulatorOptions {
        credentials,
        qps: args.qps.max(0.0),
        fail_rate: args.fail_rate,
        latency: Duration::from_millis(args.latency_ms),
        issuer,
        second_add: args.on_existing,
    };
    let simulator = Simulator::bind(args.listen, options)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    if let Some(dir) = &args.oss_dir {
        let count = shelve(&simulator, dir, &args.oss_region)?;
        eprintln!(
            "serving {count} objects of {} as OSS buckets",
            dir.display()
        );
    }
    tracing::info!(url = %simulator.url(), qps = args.qps, "simulator listening");
    eprintln!("simulator listening on {}", simulator.url());
    tokio::select! {
        _ = simulator.wait() => anyhow::bail!("the simulator stopped"),
        _ = tokio::signal::ctrl_c() => Ok(ExitCode::SUCCESS),
    }
}

/// Puts every file under `dir/<bucket>/` in the simulator's bucket of that
/// name; how many.
fn shelve(simulator: &Simulator, dir: &Path, region: &str) -> anyhow::Result<usize> {
    let mut count = 0;
    for bucket in
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?
    {
        let bucket = bucket?.path();
        if !bucket.is_dir() {
            continue;
        }
        let name = bucket
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let mut pending = vec![bucket.clone()];
        while let Some(folder) = pending.pop() {
            for entry in std::fs::read_dir(&folder)? {
                let path = entry?.path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let key = path
                    .strip_prefix(&bucket)?
                    .to_string_lossy()
                    .replace('\\', "/");
                simulator.put_object(&name, region, &key, std::fs::read(&path)?);
                count += 1;
            }
        }
    }
    Ok(count)
}
