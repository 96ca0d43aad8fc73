//! The keys whose signatures the simulator accepts.

use super::issuer::{Issuer, KnownKey};
use super::verify::Rejection;
use crate::cloudauth::Credentials;

/// The keys whose signatures are accepted: the fixed pair, and the
/// temporary ones the simulator's issuer gave out.
pub struct Keys<'a> {
    /// The pair the simulator was started with.
    pub fixed: &'a Credentials,
    /// The issuer, when it serves STS and the metadata service.
    pub issuer: Option<&'a Issuer>,
}

impl Keys<'_> {
    pub(super) fn find(&self, key_id: &str) -> Result<KnownKey, Rejection> {
        if key_id == self.fixed.access_key_id {
            return Ok(KnownKey {
                credentials: self.fixed.clone(),
                expires: None,
            });
        }
        self.issuer.and_then(|i| i.find(key_id)).ok_or_else(|| {
            Rejection::new(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            )
        })
    }
}
