//! The worker reading key jobs from every object store it supports, each a
//! real server on loopback started by the test: S3 (moto_server), GCS
//! (fake-gcs-server) and Azure Blob (Azurite), configured as a user would
//! (`object_store.url` and `.endpoint`, the store's own credential
//! variables). A job reads its key, a missing key fails as `image_fetch`,
//! and a `send_as_url` key job goes as a presigned URL that the store
//! serves. (OSS is in `oss.rs`, against the simulator.)

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use face_enroll::broker::Message;
use hmac::{Hmac, Mac};
use object_store::ObjectStoreExt;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{sim_options, simulator};
use crate::images::fixtures;
use crate::stack::{declared, delete_names, next_received};

/// A server child process on a free loopback port, killed on drop.
struct Server(Child, String);

impl Server {
    /// Starts `command` and waits until `port` answers.
    fn start(mut command: Command, port: u16, what: &str) -> Self {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} cannot start ({e}); scripts/test installs it"));
        let address = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(Instant::now() < deadline, "{what} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self(child, format!("http://{address}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The path of a tool the test command exports in `var`.
fn tool(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run the tests with scripts/test"))
}

/// Runs a worker on `store` (`object_store.url`) at `endpoint`, with the
/// store's own variables `env`, and three key jobs: `alice.jpg` (there),
/// `nobody.jpg` (not there) and `alice.jpg` with `send_as_url`. Returns the
/// three events' data by job id and the presigned URL the service got.
async fn three_jobs(
    store: &str,
    endpoint: &str,
    env: &[(&str, &str)],
) -> (std::collections::HashMap<String, Value>, String) {
    let sim = simulator(sim_options()).await;
    let (settings, broker) = declared("store").await;
    let mut events = broker.tap(&settings.amqp.results_exchange).await.unwrap();
    let mut worker = crate::process::worker(&settings, &sim.url())
        .env("FACE_ENROLL_OBJECT_STORE__URL", store)
        .env("FACE_ENROLL_OBJECT_STORE__ENDPOINT", endpoint)
        .envs(env.iter().copied())
        .spawn()
        .map(crate::process::Running::new)
        .unwrap();
    let jobs = [
        ("ok", "alice.jpg", false),
        ("missing", "nobody.jpg", false),
        ("url", "alice.jpg", true),
    ];
    for (id, key, send_as_url) in jobs {
        let body = json!({"job_id": id, "face_group_code": "g", "image": {"key": key, "send_as_url": send_as_url}});
        let message = Message::to_queue(
            &settings.amqp.jobs_queue,
            body.to_string().into_bytes(),
            "application/json",
        );
        broker.publish(&message).await.unwrap();
    }
    let mut data = std::collections::HashMap::new();
    for _ in 0..jobs.len() {
        let received = next_received(&mut events).await;
        let event: Value = serde_json::from_slice(&received.body).unwrap();
        data.insert(
            event["data"]["job_id"].as_str().unwrap().to_owned(),
            event["data"].clone(),
        );
    }
    worker.kill();
    delete_names(&broker, &settings).await;
    let urls = sim.picture_urls();
    assert_eq!(urls.len(), 1, "one job went by URL: {urls:?}");
    (data, urls[0].clone())
}

/// What a user checks of the three jobs: the key read, the missing key
/// named, and the presigned URL serving the picture to whoever holds it.
async fn assert_three(data: &std::collections::HashMap<String, Value>, url: &str, signed_by: &str) {
    assert_eq!(data["ok"]["status"], "succeeded", "{}", data["ok"]);
    assert_eq!(
        data["missing"]["error"]["kind"], "image_fetch",
        "{}",
        data["missing"]
    );
    let detail = data["missing"]["error"]["detail"].as_str().unwrap();
    assert!(detail.contains("does not exist"), "{detail}");
    assert_eq!(data["url"]["status"], "succeeded", "{}", data["url"]);
    assert!(url.contains(signed_by), "{url}");
    let fetched = reqwest::get(url).await.unwrap();
    assert_eq!(fetched.status().as_u16(), 200, "{url}");
    assert_eq!(fetched.bytes().await.unwrap(), fixtures().face);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_keys_are_read_from_moto() {
    let port = face_enroll_fixtures::free_port();
    let mut moto = Command::new("moto_server");
    moto.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let moto = Server::start(moto, port, "moto_server");
    let http = reqwest::Client::new();
    let made = http.put(format!("{}/faces", moto.1)).send().await.unwrap();
    assert!(made.status().is_success());
    let put = http
        .put(format!("{}/faces/enroll/alice.jpg", moto.1))
        .body(fixtures().face.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    let env = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let (data, url) = three_jobs("s3://faces/enroll", &moto.1, &env).await;
    assert_three(&data, &url, "X-Amz-Signature=").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_keys_are_read_from_fake_gcs_server() {
    let dir = tempdir("gcs");
    std::fs::create_dir_all(dir.join("data/faces/enroll")).unwrap();
    std::fs::write(dir.join("data/faces/enroll/alice.jpg"), &fixtures().face).unwrap();
    let port = face_enroll_fixtures::free_port();
    let mut gcs = Command::new(tool("FAKE_GCS_SERVER"));
    gcs.args([
        "-scheme",
        "http",
        "-host",
        "127.0.0.1",
        "-backend",
        "memory",
    ])
    .args(["-port", &port.to_string()])
    .args(["-public-host", &format!("127.0.0.1:{port}")])
    .arg("-data")
    .arg(dir.join("data"));
    let gcs = Server::start(gcs, port, "fake-gcs-server");
    // A service account of its own: its key signs the presigned URL and the
    // reads' self-signed tokens (which the emulator does not check).
    let key_file = dir.join("key.pem");
    let made = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(made.status.success(), "openssl genpkey failed");
    let account = json!({
        "type": "service_account",
        "private_key": std::fs::read_to_string(&key_file).unwrap(),
        "private_key_id": "test",
        "client_email": "face-enroll@test.iam.gserviceaccount.com",
    });
    let account_file = dir.join("account.json");
    std::fs::write(&account_file, account.to_string()).unwrap();
    let env = [("GOOGLE_SERVICE_ACCOUNT", account_file.to_str().unwrap())];
    let (data, url) = three_jobs("gs://faces/enroll", &gcs.1, &env).await;
    assert_three(&data, &url, "X-Goog-Signature=").await;
}

const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's published development key.
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_keys_are_read_from_azurite() {
    let port = face_enroll_fixtures::free_port();
    let mut azurite = Command::new(tool("AZURITE_BLOB"));
    azurite
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .args(["--inMemoryPersistence", "--silent", "--disableTelemetry"]);
    let azurite = Server::start(azurite, port, "azurite-blob");
    let account_url = format!("{}/{AZURITE_ACCOUNT}", azurite.1);
    create_container(&account_url, "faces").await;
    let store = object_store::azure::MicrosoftAzureBuilder::new()
        .with_account(AZURITE_ACCOUNT)
        .with_access_key(AZURITE_KEY)
        .with_container_name("faces")
        .with_config(object_store::azure::AzureConfigKey::Endpoint, &account_url)
        .with_allow_http(true)
        .build()
        .unwrap();
    store
        .put(&"enroll/alice.jpg".into(), fixtures().face.clone().into())
        .await
        .unwrap();
    let env = [
        ("AZURE_STORAGE_ACCOUNT_NAME", AZURITE_ACCOUNT),
        ("AZURE_STORAGE_ACCOUNT_KEY", AZURITE_KEY),
    ];
    let (data, url) = three_jobs("az://faces/enroll", &account_url, &env).await;
    // Azurite checks the SAS signature of the URL.
    assert_three(&data, &url, "sig=").await;
}

/// `PUT ?restype=container`, signed with the account key (the object store
/// crate reads and writes blobs but does not make containers).
async fn create_container(account_url: &str, name: &str) {
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let version = "2021-08-06";
    let string_to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{name}\nrestype:container"
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(AZURITE_KEY)
        .unwrap();
    let mut mac = <Hmac<Sha256>>::new_from_slice(&key).unwrap();
    mac.update(string_to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let made = reqwest::Client::new()
        .put(format!("{account_url}/{name}?restype=container"))
        .header("x-ms-date", date)
        .header("x-ms-version", version)
        .header("content-length", "0")
        .header(
            "authorization",
            format!("SharedKey {AZURITE_ACCOUNT}:{signature}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        made.status().as_u16(),
        201,
        "{}",
        made.text().await.unwrap()
    );
}

/// A fresh directory under the system's temporary one.
fn tempdir(what: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("face-enroll-{what}-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
