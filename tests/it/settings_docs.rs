//! One source of truth for the settings: every key of the settings struct
//! is in the README's settings table and rendered by the chart's ConfigMap,
//! or named here as set through the environment only, so a new key cannot
//! be forgotten in either.

use face_enroll::config::Settings;

/// Keys the chart does not render into its settings file, and why.
const ENVIRONMENT_ONLY: [(&str, &str); 5] = [
    (
        "amqp.url",
        "it holds a password: the chart's Secret sets FACE_ENROLL_AMQP__URL",
    ),
    (
        "api.upload_auth_endpoint",
        "tests and proxies: set through extraEnv",
    ),
    (
        "api.upload_endpoint",
        "tests and proxies: set through extraEnv",
    ),
    (
        "credentials.sts_endpoint",
        "tests and proxies: set through extraEnv",
    ),
    (
        "credentials.metadata_endpoint",
        "tests: set through extraEnv",
    ),
];

/// Every `section.key` of the settings.
fn keys() -> Vec<String> {
    let value = serde_json::to_value(Settings::default()).unwrap();
    let mut keys = Vec::new();
    for (section, fields) in value.as_object().unwrap() {
        for key in fields.as_object().unwrap().keys() {
            keys.push(format!("{section}.{key}"));
        }
    }
    keys
}

/// The `section.key`s the chart's ConfigMap template writes.
fn rendered() -> Vec<String> {
    let template = include_str!("../../charts/face-enroll/templates/configmap.yaml");
    let mut section = String::new();
    let mut keys = Vec::new();
    for line in template.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if let Some((key, _)) = line.split_once(" = ") {
            keys.push(format!("{section}.{key}"));
        }
    }
    keys
}

#[test]
fn every_setting_is_documented_and_rendered_by_the_chart() {
    let readme = include_str!("../../README.md");
    let rendered = rendered();
    let keys = keys();
    assert!(keys.len() > 40, "{keys:?}");
    for key in &keys {
        assert!(
            readme.contains(&format!("`{key}`")),
            "{key} is not in the README's settings"
        );
        let environment = ENVIRONMENT_ONLY.iter().any(|(k, _)| k == key);
        assert!(
            rendered.contains(key) != environment,
            "{key}: rendered by the chart {}, listed as environment-only {environment}",
            rendered.contains(key)
        );
    }
    for key in &rendered {
        assert!(
            keys.contains(key),
            "the chart renders {key}, which is no setting"
        );
    }
    let deployment = include_str!("../../charts/face-enroll/templates/deployment.yaml");
    assert!(deployment.contains("FACE_ENROLL_AMQP__URL"));
}
