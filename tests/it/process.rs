//! Child processes that cannot outlive a failing test.

use std::process::{Child, Command, ExitStatus};

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
