//! The pictures the simulator accepted, kept for tests to look at (what the
//! service would have enrolled), the oldest dropped past a bound.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::body::Bytes;

/// Bytes of pictures kept at most.
const KEPT_BYTES: usize = 256 << 20;

/// One accepted picture.
#[derive(Debug, Clone)]
pub struct ReceivedPicture {
    /// The call's `MerchantUserId` (empty when not given).
    pub merchant_user_id: String,
    /// `FacePicture` (inline), `FacePictureFile` (uploaded) or
    /// `FacePictureUrl` (a presigned URL of the simulator's OSS).
    pub parameter: &'static str,
    /// The JPEG.
    pub jpeg: Bytes,
}

/// The last accepted pictures.
#[derive(Debug, Default)]
pub struct Received {
    pictures: Mutex<(VecDeque<ReceivedPicture>, usize)>,
    /// The last `FacePictureUrl`s accepted, newest last.
    urls: Mutex<VecDeque<String>>,
}

/// `FacePictureUrl`s kept.
const KEPT_URLS: usize = 1024;

impl Received {
    /// Keeps a `FacePictureUrl` accepted.
    pub fn keep_url(&self, url: &str) {
        let mut urls = self.urls.lock().unwrap_or_else(|e| e.into_inner());
        urls.push_back(url.to_owned());
        if urls.len() > KEPT_URLS {
            urls.pop_front();
        }
    }

    /// The `FacePictureUrl`s kept, oldest first.
    pub fn urls(&self) -> Vec<String> {
        let urls = self.urls.lock().unwrap_or_else(|e| e.into_inner());
        urls.iter().cloned().collect()
    }

    /// Keeps `picture`.
    pub fn keep(&self, picture: ReceivedPicture) {
        let mut guard = self.pictures.lock().unwrap_or_else(|e| e.into_inner());
        let (pictures, bytes) = &mut *guard;
        *bytes += picture.jpeg.len();
        pictures.push_back(picture);
        while *bytes > KEPT_BYTES {
            match pictures.pop_front() {
                Some(gone) => *bytes -= gone.jpeg.len(),
                None => break,
            }
        }
    }

    /// The pictures kept, oldest first.
    pub fn all(&self) -> Vec<ReceivedPicture> {
        let guard = self.pictures.lock().unwrap_or_else(|e| e.into_inner());
        guard.0.iter().cloned().collect()
    }
}
