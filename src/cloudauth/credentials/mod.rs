//! The credentials the calls are signed with, found the way the Alibaba Cloud
//! SDKs find them (the default chain: environment, RRSA, profile files, ECS
//! RAM role, credentials URI) and, when temporary, refreshed before they
//! expire.

mod chain;
mod fetch;
mod keyring;
mod pair;
mod profile;

pub use chain::{Env, Source, discover};
pub use fetch::{CredentialsError, Issued};
pub use keyring::Keyring;
pub use pair::{
    ACCESS_KEY_ID_VAR, ACCESS_KEY_SECRET_VAR, Credentials, MissingCredentials, SECURITY_TOKEN_VAR,
};
