//! The credentials in use: fixed ones as given, temporary ones refreshed in
//! the background ahead of expiry (15 minutes ahead of an hour's, half the
//! lifetime of shorter ones), without pausing calls. A failed refresh keeps
//! the old ones until they really expire and tries again with backoff; once
//! they have expired, [`Keyring::current`] has none (calls wait, readiness
//! turns false) until a refresh succeeds.
//!
//! An issuer that misbehaves cannot make it spin: refreshes are at least a
//! floor apart ([`FLOOR`], or a quarter of the life of credentials shorter
//! than two minutes), an answer already expired (or expiring within the
//! floor) counts as a failed refresh, and credentials without an expiry from an
//! issuer (a credentials URI) are asked for again every [`AHEAD`]. A short
//! outage of the issuer at start is waited out for [`START_WITHIN`].

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;

use super::chain::{self, Env, Source};
use super::fetch::{CredentialsError, Issued};
use super::pair::Credentials;
use crate::config::CredentialsSettings;
use crate::retry::Backoff;
use crate::telemetry::Metrics;

/// Refreshed this long before expiry at most (an hour's credentials: 45 min in).
const AHEAD: Duration = Duration::from_secs(15 * 60);
/// Credentials this close to expiry are not used to sign a call, so that no
/// call arrives with expired ones.
const MARGIN: Duration = Duration::from_secs(1);
/// The least time between two refreshes; also the least life an issued
/// pair must have left to be taken. Credentials living less than four
/// times this (only tests issue such) get a quarter of their life.
pub const FLOOR: Duration = Duration::from_secs(30);
/// The floor of credentials living a few seconds.
const MIN_FLOOR: Duration = Duration::from_secs(1);
/// How long an issuer that cannot be reached at start is tried again.
pub const START_WITHIN: Duration = Duration::from_secs(30);
/// Waits between failed refreshes.
const RETRY: Backoff = Backoff {
    first: Duration::from_millis(500),
    max: Duration::from_secs(30),
};

/// The credentials in use, shared by every call of the process.
#[derive(Clone, Debug)]
pub struct Keyring {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The chain's provider, for `check` and the logs.
    provider: &'static str,
    /// The latest credentials issued.
    current: RwLock<Issued>,
    /// Wakes calls waiting for valid credentials after a refresh.
    refreshed: Notify,
}

impl From<Credentials> for Keyring {
    fn from(credentials: Credentials) -> Self {
        Self::new(
            "given",
            Issued {
                credentials,
                expires: None,
            },
        )
    }
}

impl Keyring {
    fn new(provider: &'static str, issued: Issued) -> Self {
        Self {
            inner: Arc::new(Inner {
                provider,
                current: RwLock::new(issued),
                refreshed: Notify::new(),
            }),
        }
    }

    /// Walks the default chain of this process's environment and, for
    /// temporary credentials, starts refreshing them.
    pub async fn discover(
        settings: &CredentialsSettings,
        metrics: Option<Metrics>,
    ) -> Result<Self, CredentialsError> {
        Self::discover_in(&Env::process(), settings, metrics).await
    }

    /// As [`discover`](Self::discover), in the environment `env`.
    pub async fn discover_in(
        env: &Env,
        settings: &CredentialsSettings,
        metrics: Option<Metrics>,
    ) -> Result<Self, CredentialsError> {
        let http = reqwest::Client::builder()
            .user_agent(crate::USER_AGENT)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            // An issuer's redirect is not followed: the token and the
            // role's credentials go only where they were configured to.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| CredentialsError::Unavailable {
                provider: "credentials",
                detail: format!("the HTTP client could not be built: {e}"),
            })?;
        let started = tokio::time::Instant::now();
        let mut failures = 0;
        let (source, issued) = loop {
            match chain::discover(env, settings, &http).await {
                Err(e @ CredentialsError::Unavailable { .. })
                    if started.elapsed() < START_WITHIN =>
                {
                    if failures == 0 {
                        tracing::warn!(error = %e, "the credentials' issuer cannot be reached yet; trying again");
                    }
                    tokio::time::sleep(RETRY.jittered(failures)).await;
                    failures += 1;
                }
                found => break found?,
            }
        };
        Ok(Self::start(source, issued, settings.clone(), http, metrics))
    }

    /// Holds `issued` from `source`, refreshing it in the background when it
    /// expires (the task ends with the last clone of the keyring).
    pub fn start(
        source: Source,
        issued: Issued,
        settings: CredentialsSettings,
        http: reqwest::Client,
        metrics: Option<Metrics>,
    ) -> Self {
        // Anything an issuer gave is asked for again, with an expiry or not.
        let issued_again = !matches!(source, Source::Fixed { .. });
        let keyring = Self::new(source.provider(), issued);
        if issued_again {
            let refresher = Refresher {
                keyring: Arc::downgrade(&keyring.inner),
                source,
                settings,
                http,
                metrics,
            };
            tokio::spawn(refresher.run());
        }
        keyring
    }

    /// The provider that found the credentials (never the key itself).
    pub fn provider(&self) -> &'static str {
        self.inner.provider
    }

    /// Credentials valid now, or `None` once they have expired.
    pub fn current(&self) -> Option<Credentials> {
        let issued = self.inner.read();
        usable(issued.expires).then(|| issued.credentials.clone())
    }

    /// Whether calls can be signed now.
    pub fn is_valid(&self) -> bool {
        usable(self.inner.read().expires)
    }

    /// Waits until calls can be signed.
    pub async fn valid(&self) {
        loop {
            let refreshed = self.inner.refreshed.notified();
            if self.is_valid() {
                return;
            }
            // A refresh wakes us; the timeout only guards against a lost wake-up.
            let _ = tokio::time::timeout(Duration::from_secs(1), refreshed).await;
        }
    }
}

impl Inner {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Issued> {
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }
}

fn usable(expires: Option<SystemTime>) -> bool {
    expires.is_none_or(|at| SystemTime::now() + MARGIN < at)
}

/// The background task that renews temporary credentials.
struct Refresher {
    /// Ends the task once every keyring clone is gone.
    keyring: Weak<Inner>,
    source: Source,
    settings: CredentialsSettings,
    http: reqwest::Client,
    metrics: Option<Metrics>,
}

impl Refresher {
    async fn run(self) {
        let mut last: Option<tokio::time::Instant> = None;
        let mut floor = None;
        loop {
            let Some(expires) = self.keyring.upgrade().map(|k| k.read().expires) else {
                return;
            };
            // The floor never shrinks: an issuer giving the same expiry again
            // and again is not asked faster as that expiry nears.
            let floor = *floor.get_or_insert_with(|| floor_for(expires));
            let mut wait = expires.map_or(AHEAD, |at| refresh_in(at, SystemTime::now()));
            if let Some(last) = last {
                wait = wait.max(floor.saturating_sub(last.elapsed()));
            }
            tokio::time::sleep(wait).await;
            if !self.renew(expires, floor).await {
                return;
            }
            last = Some(tokio::time::Instant::now());
        }
    }

    /// Fetches until it gives credentials that live longer than `floor`;
    /// `false` when the keyring is gone.
    async fn renew(&self, old_expiry: Option<SystemTime>, floor: Duration) -> bool {
        let mut failures: u32 = 0;
        let mut told_expired = false;
        loop {
            let result = self
                .source
                .fetch(&self.http, &self.settings)
                .await
                .and_then(|issued| fresh(issued, floor, self.source.provider()));
            if let Some(metrics) = &self.metrics {
                metrics.credentials_refreshed(result.is_ok());
            }
            let Some(keyring) = self.keyring.upgrade() else {
                return false;
            };
            match result {
                Ok(issued) => {
                    if failures > 0 {
                        tracing::info!(provider = keyring.provider, "credentials refreshed again");
                    }
                    *keyring.current.write().unwrap_or_else(|e| e.into_inner()) = issued;
                    keyring.refreshed.notify_waiters();
                    return true;
                }
                Err(e) => {
                    if failures == 0 {
                        tracing::warn!(error = %e, provider = keyring.provider, "cannot refresh the credentials; the current ones serve until they expire");
                    }
                    if !told_expired && !usable(old_expiry) {
                        told_expired = true;
                        tracing::error!(
                            provider = keyring.provider,
                            "the credentials have expired; calls wait for a refresh"
                        );
                    }
                }
            }
            drop(self.keyring.upgrade());
            tokio::time::sleep(RETRY.jittered(failures)).await;
            failures = failures.saturating_add(1);
        }
    }
}

/// The refresh floor of credentials expiring at `expires`: [`FLOOR`], or a
/// quarter of a shorter life (at least [`MIN_FLOOR`]).
fn floor_for(expires: Option<SystemTime>) -> Duration {
    expires
        .and_then(|at| at.duration_since(SystemTime::now()).ok())
        .map_or(FLOOR, |life| (life / 4).clamp(MIN_FLOOR, FLOOR))
}

/// `issued`, unless it expires within `floor`: an issuer handing out
/// credentials already expired (or about to) has failed, and is asked again
/// after a backoff rather than at once.
fn fresh(
    issued: Issued,
    floor: Duration,
    provider: &'static str,
) -> Result<Issued, CredentialsError> {
    match issued.expires {
        Some(at) if at <= SystemTime::now() + floor => Err(CredentialsError::Unavailable {
            provider,
            detail: format!("the credentials given expire within {floor:?}"),
        }),
        _ => Ok(issued),
    }
}

/// How long until credentials expiring at `expires` are refreshed: 15
/// minutes ahead, or half their remaining life when that is shorter.
fn refresh_in(expires: SystemTime, now: SystemTime) -> Duration {
    let left = expires.duration_since(now).unwrap_or_default();
    left - AHEAD.min(left / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hours_credentials_are_refreshed_fifteen_minutes_ahead() {
        let now = SystemTime::now();
        let hour = now + Duration::from_secs(3600);
        assert_eq!(refresh_in(hour, now), Duration::from_secs(45 * 60));
    }

    #[test]
    fn short_lived_credentials_are_refreshed_at_half_their_life() {
        let now = SystemTime::now();
        assert_eq!(
            refresh_in(now + Duration::from_secs(20), now),
            Duration::from_secs(10)
        );
        assert_eq!(
            refresh_in(now - Duration::from_secs(1), now),
            Duration::ZERO
        );
    }

    /// A credentials URI that gave no `Expiration` is asked again after
    /// [`AHEAD`], not never: the pair it serves may be rotated behind it.
    #[tokio::test(start_paused = true)]
    async fn credentials_without_an_expiry_are_asked_for_again() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let uri = format!("http://{}/credentials", listener.local_addr().unwrap());
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        std::thread::spawn(move || {
            // Counting connections is enough: the refresh was attempted.
            for stream in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        let issued = Issued {
            credentials: Credentials::new("id", "secret"),
            expires: None,
        };
        let keyring = Keyring::start(
            Source::Uri(uri),
            issued,
            CredentialsSettings::default(),
            reqwest::Client::new(),
            None,
        );
        tokio::time::sleep(AHEAD - Duration::from_secs(1)).await;
        assert_eq!(asked.load(Ordering::SeqCst), 0, "asked before {AHEAD:?}");
        // Virtual time runs on while the server's thread counts in real time.
        for _ in 0..500 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if asked.load(Ordering::SeqCst) > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            asked.load(Ordering::SeqCst) > 0,
            "the URI was not asked again after {AHEAD:?}"
        );
        assert!(keyring.is_valid(), "the pair in hand still serves");
    }

    #[test]
    fn expired_credentials_are_not_handed_out() {
        let keyring = Keyring::new(
            "test",
            Issued {
                credentials: Credentials::new("id", "secret"),
                expires: Some(SystemTime::now() - Duration::from_secs(1)),
            },
        );
        assert!(keyring.current().is_none());
        assert!(!keyring.is_valid());
        let fixed = Keyring::from(Credentials::new("id", "secret"));
        assert_eq!(
            fixed.current().map(|c| c.access_key_id),
            Some("id".to_owned())
        );
    }
}
