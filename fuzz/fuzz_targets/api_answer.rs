//! The API answer parser: JSON, XML, HTML error pages, any status, any
//! `x-acs-retry-after`, read as each action's answer.
#![no_main]

use face_enroll::cloudauth::{Deleted, Enrolled, Records, Reply, Success};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = 100 + u16::from_le_bytes([data[0], data[1]]) % 500;
    let split = usize::from(data[2]).min(data.len() - 3);
    let (header, body) = data[3..].split_at(split);
    let retry_after = std::str::from_utf8(header).ok();
    read::<Enrolled>(status, retry_after, body);
    read::<Records>(status, retry_after, body);
    read::<Deleted>(status, retry_after, body);
});

fn read<T: Success>(status: u16, retry_after: Option<&str>, body: &[u8]) {
    let reply = Reply::<T>::from_http(status, retry_after, body);
    let _ = (reply.code_label(), reply.describe(), reply.retry_reason());
}
