//! The two signature schemes of Alibaba Cloud RPC APIs, as pure functions.
//!
//! Shared by the client (to sign) and the simulator (to verify), so both sides
//! agree by construction; the conformance vectors in the tests pin them to
//! what the official SDK produces.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::percent;

/// Name of the V3 algorithm, first word of the `Authorization` header.
pub const V3_ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Percent-encodes `value` as both schemes require (`%20` for space, upper-case hex).
pub fn percent_encode(value: &str) -> String {
    let mut out = Vec::with_capacity(value.len() + value.len() / 8);
    percent::encode_into(&mut out, value.as_bytes());
    ascii(out)
}

/// Percent-encoded bytes as a string: they are ASCII by construction.
fn ascii(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("percent-encoding yields ASCII only")
}

/// `key=value` pairs, percent-encoded, sorted by key and joined by `&`.
///
/// Used for the V1 canonical string and for the form body on the wire.
pub fn canonical_query<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = params.into_iter().collect();
    pairs.sort_unstable();
    let size: usize = pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut out = Vec::with_capacity(size + size / 8);
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push(b'&');
        }
        percent::encode_into(&mut out, key.as_bytes());
        out.push(b'=');
        percent::encode_into(&mut out, value.as_bytes());
    }
    ascii(out)
}

/// V1 string to sign: `METHOD&%2F&` + percentEncode(canonical query).
pub fn v1_string_to_sign<'a>(
    method: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    format!("{method}&%2F&{}", percent_encode(&canonical_query(params)))
}

/// V1 signature: Base64(HMAC-SHA1(secret + "&", string_to_sign)).
pub fn v1_signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = <Hmac<Sha1>>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The V1 signature of `params`, the same as
/// `v1_signature(secret, &v1_string_to_sign(method, params))` but fed to the
/// HMAC piece by piece: a 10 MB picture is never copied twice more.
pub fn v1_sign<'a>(
    secret: &str,
    method: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut pairs: Vec<(&str, &str)> = params.into_iter().collect();
    pairs.sort_unstable();
    let mut mac = <Hmac<Sha1>>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(method.as_bytes());
    mac.update(b"&%2F&");
    for (n, (key, value)) in pairs.into_iter().enumerate() {
        if n > 0 {
            mac.update(b"%26");
        }
        update_encoded_twice(&mut mac, key);
        mac.update(b"%3D");
        update_encoded_twice(&mut mac, value);
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Feeds `percentEncode(percentEncode(text))` to the HMAC without building it.
fn update_encoded_twice(mac: &mut Hmac<Sha1>, text: &str) {
    percent::encode_twice(text.as_bytes(), |chunk| mac.update(chunk));
}

/// Lower-case hex SHA-256 of `bytes`, as `x-acs-content-sha256` carries.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What a V3 signature covers.
#[derive(Debug, Clone, Copy)]
pub struct V3Request<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// Path, `/` for RPC APIs.
    pub path: &'a str,
    /// Query parameters, decoded (empty for AddFaceRecord).
    pub query: &'a [(&'a str, &'a str)],
    /// Signed headers: lower-case names and their values.
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the body.
    pub body_sha256: &'a str,
}

impl V3Request<'_> {
    /// Names of the signed headers, sorted and joined by `;`.
    pub fn signed_headers(&self) -> String {
        let mut names: Vec<&str> = self.headers.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names.join(";")
    }

    /// The canonical request the signature is computed over.
    pub fn canonical_request(&self) -> String {
        let mut headers: Vec<&(&str, &str)> = self.headers.iter().collect();
        headers.sort_unstable_by_key(|(name, _)| *name);
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.method,
            self.path,
            canonical_query(self.query.iter().copied())
        );
        for (name, value) in headers {
            out.push_str(name);
            out.push(':');
            out.push_str(value.trim());
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.signed_headers());
        out.push('\n');
        out.push_str(self.body_sha256);
        out
    }

    /// Hex HMAC-SHA256 signature with the secret as key (no `&`).
    pub fn signature(&self, secret: &str) -> String {
        let hashed = sha256_hex(self.canonical_request().as_bytes());
        let string_to_sign = format!("{V3_ALGORITHM}\n{hashed}");
        let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(string_to_sign.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The `Authorization` header value.
    pub fn authorization(&self, access_key_id: &str, secret: &str) -> String {
        format!(
            "{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={},Signature={}",
            self.signed_headers(),
            self.signature(secret)
        )
    }
}

/// A fresh 32-character lower-case hex nonce.
pub fn nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;
