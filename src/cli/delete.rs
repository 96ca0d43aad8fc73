//! `face-enroll delete`: one DeleteFaceRecordV2 call without a queue.

use std::process::ExitCode;

use face_enroll::cloudauth::{Client, Keyring, RecordDeletion};
use face_enroll::config::Settings;
use face_enroll::retry::RetryPolicy;

/// Remove a user's face records from one group (DeleteFaceRecordV2) and
/// print the service's answer as JSON.
///
/// The group is always sent: without it the service would remove the user
/// from every group. `result.deleted` is false when the user had no record
/// there. Exits 0 only when the answer's Code is Success.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Face group to remove the user from (FaceGroupCode).
    #[arg(long)]
    group: String,
    /// The user whose records are removed (MerchantUserId).
    #[arg(long)]
    merchant_user_id: String,
}

pub async fn run(args: Args, settings: Settings) -> anyhow::Result<ExitCode> {
    let credentials = Keyring::discover(&settings.credentials, None).await?;
    let client = Client::new(&settings.api, credentials)?;
    let policy = RetryPolicy::new(&settings.retry);
    let deletion = RecordDeletion {
        face_group_code: args.group,
        merchant_user_id: args.merchant_user_id,
    };
    let (reply, calls) =
        super::answer::call(&policy, || client.delete_face_record(&deletion)).await;
    super::answer::print(&reply, calls, &client)
}
