//! The calls the worker makes and the business parameters of each.

use std::sync::Arc;

/// Value of `ProductCode` for face enrollment.
pub const PRODUCT_CODE: &str = "FACE_ENROLL";
/// Records asked for per QueryFaceRecord page when checking one user.
pub const PAGE_SIZE: u32 = 10;

/// Every call the worker makes, by its name on the wire (also the `action`
/// label of `face_enroll_api_requests_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiAction {
    /// Adds a face to a group.
    AddFaceRecord,
    /// Lists a group's records.
    QueryFaceRecord,
    /// Removes a user's records from a group.
    DeleteFaceRecordV2,
    /// OpenPlatform's grant for the file-stream upload.
    AuthorizeFileUpload,
}

impl ApiAction {
    /// Every action, for series exported at zero from the start.
    pub const ALL: [Self; 4] = [
        Self::AddFaceRecord,
        Self::QueryFaceRecord,
        Self::DeleteFaceRecordV2,
        Self::AuthorizeFileUpload,
    ];

    /// The action's name, as sent and as labelled.
    pub fn name(self) -> &'static str {
        match self {
            Self::AddFaceRecord => "AddFaceRecord",
            Self::QueryFaceRecord => "QueryFaceRecord",
            Self::DeleteFaceRecordV2 => "DeleteFaceRecordV2",
            Self::AuthorizeFileUpload => "AuthorizeFileUpload",
        }
    }
}

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

/// QueryFaceRecord: one page of a group's records, of one user when given.
#[derive(Debug, Clone)]
pub struct RecordQuery {
    /// `FaceGroupCode`.
    pub face_group_code: String,
    /// `MerchantUserId`, the filter.
    pub merchant_user_id: Option<String>,
    /// `CurrentPage`, from 1.
    pub page: u32,
    /// `PageSize`.
    pub page_size: u32,
}

impl RecordQuery {
    /// The first page of `user`'s records in `group`: enough to tell whether
    /// there are any.
    pub fn user(group: &str, user: &str) -> Self {
        Self {
            face_group_code: group.to_owned(),
            merchant_user_id: Some(user.to_owned()),
            page: 1,
            page_size: PAGE_SIZE,
        }
    }

    /// The query parameters, those that are set.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![
            ("CurrentPage", self.page.to_string()),
            ("FaceGroupCode", self.face_group_code.clone()),
            ("PageSize", self.page_size.to_string()),
        ];
        if let Some(user) = &self.merchant_user_id {
            params.push(("MerchantUserId", user.clone()));
        }
        params
    }
}

/// DeleteFaceRecordV2: a user's records in one group (never without the
/// group, which would delete the user from every group).
#[derive(Debug, Clone)]
pub struct RecordDeletion {
    /// `FaceGroupCode`.
    pub face_group_code: String,
    /// `MerchantUserId`.
    pub merchant_user_id: String,
}

impl RecordDeletion {
    /// The query parameters.
    pub fn params(&self) -> [(&'static str, &str); 2] {
        [
            ("FaceGroupCode", self.face_group_code.as_str()),
            ("MerchantUserId", self.merchant_user_id.as_str()),
        ]
    }
}
