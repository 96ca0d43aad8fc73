//! What each action answers when its `Code` is `Success`, one type per
//! action, so the answer of a delete can never be taken for an enrollment's.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The part of a successful answer an action is called for.
pub trait Success: Sized {
    /// What the answer must hold, named in the error when it does not.
    const WHAT: &'static str;

    /// Reads it from the answer's JSON; `None` when it is not there.
    fn read(body: &[u8]) -> Option<Self>;
}

impl Success for () {
    const WHAT: &'static str = "anything";

    fn read(_: &[u8]) -> Option<Self> {
        Some(())
    }
}

/// AddFaceRecord's verdict on the face; serialized as the service wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolled {
    /// `Result.Passed` was `Y`: the face was added.
    pub passed: bool,
    /// `Result.ExtFaceInfo`, parsed as JSON, or the raw string when not JSON.
    pub ext_face_info: Option<Value>,
}

impl Enrolled {
    /// `faceQuality` of `ExtFaceInfo`, when present.
    pub fn face_quality(&self) -> Option<&str> {
        self.ext_face_info.as_ref()?.get("faceQuality")?.as_str()
    }
}

impl Serialize for Enrolled {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({"Result": {
            "Passed": yes_no(self.passed),
            "ExtFaceInfo": self.ext_face_info,
        }})
        .serialize(serializer)
    }
}

/// `Y` or `N`, as the service writes a flag.
fn yes_no(flag: bool) -> &'static str {
    if flag { "Y" } else { "N" }
}

impl Success for Enrolled {
    const WHAT: &'static str = "Result.Passed";

    fn read(body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Verdict {
            passed: String,
            ext_face_info: Option<String>,
        }
        let verdict: Verdict = result_of(body)?;
        let ext_face_info = verdict
            .ext_face_info
            .map(|raw| serde_json::from_str(&raw).unwrap_or(Value::String(raw)));
        Some(Self {
            passed: flag(&verdict.passed)?,
            ext_face_info,
        })
    }
}

/// One face record of a group, as QueryFaceRecord lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FaceRecord {
    /// The record's primary key.
    pub id: u64,
    /// The service's id of the face.
    #[serde(default)]
    pub face_id: Option<String>,
    /// The caller's id for the person.
    #[serde(default)]
    pub merchant_user_id: Option<String>,
    /// When the record was added (UTC, RFC 3339).
    #[serde(default)]
    pub gmt_create: Option<String>,
}

/// One page of QueryFaceRecord (serialized as the service wrote it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Records {
    /// The records of this page (none when the answer lists none).
    #[serde(default)]
    pub items: Vec<FaceRecord>,
    /// Records matching the query, on every page.
    #[serde(default)]
    pub total_count: u64,
}

impl Success for Records {
    const WHAT: &'static str = "Items";

    fn read(body: &[u8]) -> Option<Self> {
        serde_json::from_slice(body).ok()
    }
}

/// DeleteFaceRecordV2's answer; serialized as the service wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    /// `Result.Deleted` was `Y`: a record was removed.
    pub deleted: bool,
}

impl Serialize for Deleted {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({"Result": {"Deleted": yes_no(self.deleted)}}).serialize(serializer)
    }
}

impl Success for Deleted {
    const WHAT: &'static str = "Result.Deleted";

    fn read(body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Deletion {
            deleted: String,
        }
        let deletion: Deletion = result_of(body)?;
        Some(Self {
            deleted: flag(&deletion.deleted)?,
        })
    }
}

/// The `Result` object of an answer.
fn result_of<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Wire<T> {
        result: T,
    }
    serde_json::from_slice::<Wire<T>>(body)
        .ok()
        .map(|wire| wire.result)
}

/// A `Y`/`N` flag of the service.
fn flag(text: &str) -> Option<bool> {
    match text {
        "Y" => Some(true),
        "N" => Some(false),
        _ => None,
    }
}
