//! The business parameters of one AddFaceRecord call.

use std::sync::Arc;

/// Value of `ProductCode` for face enrollment.
pub const PRODUCT_CODE: &str = "FACE_ENROLL";

/// Where the service reads the face from: exactly one picture parameter.
#[derive(Clone)]
pub enum Picture {
    /// `FacePicture`: the JPEG, base64-encoded once and shared by every attempt.
    Base64(Arc<str>),
    /// `FacePictureUrl`: a public URL the service downloads itself.
    Url(String),
    /// `FacePictureFile`: an object uploaded through the file-stream path.
    File(String),
}

impl Picture {
    /// `FacePicture` for `jpeg`, base64-encoded once for every attempt.
    pub fn inline(jpeg: &[u8]) -> Self {
        use base64::Engine;
        Self::Base64(
            base64::engine::general_purpose::STANDARD
                .encode(jpeg)
                .into(),
        )
    }
}

impl std::fmt::Debug for Picture {
    /// Never prints image data, only its size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Base64(data) => write!(f, "Base64({} chars)", data.len()),
            Self::Url(url) => f.debug_tuple("Url").field(url).finish(),
            Self::File(url) => f.debug_tuple("File").field(url).finish(),
        }
    }
}

/// One face to add to a face group.
#[derive(Debug, Clone)]
pub struct FaceRecordRequest {
    /// `FaceGroupCode`: the group the face joins.
    pub face_group_code: String,
    /// `MerchantUserId`: the caller's own id for the person, if any.
    pub merchant_user_id: Option<String>,
    /// The face image.
    pub picture: Picture,
    /// `FaceQualityCheck`: ask the service to judge quality.
    pub quality_check: bool,
}

impl FaceRecordRequest {
    /// The form parameters, only those that are set, sorted by key.
    pub fn form_params(&self) -> Vec<(&'static str, &str)> {
        let (picture_key, picture) = match &self.picture {
            Picture::Base64(data) => ("FacePicture", &**data),
            Picture::Url(url) => ("FacePictureUrl", url.as_str()),
            Picture::File(url) => ("FacePictureFile", url.as_str()),
        };
        let mut params = vec![
            ("FaceGroupCode", self.face_group_code.as_str()),
            (picture_key, picture),
            (
                "FaceQualityCheck",
                if self.quality_check { "Y" } else { "N" },
            ),
            ("ProductCode", PRODUCT_CODE),
        ];
        if let Some(id) = &self.merchant_user_id {
            params.push(("MerchantUserId", id.as_str()));
        }
        params.sort_unstable();
        params
    }
}
