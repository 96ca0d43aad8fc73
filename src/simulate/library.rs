//! The face library: each group's records, added by a passed AddFaceRecord,
//! listed by QueryFaceRecord, removed by DeleteFaceRecordV2.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::verify::Rejection;
use crate::cloudauth::FaceRecord;

/// What the simulator does with an AddFaceRecord for a user already in the
/// group (the service does not document it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SecondAdd {
    /// Add a second record.
    #[default]
    Add,
    /// Refuse the call with `InvalidParameter`.
    Fail,
}

/// Every group's records.
#[derive(Debug, Default)]
pub struct Library {
    second_add: SecondAdd,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    groups: BTreeMap<String, Vec<FaceRecord>>,
}

impl Library {
    /// An empty library answering a second add as `second_add` says.
    pub fn new(second_add: SecondAdd) -> Self {
        Self {
            second_add,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a record for `user` (empty: none given) to `group`; refused when
    /// the library fails second adds and the user is there.
    pub fn add(&self, group: &str, user: &str) -> Result<FaceRecord, Rejection> {
        let mut state = self.state();
        let present = !user.is_empty()
            && state.groups.get(group).is_some_and(|records| {
                records
                    .iter()
                    .any(|r| r.merchant_user_id.as_deref() == Some(user))
            });
        if present && self.second_add == SecondAdd::Fail {
            return Err(Rejection::new(
                400,
                "InvalidParameter",
                "MerchantUserId already has a face record in this FaceGroupCode.",
            ));
        }
        state.next_id += 1;
        let record = FaceRecord {
            id: 16_000 + state.next_id,
            face_id: Some(format!("face-{:08}", state.next_id)),
            merchant_user_id: (!user.is_empty()).then(|| user.to_owned()),
            gmt_create: Some(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        };
        state
            .groups
            .entry(group.to_owned())
            .or_default()
            .push(record.clone());
        Ok(record)
    }

    /// `group`'s records matching the filters: one page (from 1) of `size`,
    /// and how many match in all.
    pub fn query(
        &self,
        group: &str,
        user: Option<&str>,
        face_id: Option<&str>,
        page: u64,
        size: u64,
    ) -> (Vec<FaceRecord>, u64) {
        let state = self.state();
        let matching: Vec<&FaceRecord> = state
            .groups
            .get(group)
            .into_iter()
            .flatten()
            .filter(|r| user.is_none_or(|u| r.merchant_user_id.as_deref() == Some(u)))
            .filter(|r| face_id.is_none_or(|f| r.face_id.as_deref() == Some(f)))
            .collect();
        let skip =
            usize::try_from(page.saturating_sub(1).saturating_mul(size)).unwrap_or(usize::MAX);
        let take = usize::try_from(size).unwrap_or(usize::MAX);
        let page = matching.iter().skip(skip).take(take).map(|r| (*r).clone());
        (page.collect(), matching.len() as u64)
    }

    /// Removes `user`'s records from `group`, or from every group when
    /// `group` is `None` (as the service does); the groups they were in.
    pub fn delete(&self, group: Option<&str>, user: &str) -> Vec<String> {
        let mut state = self.state();
        let mut from = Vec::new();
        for (code, records) in &mut state.groups {
            if group.is_some_and(|g| g != code) {
                continue;
            }
            let before = records.len();
            records.retain(|r| r.merchant_user_id.as_deref() != Some(user));
            if records.len() < before {
                from.push(code.clone());
            }
        }
        from
    }

    /// Every record of `group`, oldest first.
    pub fn records(&self, group: &str) -> Vec<FaceRecord> {
        self.state().groups.get(group).cloned().unwrap_or_default()
    }
}
