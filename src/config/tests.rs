#![allow(clippy::result_large_err)] // figment::Jail's closure type, not ours.

use std::path::Path;
use std::time::Duration;

use figment::Jail;
use secrecy::ExposeSecret;

use super::*;

/// Loads with `toml` as the settings file and `env` set, inside a jail.
fn load_with(toml: &str, env: &[(&str, &str)]) -> Result<Settings, String> {
    let mut out = Err(String::new());
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("face-enroll.toml", toml)?;
        for (key, value) in env {
            jail.set_env(key, value);
        }
        out = load(Some(Path::new("face-enroll.toml"))).map_err(|e| e.to_string());
        Ok(())
    });
    out
}

#[test]
fn every_key_has_its_documented_default() {
    let s = load_with("", &[]).unwrap();
    assert_eq!(
        s.amqp.url.expose_secret(),
        "amqp://guest:guest@127.0.0.1:5672/%2f"
    );
    assert_eq!(s.amqp.jobs_queue, "face-enroll.jobs");
    assert_eq!(s.amqp.retry_queue, "face-enroll.jobs.delay");
    assert_eq!(s.amqp.dead_letter_exchange, "face-enroll.dlx");
    assert_eq!(s.amqp.dead_letter_queue, "face-enroll.jobs.dead");
    assert_eq!(s.amqp.results_exchange, "face-enroll.results");
    assert_eq!(s.amqp.results_unrouted, "face-enroll.results.unrouted");
    assert_eq!(s.amqp.queue_type, QueueType::Quorum);
    assert_eq!(
        (
            s.amqp.prefetch,
            s.amqp.delivery_limit,
            s.amqp.declare_topology
        ),
        (64, 10, true)
    );
    assert_eq!(
        (s.worker.concurrency, s.worker.shutdown_grace),
        (32, Duration::from_secs(30))
    );
    assert_eq!(s.worker.max_inflight_bytes, 536_870_912);
    assert_eq!(
        (s.api.region.as_str(), s.api.vpc, s.api.endpoint.as_deref()),
        ("ap-southeast-1", false, None)
    );
    assert_eq!(s.api.signature, SignatureVersion::V1);
    assert_eq!((s.api.tenant_qps, s.api.qps_limit), (50.0, 50.0));
    assert_eq!(
        (s.api.connect_timeout, s.api.read_timeout),
        (Duration::from_secs(5), Duration::from_secs(10))
    );
    assert_eq!(
        (s.retry.initial, s.retry.multiplier),
        (Duration::from_millis(200), 2.0)
    );
    assert_eq!(
        (s.retry.max_interval, s.retry.max_elapsed),
        (Duration::from_secs(10), Duration::from_secs(60))
    );
    assert_eq!(
        (s.retry.max_rounds, s.retry.round_delay),
        (5, Duration::from_secs(30))
    );
    assert_eq!(
        (s.image.max_bytes, s.image.fetch_timeout),
        (20_971_520, Duration::from_secs(10))
    );
    assert_eq!(
        (
            s.image.max_pixels,
            s.image.normalize,
            s.image.normalize_short_side,
            s.image.normalize_quality
        ),
        (50_000_000, NormalizeMode::Auto, 720, 80)
    );
    assert!(!s.image.allow_private_networks);
    assert_eq!(s.object_store.url, None);
    assert_eq!(s.metrics.listen.to_string(), "0.0.0.0:9464");
    assert_eq!(
        (s.log.format, s.log.level.as_str()),
        (LogFormat::Json, "info")
    );
}

#[test]
fn the_file_sets_keys_and_the_environment_wins() {
    let toml = r#"
        [api]
        signature = "v3"
        region = "cn-hongkong"
        qps_limit = 12.5
        [retry]
        initial = "50ms"
        [worker]
        shutdown_grace = "1m 30s"
    "#;
    let env = [
        ("FACE_ENROLL_API__REGION", "ap-southeast-5"),
        ("FACE_ENROLL_AMQP__QUEUE_TYPE", "classic"),
        ("FACE_ENROLL_AMQP__PREFETCH", "8"),
        ("FACE_ENROLL_API__ENDPOINT", "http://127.0.0.1:8089"),
    ];
    let s = load_with(toml, &env).unwrap();
    assert_eq!(s.api.signature, SignatureVersion::V3);
    assert_eq!(s.api.region, "ap-southeast-5");
    assert_eq!(s.api.qps_limit, 12.5);
    assert_eq!(s.retry.initial, Duration::from_millis(50));
    assert_eq!(s.worker.shutdown_grace, Duration::from_secs(90));
    assert_eq!(s.amqp.queue_type, QueueType::Classic);
    assert_eq!(s.amqp.prefetch, 8);
    assert_eq!(s.api.endpoint.as_deref(), Some("http://127.0.0.1:8089"));
}

#[test]
fn the_config_variable_names_the_file_and_is_not_a_key() {
    let mut out = Err(String::new());
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("other.toml", "[worker]\nconcurrency = 3\n")?;
        jail.set_env("FACE_ENROLL_CONFIG", "other.toml");
        out = load(None).map_err(|e| e.to_string());
        Ok(())
    });
    assert_eq!(out.unwrap().worker.concurrency, 3);
}

#[test]
fn a_missing_file_is_an_error() {
    let mut out = Ok(());
    Jail::expect_with(|jail| {
        jail.clear_env();
        out = load(Some(Path::new("nope.toml")))
            .map(|_| ())
            .map_err(|e| e.to_string());
        Ok(())
    });
    assert_eq!(out.unwrap_err(), "settings file nope.toml does not exist");
}

/// The one-line error for a bad setting, which must name key and value.
fn error_for(toml: &str, env: &[(&str, &str)]) -> String {
    let error = load_with(toml, env).expect_err("the setting should be refused");
    assert!(!error.contains('\n'), "not one line: {error}");
    error
}

#[test]
fn an_unknown_enum_value_names_key_value_and_choices() {
    let e = error_for("[api]\nsignature = \"v2\"\n", &[]);
    assert_eq!(
        e,
        "invalid setting api.signature = \"v2\": expected one of v1, v3"
    );
    let e = error_for("", &[("FACE_ENROLL_LOG__FORMAT", "xml")]);
    assert_eq!(
        e,
        "invalid setting log.format = \"xml\": expected one of json, pretty"
    );
}

#[test]
fn a_negative_rate_is_refused() {
    let e = error_for("", &[("FACE_ENROLL_API__QPS_LIMIT", "-5")]);
    assert_eq!(
        e,
        "invalid setting api.qps_limit = -5: expected 0 (no limit) or a number of calls per second of at least 0.001"
    );
    let e = error_for("[api]\ntenant_qps = -0.5\n", &[]);
    assert!(
        e.starts_with("invalid setting api.tenant_qps = -0.5"),
        "{e}"
    );
}

#[test]
fn malformed_urls_are_refused_without_showing_broker_passwords() {
    let e = error_for("[api]\nendpoint = \"not a url\"\n", &[]);
    assert_eq!(
        e,
        "invalid setting api.endpoint = \"not a url\": expected an http:// or https:// base URL"
    );
    let e = error_for("[object_store]\nurl = \"ftp://bucket\"\n", &[]);
    assert!(e.contains("object_store.url = \"ftp://bucket\""), "{e}");
    let e = error_for("", &[("FACE_ENROLL_AMQP__URL", "http://user:hunter2@host")]);
    assert!(e.starts_with("invalid setting amqp.url"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn a_malformed_duration_is_refused() {
    let e = error_for("[retry]\ninitial = \"10 parsecs\"\n", &[]);
    assert!(
        e.starts_with("invalid setting retry.initial = \"10 parsecs\": "),
        "{e}"
    );
    assert!(
        e.contains("expected a duration such as \"200ms\" or \"10s\""),
        "{e}"
    );
}

#[test]
fn an_unknown_key_is_refused_with_the_known_ones() {
    let e = error_for("[api]\nregoin = \"x\"\n", &[]);
    assert!(
        e.starts_with("unknown setting api.regoin: known keys here are region, vpc"),
        "{e}"
    );
    let e = error_for("", &[("FACE_ENROLL_WORKER__THREADS", "4")]);
    assert!(e.starts_with("unknown setting worker.threads"), "{e}");
}

#[test]
fn wrong_types_and_ranges_are_refused() {
    let e = error_for("[amqp]\nprefetch = \"many\"\n", &[]);
    assert!(
        e.starts_with("invalid setting amqp.prefetch = \"many\": expected"),
        "{e}"
    );
    let e = error_for("[worker]\nconcurrency = 0\n", &[]);
    assert_eq!(
        e,
        "invalid setting worker.concurrency = 0: expected at least 1"
    );
}

#[test]
fn normalize_takes_one_of_three_words() {
    let s = load_with("[image]\nnormalize = \"never\"\n", &[]).unwrap();
    assert_eq!(s.image.normalize, NormalizeMode::Never);
    let e = error_for("[image]\nnormalize = \"sometimes\"\n", &[]);
    assert!(
        e.contains("normalize") && e.contains("sometimes") && e.contains("auto"),
        "{e}"
    );
}

#[test]
fn normalize_settings_out_of_range_are_refused() {
    let e = error_for("[image]\nnormalize_quality = 0\n", &[]);
    assert_eq!(
        e,
        "invalid setting image.normalize_quality = 0: expected 1 to 100"
    );
    let e = error_for("[image]\nnormalize_short_side = 1200\n", &[]);
    assert!(e.contains("image.normalize_short_side = 1200"), "{e}");
}

#[test]
fn debug_output_never_shows_the_broker_password() {
    let s = load_with(
        "",
        &[("FACE_ENROLL_AMQP__URL", "amqp://u:s3cr3t-pw@host/%2f")],
    )
    .unwrap();
    assert!(!format!("{s:?}").contains("s3cr3t-pw"));
}

#[test]
fn values_that_would_panic_later_are_refused_at_start() {
    let e = error_for("[api]\nqps_limit = 1e-300\n", &[]);
    assert!(
        e.starts_with("invalid setting api.qps_limit = 0.000"),
        "{e}"
    );
    let e = error_for("[retry]\nmax_interval = \"0s\"\n", &[]);
    assert!(
        e.starts_with("invalid setting retry.max_interval = 0ns: expected at least retry.initial"),
        "{e}"
    );
    let e = error_for("[retry]\nmax_rounds = 1000\n", &[]);
    assert!(
        e.starts_with("invalid setting retry.max_rounds = 1000"),
        "{e}"
    );
}

#[test]
fn tls_files_with_a_plain_amqp_node_are_refused() {
    let e = error_for(
        "[amqp]\nurl = \"amqps://a:5671/%2f,amqp://b:5672/%2f\"\ntls_ca_file = \"/etc/ca.pem\"\n",
        &[],
    );
    assert!(e.starts_with("invalid setting amqp.tls_ca_file"), "{e}");
    assert!(e.contains("amqps:// nodes only"), "{e}");
    let e = error_for(
        "[amqp]\nurl = \"amqp://a:5672/%2f\"\ntls_cert_file = \"/c.pem\"\ntls_key_file = \"/k.pem\"\n",
        &[],
    );
    assert!(e.starts_with("invalid setting amqp.tls_cert_file"), "{e}");
    assert!(
        load_with(
            "[amqp]\nurl = \"amqps://a:5671/%2f\"\ntls_ca_file = \"/etc/ca.pem\"\n",
            &[]
        )
        .is_ok()
    );
}

#[test]
fn rounds_whose_last_delay_passes_the_brokers_ttl_limit_are_refused() {
    // 30 s x 4^9 is 7,864 million ms: over 4,295 million; 30 s x 4^8 is not.
    let e = error_for("[retry]\nmax_rounds = 10\n", &[]);
    assert!(
        e.starts_with("invalid setting retry.max_rounds = 10"),
        "{e}"
    );
    assert!(
        e.contains("expected at most 9 with retry.round_delay 30s"),
        "{e}"
    );
    assert!(load_with("[retry]\nmax_rounds = 9\n", &[]).is_ok());
    let e = error_for("[retry]\nmax_rounds = 3\nround_delay = \"10d\"\n", &[]);
    assert!(e.contains("expected at most 2 "), "{e}");
}
