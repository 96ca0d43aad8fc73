//! The job's validated fields: newtypes that cannot hold an invalid value.

/// Largest `metadata` accepted, as compact JSON bytes.
pub const MAX_METADATA_BYTES: usize = 8 * 1024;

/// The idempotency key: 1 to 128 characters of `[A-Za-z0-9._:-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobId(String);

/// The face group: non-empty, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceGroupCode(String);

/// The caller's id for the person: 1 to 32 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantUserId(String);

macro_rules! text_newtype {
    ($name:ident) => {
        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
text_newtype!(JobId);
text_newtype!(FaceGroupCode);
text_newtype!(MerchantUserId);

impl JobId {
    /// Validates a job id.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
        if (1..=128).contains(&text.len()) && text.chars().all(ok_char) {
            Ok(Self(text.to_owned()))
        } else {
            Err("job_id must be 1 to 128 characters of A-Z a-z 0-9 . _ : -".into())
        }
    }
}

impl FaceGroupCode {
    /// Validates a face group code.
    pub fn parse(text: &str) -> Result<Self, String> {
        if (1..=64).contains(&text.chars().count()) {
            Ok(Self(text.to_owned()))
        } else {
            Err("face_group_code must be 1 to 64 characters".into())
        }
    }
}

impl MerchantUserId {
    /// Validates a merchant user id.
    pub fn parse(text: &str) -> Result<Self, String> {
        if (1..=32).contains(&text.chars().count()) {
            Ok(Self(text.to_owned()))
        } else {
            Err("merchant_user_id must be 1 to 32 characters".into())
        }
    }
}
