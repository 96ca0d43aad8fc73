//! OSS read natively: GetObject signed V4 with the API's own credentials,
//! and presigned GET URLs for the service to fetch a picture itself.

mod bucket;
pub mod errors;
pub mod sign;

pub use bucket::{BucketPlace, OssBucket, PRESIGNED_FOR};
