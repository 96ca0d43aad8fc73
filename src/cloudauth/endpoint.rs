//! Which URL AddFaceRecord is called at: by region and VPC, or an override.

use url::Url;

use crate::config::{ApiSettings, ConfigError};

/// Regions where the international ID Verification service answers.
pub const REGIONS: [&str; 4] = [
    "ap-southeast-1",
    "ap-southeast-5",
    "cn-hongkong",
    "ap-southeast-3",
];

/// Refuses an `api.region` the service does not answer in, as a settings error.
pub fn check_region(api: &ApiSettings) -> Result<(), ConfigError> {
    crate::config::check(
        REGIONS.contains(&api.region.as_str()),
        "api.region",
        format!("{:?}", api.region),
        &format!("expected one of {}", REGIONS.join(", ")),
    )
}

/// The base URL to POST to: `api.endpoint` when set, else the region's
/// public or VPC host over HTTPS.
pub fn base_url(api: &ApiSettings) -> Result<Url, url::ParseError> {
    match &api.endpoint {
        Some(endpoint) => Url::parse(endpoint),
        None => {
            let vpc = if api.vpc { "-vpc" } else { "" };
            Url::parse(&format!(
                "https://cloudauth-intl{vpc}.{}.aliyuncs.com/",
                api.region
            ))
        }
    }
}

/// The `host` header value for `url`, as the HTTP client sends it
/// (the port only when it is not the scheme's default).
pub fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_and_vpc_pick_the_documented_hosts() {
        let mut api = ApiSettings::default();
        assert_eq!(
            base_url(&api).unwrap().as_str(),
            "https://cloudauth-intl.ap-southeast-1.aliyuncs.com/"
        );
        api.region = "cn-hongkong".into();
        api.vpc = true;
        assert_eq!(
            base_url(&api).unwrap().as_str(),
            "https://cloudauth-intl-vpc.cn-hongkong.aliyuncs.com/"
        );
    }

    #[test]
    fn an_unknown_region_is_a_settings_error_naming_the_known_ones() {
        let api = ApiSettings {
            region: "mars-1".into(),
            ..ApiSettings::default()
        };
        let e = check_region(&api).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "invalid setting api.region = \"mars-1\": expected one of ap-southeast-1"
            ),
            "{e}"
        );
        for region in REGIONS {
            let api = ApiSettings {
                region: region.into(),
                ..ApiSettings::default()
            };
            assert!(check_region(&api).is_ok(), "{region}");
        }
    }

    #[test]
    fn an_endpoint_overrides_region_and_keeps_its_port_in_the_host() {
        let api = ApiSettings {
            endpoint: Some("http://127.0.0.1:8089".into()),
            ..ApiSettings::default()
        };
        let url = base_url(&api).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8089/");
        assert_eq!(host_header(&url), "127.0.0.1:8089");
        let https = Url::parse("https://example.com:443/").unwrap();
        assert_eq!(host_header(&https), "example.com");
    }
}
