//! `face-enroll records`: a group's face records, without a queue.

use std::process::ExitCode;

use face_enroll::cloudauth::{Client, Disposition, Keyring, RecordQuery, Records};
use face_enroll::config::Settings;
use face_enroll::retry::RetryPolicy;

/// Records asked for per page.
const PAGE_SIZE: u32 = 100;
/// Pages read at most: 100,000 records.
const MAX_PAGES: u32 = 1000;

/// List a group's face records (QueryFaceRecord), or one user's, and print
/// them as JSON.
///
/// Reads every page. Exits 0 only when every page's Code is Success.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Face group to list (FaceGroupCode).
    #[arg(long)]
    group: String,
    /// Only this user's records (MerchantUserId).
    #[arg(long)]
    merchant_user_id: Option<String>,
}

pub async fn run(args: Args, settings: Settings) -> anyhow::Result<ExitCode> {
    let credentials = Keyring::discover(&settings.credentials, None).await?;
    let client = Client::new(&settings.api, credentials)?;
    let policy = RetryPolicy::new(&settings.retry);
    let mut all = Records::default();
    let mut calls = 0;
    for page in 1..=MAX_PAGES {
        let query = RecordQuery {
            face_group_code: args.group.clone(),
            merchant_user_id: args.merchant_user_id.clone(),
            page,
            page_size: PAGE_SIZE,
        };
        let (reply, made) =
            super::answer::call(&policy, || client.query_face_records(&query)).await;
        calls += made;
        let Disposition::Success(records) = reply.disposition else {
            return super::answer::print(&reply, calls, &client);
        };
        all.total_count = records.total_count;
        let last = records.items.len() < PAGE_SIZE as usize;
        all.items.extend(records.items);
        if last || all.items.len() as u64 >= all.total_count {
            let done = face_enroll::cloudauth::Reply {
                disposition: Disposition::Success(all),
                ..reply
            };
            return super::answer::print(&done, calls, &client);
        }
    }
    anyhow::bail!(
        "the group has more than {} records: not all were read",
        MAX_PAGES * PAGE_SIZE
    )
}
