//! The API answer parser: JSON, XML, HTML error pages, any status, any
//! `x-acs-retry-after`.
#![no_main]

use face_enroll::cloudauth::Reply;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = 100 + u16::from_le_bytes([data[0], data[1]]) % 500;
    let split = usize::from(data[2]).min(data.len() - 3);
    let (header, body) = data[3..].split_at(split);
    let retry_after = std::str::from_utf8(header).ok();
    let reply = Reply::from_http(status, retry_after, body);
    let _ = (
        reply.code_label(),
        reply.describe(),
        reply.ext_face_info(),
        reply.retry_reason(),
    );
});
