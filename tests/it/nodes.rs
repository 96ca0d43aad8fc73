//! Several broker URLs and TLS, against the real RabbitMQ: a dead node in
//! the list is passed over, so is a node that accepts and never answers and
//! one whose certificate is refused; a TLS listener (added to the running
//! broker with certificates this test makes) is reached with the right CA
//! and a client certificate, and a wrong CA on every node is one clear error
//! at start, not a loop.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use face_enroll::telemetry::{Health, Metrics};
use face_enroll::worker::Worker;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use face_enroll::config::Settings;

use crate::helpers::{credentials, sim_options, simulator};
use crate::rabbit::Vhost;
use crate::resilience;
use crate::stack::{Stack, test_settings, unique};

fn job(id: &str, images: &str) -> serde_json::Value {
    json!({"job_id": id, "face_group_code": "g", "image": {"url": format!("{images}/face.jpg")}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_cannot_be_reached_is_passed_over() {
    let mut stack = Stack::start("nodes", |s| {
        // Ports 1 to 3 refuse at once; the worker starts at any of the four.
        s.amqp.url =
            "amqp://guest:guest@127.0.0.1:1/%2f, amqp://guest:guest@127.0.0.1:5672/%2f".into();
    })
    .await;
    let images = stack.images.clone();
    stack.publish(&job("n-1", &images)).await;
    let event = &stack.events(1).await[0];
    assert_eq!(event["data"]["status"], "succeeded");
    let metrics = stack.metrics.render();
    assert!(
        metrics.contains("face_enroll_amqp_node{node=\"127.0.0.1:5672\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("face_enroll_amqp_node{node=\"127.0.0.1:1\"} 0"),
        "{metrics}"
    );
    stack.finish().await;
}

/// A worker in this process whose `amqp.url` is `nodes` (of `vhost`), jobs
/// published and events read through the test's own connection to `vhost`.
struct Run {
    vhost: Vhost,
    broker: face_enroll::broker::Client,
    metrics: Metrics,
    token: CancellationToken,
    worker: tokio::task::JoinHandle<Result<(), face_enroll::worker::WorkerError>>,
    queue: String,
    _sim: face_enroll::simulate::Simulator,
}

impl Run {
    async fn start(vhost: Vhost, nodes: String, tweak: impl FnOnce(&mut Settings)) -> Self {
        let sim = simulator(sim_options()).await;
        let (mut settings, broker) = resilience::prepare(&vhost, &sim).await;
        settings.amqp.url = nodes.into();
        tweak(&mut settings);
        let metrics = Metrics::new().unwrap();
        let worker = Worker::new(
            &settings,
            credentials(),
            metrics.clone(),
            Arc::new(Health::default()),
        )
        .unwrap();
        let token = CancellationToken::new();
        let task = tokio::spawn({
            let token = token.clone();
            async move { worker.run(token).await }
        });
        Self {
            vhost,
            broker,
            metrics,
            token,
            worker: task,
            queue: settings.amqp.jobs_queue.clone(),
            _sim: sim,
        }
    }

    /// Publishes job `id` and says how long its event took to come.
    async fn job(&self, id: &str) -> Duration {
        let image = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            crate::helpers::jpeg::face(48, 64),
        );
        let body = json!({"job_id": id, "face_group_code": "g", "image": {"base64": image}});
        let started = std::time::Instant::now();
        let message = face_enroll::broker::Message::to_queue(
            &self.queue,
            body.to_string().into_bytes(),
            "application/json",
        );
        self.broker.publish(&message).await.unwrap();
        let seen =
            resilience::collect(&self.vhost, &[id.to_owned()], Duration::from_secs(60)).await;
        assert_eq!(seen.get(id), Some(&1));
        started.elapsed()
    }

    /// Ends every connection to the vhost: the worker moves to its next node.
    async fn close_connections(&mut self) {
        self.vhost.close_all_connections();
        self.broker = resilience::connect(&self.vhost).await;
    }

    fn failures(&self, reason: &str) -> u64 {
        self.metrics
            .amqp_connect_failures
            .with_label_values(&[reason])
            .get()
    }

    async fn finish(self) {
        self.token.cancel();
        self.worker.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_accepts_and_never_answers_is_left_after_the_connect_timeout() {
    // A load balancer with a dead backend: TCP is accepted, nothing is said.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let vhost = Vhost::new("silent");
    let good = vhost.url();
    let name = vhost.0.clone();
    let mut run = Run::start(
        vhost,
        format!("amqp://guest:guest@127.0.0.1:{port}/{name},{good}"),
        |_| {},
    )
    .await;
    run.job("silent-1").await;
    // The session's end moves the worker on: the silent node is next.
    run.close_connections().await;
    let took = run.job("silent-2").await;
    assert!(
        took < Duration::from_secs(15),
        "the next event took {took:?}: the silent node held the worker"
    );
    assert!(
        run.failures("timeout") >= 1,
        "the silent node was tried and left"
    );
    eprintln!("a silent node next: the next event after {took:.1?}");
    drop(silent);
    run.finish().await;
}

/// A CA, a server certificate for `localhost` and a client certificate,
/// written where the broker (another user) can read them.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique("tls"));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = issuer("face-enroll test CA");
        let other = issuer("some other CA");
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        write("ca.pem", ca.pem());
        write("other-ca.pem", other.pem());
        for (name, names) in [("server", vec!["localhost".to_owned()]), ("client", vec![])] {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params
                .distinguished_name
                .push(DnType::CommonName, format!("face-enroll {name}"));
            let cert = params.signed_by(&key, &ca).unwrap();
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}-key.pem"), key.serialize_pem());
        }
        set_readable(&dir);
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn issuer(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn set_readable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

/// A TLS listener on the running broker, requiring a client certificate
/// signed by the test CA; removed when dropped.
struct Listener {
    port: u16,
}

impl Listener {
    fn start(pki: &Pki) -> Self {
        let port = face_enroll_fixtures::free_port();
        let options = format!(
            "[{{cacertfile, {:?}}}, {{certfile, {:?}}}, {{keyfile, {:?}}}, {{verify, verify_peer}}, {{fail_if_no_peer_cert, true}}]",
            pki.path("ca.pem"),
            pki.path("server.pem"),
            pki.path("server-key.pem"),
        );
        let expr = format!(
            "rabbit_networking:start_ssl_listener({{\"127.0.0.1\", {port}}}, {options}, 1)."
        );
        crate::rabbit::rabbitmqctl(&["eval", &expr]);
        Self { port }
    }

    fn url(&self) -> String {
        format!("amqps://guest:guest@localhost:{}/%2f", self.port)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let expr = format!(
            "rabbit_networking:stop_tcp_listener({{\"127.0.0.1\", {}}}).",
            self.port
        );
        crate::rabbit::rabbitmqctl(&["eval", &expr]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_right_ca_and_a_client_certificate_carries_jobs() {
    let pki = Pki::new();
    let listener = Listener::start(&pki);
    let mut stack = Stack::start("tls", |s| {
        s.amqp.url = listener.url().into();
        s.amqp.tls_ca_file = Some(pki.path("ca.pem"));
        s.amqp.tls_cert_file = Some(pki.path("client.pem"));
        s.amqp.tls_key_file = Some(pki.path("client-key.pem"));
    })
    .await;
    let images = stack.images.clone();
    stack.publish(&job("tls-1", &images)).await;
    let event = &stack.events(1).await[0];
    assert_eq!(event["data"]["status"], "succeeded");
    assert!(stack.metrics.render().contains(&format!(
        "face_enroll_amqp_node{{node=\"localhost:{}\"}} 1",
        listener.port
    )));
    stack.finish().await;
}

/// The error a worker with `settings` stops with, at once: not a loop.
async fn start_error(settings: &face_enroll::config::Settings) -> String {
    let worker = Worker::new(
        settings,
        credentials(),
        Metrics::new().unwrap(),
        Arc::new(Health::default()),
    )
    .unwrap();
    let ended = tokio::time::timeout(
        Duration::from_secs(10),
        worker.run(CancellationToken::new()),
    )
    .await
    .expect("the worker stops at once, it does not loop");
    ended.unwrap_err().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_is_one_clear_error_at_start_and_in_check() {
    let pki = Pki::new();
    let listener = Listener::start(&pki);
    let mut settings = test_settings(&unique("badca"));
    settings.amqp.url = listener.url().into();
    settings.amqp.tls_ca_file = Some(pki.path("other-ca.pem"));
    settings.amqp.tls_cert_file = Some(pki.path("client.pem"));
    settings.amqp.tls_key_file = Some(pki.path("client-key.pem"));
    let error = start_error(&settings).await;
    assert!(
        error.starts_with(&format!(
            "the broker's TLS certificate is refused (localhost:{})",
            listener.port
        )) && error.contains("amqp.tls_ca_file"),
        "{error}"
    );

    // The right CA, but a host name the certificate does not name.
    settings.amqp.url = listener.url().replace("localhost", "127.0.0.1").into();
    settings.amqp.tls_ca_file = Some(pki.path("ca.pem"));
    let error = start_error(&settings).await;
    assert!(
        error.contains("certificate") && error.contains(&format!("127.0.0.1:{}", listener.port)),
        "{error}"
    );

    let output = crate::process::face_enroll(&["check"])
        .env("FACE_ENROLL_AMQP__URL", listener.url())
        .env("FACE_ENROLL_AMQP__TLS_CA_FILE", pki.path("other-ca.pem"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("certificate"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_certificate_is_refused_is_passed_over() {
    let pki = Pki::new();
    let listener = Listener::start(&pki);
    let vhost = Vhost::new("certnode");
    let good = listener.url().replace("%2f", &vhost.0);
    // The same listener by two names: its certificate names `localhost`, so
    // as `127.0.0.1` it is refused, as a node with a wrong certificate is.
    let bad = good.replace("localhost", "127.0.0.1");
    let mut run = Run::start(vhost, format!("{bad},{good}"), |s| {
        s.amqp.tls_ca_file = Some(pki.path("ca.pem"));
        s.amqp.tls_cert_file = Some(pki.path("client.pem"));
        s.amqp.tls_key_file = Some(pki.path("client-key.pem"));
    })
    .await;
    run.job("cert-1").await;
    // Moving on from the good node leads to the refused one, then back.
    run.close_connections().await;
    run.job("cert-2").await;
    assert!(
        run.failures("certificate") >= 1,
        "the refused node was tried, counted and passed over"
    );
    run.finish().await;
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_file_replaces_the_system_roots_rather_than_adding_to_them() {
    let pki = Pki::new();
    let listener = Listener::start(&pki);
    let sim = simulator(sim_options()).await;
    // The test CA made a system root (`SSL_CERT_FILE` is where the system's
    // roots are read from); `check` reaches the broker and the simulator.
    let (roots, url, cert, key, endpoint) = (
        pki.path("ca.pem"),
        listener.url(),
        pki.path("client.pem"),
        pki.path("client-key.pem"),
        sim.url(),
    );
    let check = move |ca_file: Option<PathBuf>| {
        let mut command = crate::process::face_enroll(&["check"]);
        command
            .env("SSL_CERT_FILE", &roots)
            .env("FACE_ENROLL_AMQP__URL", &url)
            .env("FACE_ENROLL_AMQP__TLS_CERT_FILE", &cert)
            .env("FACE_ENROLL_AMQP__TLS_KEY_FILE", &key)
            .env("FACE_ENROLL_API__ENDPOINT", &endpoint);
        if let Some(ca) = ca_file {
            command.env("FACE_ENROLL_AMQP__TLS_CA_FILE", ca);
        }
        let output = command.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code(), text)
    };
    let (code, text) = tokio::task::spawn_blocking({
        let check = check.clone();
        move || check(None)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "the system's roots are trusted: {text}");
    let other = pki.path("other-ca.pem");
    let (code, text) = tokio::task::spawn_blocking(move || check(Some(other)))
        .await
        .unwrap();
    assert_eq!(
        code,
        Some(1),
        "only amqp.tls_ca_file is trusted once set: {text}"
    );
    assert!(text.contains("certificate"), "{text}");
}
