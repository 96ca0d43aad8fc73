//! The local broker as root sees it: `rabbitmqctl`, and vhosts of a test's
//! own whose connections can be closed or refused.

use std::process::Command;

pub use face_enroll_fixtures::broker::rabbitmqctl;

use crate::stack::unique;

/// A vhost of its own, deleted on drop.
pub struct Vhost(pub String);

impl Vhost {
    /// A new vhost named after `name`, open to the test user.
    pub fn new(name: &str) -> Self {
        let vhost = unique(name);
        rabbitmqctl(&["add_vhost", &vhost]);
        let vhost = Self(vhost);
        vhost.refuse_connections(false);
        vhost
    }

    /// The AMQP URL of the vhost as the test user.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.0)
    }

    /// Refuses the test user's new connections to the vhost (`true`) or lets
    /// them in again, as a broker that is still out of reach would.
    pub fn refuse_connections(&self, refuse: bool) {
        if refuse {
            rabbitmqctl(&["clear_permissions", "-p", &self.0, "guest"]);
        } else {
            rabbitmqctl(&["set_permissions", "-p", &self.0, "guest", ".*", ".*", ".*"]);
        }
    }

    /// Closes every connection to the vhost, as a broker restart would.
    pub fn close_all_connections(&self) {
        rabbitmqctl(&[
            "close_all_connections",
            "--vhost",
            &self.0,
            "closed by a test",
        ]);
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.0])
            .output();
    }
}
