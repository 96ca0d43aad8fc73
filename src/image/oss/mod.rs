//! OSS read natively: GetObject signed V4 with the API's own credentials.

pub mod sign;
