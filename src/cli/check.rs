//! `face-enroll check`: settings, credentials, broker, endpoint and object
//! store, in that order; the first problem is named and ends the check.

use std::process::ExitCode;

use face_enroll::broker::{Client as Broker, Topology};
use face_enroll::cloudauth::{Client, Credentials, Keyring};
use face_enroll::config::Settings;
use face_enroll::image::KeyStore;

/// Validate the settings and reach the broker, the API endpoint and the object
/// store; exit 1 naming the first thing wrong.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read this key from object_store.url (else only sign in to the store).
    #[arg(long)]
    image_key: Option<String>,
}

pub async fn run(args: Args, settings: Settings) -> anyhow::Result<ExitCode> {
    println!("ok   settings");
    let keyring = match Keyring::discover(&settings.credentials, None).await {
        Ok(keyring) => keyring,
        Err(e) => return Ok(fail("credentials", &e.to_string())),
    };
    println!("ok   credentials (from the {})", keyring.provider());
    let steps = [
        ("broker", broker(&settings).await),
        ("endpoint", endpoint(&settings).await),
        (
            "object store",
            store(&settings, &keyring, args.image_key.as_deref()).await,
        ),
    ];
    for (name, result) in steps {
        match result {
            Ok(note) => println!("ok   {name}{note}"),
            Err(problem) => return Ok(fail(name, &problem)),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn fail(name: &str, problem: &str) -> ExitCode {
    println!("FAIL {name}: {problem}");
    ExitCode::FAILURE
}

async fn broker(settings: &Settings) -> Result<String, String> {
    let broker = Broker::open(&settings.amqp)
        .await
        .map_err(|e| format!("cannot connect to amqp.url: {e}"))?;
    let checked = if settings.amqp.declare_topology {
        broker
            .declare(&Topology::new(&settings.amqp, &settings.retry))
            .await
            .map(|()| " (topology declared)".to_owned())
            .map_err(|e| e.to_string())
    } else {
        let queue = &settings.amqp.jobs_queue;
        broker
            .queue_len(queue)
            .await
            .map(|_| format!(" (queue {queue} exists)"))
            .map_err(|e| format!("the jobs queue {queue} is not there: {e}"))
    };
    broker.close().await;
    checked
}

async fn endpoint(settings: &Settings) -> Result<String, String> {
    let client = Client::new(&settings.api, Credentials::new("check", "check"))
        .map_err(|e| e.to_string())?;
    let url = client.endpoint().clone();
    let http = reqwest::Client::builder()
        .connect_timeout(settings.api.connect_timeout)
        .timeout(settings.api.read_timeout)
        .build()
        .map_err(|e| e.to_string())?;
    match http.post(url.clone()).send().await {
        Ok(response) => Ok(format!(
            " ({url} answers HTTP {})",
            response.status().as_u16()
        )),
        Err(e) => Err(format!("{url} cannot be reached: {e}")),
    }
}

async fn store(
    settings: &Settings,
    keyring: &Keyring,
    key: Option<&str>,
) -> Result<String, String> {
    let Some(url) = &settings.object_store.url else {
        return Ok(" (none configured)".into());
    };
    let store = KeyStore::open(
        &settings.object_store,
        &settings.api.region,
        keyring,
        settings.image.max_bytes,
        settings.image.fetch_timeout,
    )
    .map_err(|e| e.to_string())?;
    store
        .probe(key)
        .await
        .map(|done| format!(" ({url}: {done})"))
        .map_err(|e| format!("{url}: {e}"))
}
