//! Child processes that cannot outlive a failing test.

use std::process::{Child, Command, ExitStatus};

use crate::helpers::{KEY_ID, SECRET};

/// The `face-enroll` binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_face-enroll");

/// The binary with `args`, a clean environment, the test credentials, and
/// the repository as working directory (for `samples/`).
pub fn face_enroll(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        // Never the real metadata service, whatever a test takes away.
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .env("FACE_ENROLL_LOG__LEVEL", "warn")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// `face-enroll worker` on `settings`' queue names, calling `sim_url`, with
/// loopback image hosts allowed and its metrics on a free port.
pub fn worker(settings: &face_enroll::config::Settings, sim_url: &str) -> Command {
    let mut command = face_enroll(&["worker"]);
    command
        .envs(settings.amqp.name_vars())
        .env("FACE_ENROLL_API__ENDPOINT", sim_url)
        .env("FACE_ENROLL_METRICS__LISTEN", "127.0.0.1:0")
        .env("FACE_ENROLL_IMAGE__ALLOW_PRIVATE_NETWORKS", "true");
    command
}

/// A child process, killed when dropped unless it was taken back.
pub struct Running(Option<Child>);

impl Running {
    pub fn new(child: Child) -> Self {
        Self(Some(child))
    }

    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// Sends SIGTERM, as Kubernetes stops a pod.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        let mut child = self.0.take()?;
        let _ = child.kill();
        child.wait().ok()
    }

    /// Hands the process back, to wait for it and read its output.
    pub fn into_child(mut self) -> Child {
        self.0.take().expect("a running child")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}
