use std::path::Path;

use super::*;

fn settings() -> CredentialsSettings {
    CredentialsSettings {
        sts_endpoint: Some("http://127.0.0.1:9".into()),
        metadata_endpoint: Some("http://127.0.0.1:9".into()),
    }
}

async fn find(env: Env) -> Result<Source, CredentialsError> {
    let http = reqwest::Client::new();
    discover(&env, &settings(), &http)
        .await
        .map(|(source, _)| source)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("face-enroll-{name}-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn the_environments_access_key_wins_over_everything() {
    let source = find(Env::from([
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "env-id"),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret"),
        ("ALIBABA_CLOUD_SECURITY_TOKEN", "env-token"),
        ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/r"),
        (
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            "acs:ram::1:oidc-provider/p",
        ),
        ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/nonexistent"),
    ]))
    .await
    .unwrap();
    let Source::Fixed {
        provider,
        credentials,
    } = source
    else {
        panic!("{source:?}")
    };
    assert_eq!(provider, "environment");
    assert_eq!(credentials.access_key_id, "env-id");
    assert_eq!(credentials.token(), Some("env-token"));
}

#[tokio::test]
async fn rrsa_wins_over_the_profile_files_and_a_bad_token_file_is_one_clear_error() {
    let home = temp_dir("rrsa");
    write(
        &home.join(".alibabacloud/credentials.ini"),
        "[default]\ntype = access_key\naccess_key_id = p\naccess_key_secret = s\n",
    );
    let missing = home.join("no-token");
    let error = find(Env::from([
        ("HOME", home.to_str().unwrap()),
        ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/r"),
        (
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            "acs:ram::1:oidc-provider/p",
        ),
        ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", missing.to_str().unwrap()),
    ]))
    .await
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with("RRSA (OIDC role): cannot read the OIDC token file")
            && error.contains("no-token"),
        "{error}"
    );
    // Without the RRSA variables, the profile file is next.
    let source = find(Env::from([("HOME", home.to_str().unwrap())]))
        .await
        .unwrap();
    assert_eq!(source.provider(), "profile file (credentials.ini)");
}

#[tokio::test]
async fn every_supported_profile_type_is_read() {
    let home = temp_dir("profiles");
    let ini = home.join("creds.ini");
    write(
        &ini,
        "[default]\ntype = access_key\naccess_key_id = ak\naccess_key_secret = sk\n\n\
         [sts]\ntype = sts\naccess_key_id = STS.x\naccess_key_secret = sk\nsecurity_token = tok\n\n\
         [ecs]\ntype = ecs_ram_role\nrole_name = worker-role\n\n\
         [oidc]\ntype = oidc_role_arn\nrole_arn = acs:ram::1:role/r\noidc_provider_arn = acs:ram::1:oidc-provider/p\noidc_token_file_path = /var/run/token\nrole_session_name = s\n\n\
         [chain]\ntype = ram_role_arn\naccess_key_id = a\naccess_key_secret = b\nrole_arn = r\n",
    );
    let path = ini.to_str().unwrap();
    let pick = |profile: &str| {
        Env::from([
            ("ALIBABA_CLOUD_CREDENTIALS_FILE", path),
            ("ALIBABA_CLOUD_PROFILE", profile),
        ])
    };
    let Some(Source::Fixed { credentials, .. }) = profile::find(&pick("default")).unwrap() else {
        panic!()
    };
    assert_eq!(
        (credentials.access_key_id.as_str(), credentials.token()),
        ("ak", None)
    );
    let Some(Source::Fixed { credentials, .. }) = profile::find(&pick("sts")).unwrap() else {
        panic!()
    };
    assert_eq!(credentials.token(), Some("tok"));
    let Some(Source::Ecs { role, .. }) = profile::find(&pick("ecs")).unwrap() else {
        panic!()
    };
    assert_eq!(role.as_deref(), Some("worker-role"));
    let Some(Source::Oidc { token_file, .. }) = profile::find(&pick("oidc")).unwrap() else {
        panic!()
    };
    assert_eq!(token_file, PathBuf::from("/var/run/token"));
    let unsupported = profile::find(&pick("chain")).unwrap_err().to_string();
    assert!(unsupported.contains("ram_role_arn is not"), "{unsupported}");
    let missing = profile::find(&pick("nope")).unwrap_err().to_string();
    assert!(missing.contains("has no section [nope]"), "{missing}");
}

#[tokio::test]
async fn the_cli_config_json_is_read_when_there_is_no_credentials_ini() {
    let home = temp_dir("cli");
    write(
        &home.join(".aliyun/config.json"),
        r#"{"current": "work", "profiles": [
            {"name": "default", "mode": "AK", "access_key_id": "d", "access_key_secret": "s"},
            {"name": "work", "mode": "StsToken", "access_key_id": "w", "access_key_secret": "s", "sts_token": "t"},
            {"name": "ecs", "mode": "EcsRamRole", "ram_role_name": "role-a"}
        ]}"#,
    );
    let home = home.to_str().unwrap();
    let Some(Source::Fixed {
        credentials,
        provider,
    }) = profile::find(&Env::from([("HOME", home)])).unwrap()
    else {
        panic!()
    };
    assert_eq!(provider, "profile file (aliyun config.json)");
    assert_eq!(
        (credentials.access_key_id.as_str(), credentials.token()),
        ("w", Some("t"))
    );
    let ecs = profile::find(&Env::from([
        ("HOME", home),
        ("ALIBABA_CLOUD_PROFILE", "ecs"),
    ]))
    .unwrap();
    assert!(matches!(ecs, Some(Source::Ecs { role: Some(r), .. }) if r == "role-a"));
}

#[tokio::test]
async fn with_nothing_configured_the_error_says_what_was_tried() {
    let error = find(Env::from([("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")]))
        .await
        .unwrap_err()
        .to_string();
    for part in [
        "not set",
        "RRSA",
        "no profile file",
        "metadata service is disabled",
        "ALIBABA_CLOUD_CREDENTIALS_URI",
    ] {
        assert!(error.contains(part), "{part}: {error}");
    }
}

#[tokio::test]
async fn a_metadata_service_that_does_not_answer_is_passed_over_within_about_a_second() {
    // A listener that takes the connection and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let settings = CredentialsSettings {
        metadata_endpoint: Some(format!("http://{}", silent.local_addr().unwrap())),
        ..settings()
    };
    let started = std::time::Instant::now();
    let http = reqwest::Client::new();
    let error = discover(&Env::default(), &settings, &http)
        .await
        .unwrap_err()
        .to_string();
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(900),
        "{waited:?}"
    );
    assert!(
        waited < std::time::Duration::from_millis(1900),
        "{waited:?}"
    );
    assert!(
        error.contains("the metadata service does not answer"),
        "{error}"
    );
}
