//! Where the broker is: the nodes of `amqp.url` (several, comma-separated,
//! for a cluster) and the TLS settings every connection uses. Sessions start
//! at a random node and move to the next whenever one cannot be reached or
//! goes away, so a fleet spreads over the cluster and survives a node's loss.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::{Connection, ConnectionProperties};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{AmqpSettings, split_urls};

/// Why the broker's nodes or TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NodesError {
    /// A TLS file could not be read.
    #[error("cannot read {key} ({path}): {error}")]
    File {
        /// The setting naming the file.
        key: &'static str,
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// A PEM file holds nothing usable.
    #[error("{key} ({path}) holds no PEM {what}")]
    Pem {
        /// The setting naming the file.
        key: &'static str,
        /// The file.
        path: String,
        /// What was looked for.
        what: &'static str,
    },
    /// A certificate without its key, or the other way round.
    #[error("amqp.tls_cert_file and amqp.tls_key_file go together: set both or neither")]
    HalfIdentity,
}

/// The nodes of one broker (cluster) and how to speak TLS to them.
pub struct BrokerNodes {
    urls: Vec<SecretString>,
    tls: Tls,
    next: AtomicUsize,
}

/// The PEM material of `amqp.tls_*`, read once at start.
#[derive(Clone, Default)]
struct Tls {
    /// The roots a broker's certificate must chain to: `amqp.tls_ca_file`
    /// alone when set (it replaces the system's), else the system's roots.
    ca: Option<String>,
    /// `amqp.tls_ca_file` was set.
    custom_ca: bool,
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for BrokerNodes {
    /// Hosts and ports only: the URLs hold the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerNodes")
            .field("nodes", &self.labels())
            .field("custom_ca", &self.tls.custom_ca)
            .field("client_certificate", &self.tls.identity.is_some())
            .finish()
    }
}

/// `host:port` of a broker URL, for logs and metrics (never the password).
pub fn node_label(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => {
            let port = u
                .port()
                .unwrap_or(if u.scheme() == "amqps" { 5671 } else { 5672 });
            format!("{}:{port}", u.host_str().unwrap_or("?"))
        }
        Err(_) => "(unparsable URL)".into(),
    }
}

impl BrokerNodes {
    /// The nodes of `amqp.url` with the TLS files read; the first node used
    /// is drawn at random.
    pub fn new(amqp: &AmqpSettings) -> Result<Self, NodesError> {
        let urls: Vec<SecretString> = split_urls(amqp.url.expose_secret())
            .into_iter()
            .map(SecretString::from)
            .collect();
        let tls_nodes = urls
            .iter()
            .any(|u| u.expose_secret().starts_with("amqps://"));
        let ca = match &amqp.tls_ca_file {
            Some(path) => Some(pem(path, "amqp.tls_ca_file", "CERTIFICATE")?),
            None if tls_nodes => Some(system_roots()),
            None => None,
        };
        let identity = match (&amqp.tls_cert_file, &amqp.tls_key_file) {
            (Some(cert), Some(key)) => Some((
                pem(cert, "amqp.tls_cert_file", "CERTIFICATE")?.into_bytes(),
                pem(key, "amqp.tls_key_file", "PRIVATE KEY")?.into_bytes(),
            )),
            (None, None) => None,
            _ => return Err(NodesError::HalfIdentity),
        };
        let start = rand::random_range(0..urls.len().max(1));
        Ok(Self {
            urls,
            tls: Tls {
                ca,
                custom_ca: amqp.tls_ca_file.is_some(),
                identity,
            },
            next: AtomicUsize::new(start),
        })
    }

    /// `host:port` of every node, in the order of `amqp.url`.
    pub fn labels(&self) -> Vec<String> {
        self.urls
            .iter()
            .map(|u| node_label(u.expose_secret()))
            .collect()
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.urls.len()
    }

    /// Whether `amqp.url` named no node (refused by validation first).
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// The node the next connection goes to, and its label; then moves on,
    /// so the one after goes to the next node.
    pub fn take_turn(&self) -> (usize, String) {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.urls.len().max(1);
        let label = self
            .urls
            .get(index)
            .map_or_else(String::new, |u| node_label(u.expose_secret()));
        (index, label)
    }

    /// Connects to node `index` with the TLS settings.
    pub async fn connect(
        &self,
        index: usize,
        properties: ConnectionProperties,
    ) -> Result<Connection, lapin::Error> {
        let url = self.urls.get(index).map_or("", |u| u.expose_secret());
        let config = OwnedTLSConfig {
            identity: self
                .tls
                .identity
                .clone()
                .map(|(pem, key)| OwnedIdentity::PKCS8 { pem, key }),
            cert_chain: self.tls.ca.clone(),
        };
        let runtime = lapin::runtime::default_runtime()?;
        Connection::connect_with_config(url, properties, config, runtime).await
    }
}

/// The system's trusted roots as PEM. The broker client's TLS is built with
/// no roots of its own, so that `amqp.tls_ca_file`, when set, is the only
/// one trusted; without it, these are.
fn system_roots() -> String {
    use base64::Engine;
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "a system root certificate could not be read");
    }
    let mut pem = String::new();
    for cert in found.certs {
        let text = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in text.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem
}

/// The text of a PEM file holding at least one `what` block.
fn pem(path: &Path, key: &'static str, what: &'static str) -> Result<String, NodesError> {
    let text = std::fs::read_to_string(path).map_err(|error| NodesError::File {
        key,
        path: path.display().to_string(),
        error,
    })?;
    if !text.contains(&format!("-----BEGIN {what}")) && !text.contains(&format!(" {what}-----")) {
        return Err(NodesError::Pem {
            key,
            path: path.display().to_string(),
            what,
        });
    }
    Ok(text)
}

/// Whether a connection error is the broker's certificate refused (wrong CA,
/// wrong name, expired): a setting to fix, not an outage to wait out.
pub fn is_certificate_error(error: &lapin::Error) -> bool {
    error.to_string().contains("certificate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_at_commas_and_labels_hide_the_password() {
        let urls = split_urls(" amqp://u:secret@rabbit-0:5672/%2f, amqps://u:secret@rabbit-1/vh ,");
        assert_eq!(urls.len(), 2);
        assert_eq!(node_label(urls[0]), "rabbit-0:5672");
        assert_eq!(node_label(urls[1]), "rabbit-1:5671");
    }

    #[test]
    fn turns_go_round_every_node() {
        let amqp = AmqpSettings {
            url: SecretString::from("amqp://a:5672/%2f,amqp://b:5672/%2f,amqp://c:5672/%2f"),
            ..AmqpSettings::default()
        };
        let nodes = BrokerNodes::new(&amqp).unwrap();
        let mut seen: Vec<String> = (0..3).map(|_| nodes.take_turn().1).collect();
        let after = nodes.take_turn().1;
        assert_eq!(after, seen[0], "the fourth turn is the first node again");
        seen.sort();
        assert_eq!(seen, ["a:5672", "b:5672", "c:5672"]);
    }

    #[test]
    fn a_certificate_without_its_key_is_refused() {
        let amqp = AmqpSettings {
            tls_cert_file: Some("/etc/hostname".into()),
            ..AmqpSettings::default()
        };
        let e = BrokerNodes::new(&amqp).unwrap_err();
        assert_eq!(
            e.to_string(),
            "amqp.tls_cert_file and amqp.tls_key_file go together: set both or neither"
        );
    }
}
