//! The HTTP edge decides what a client sees for each error: a status, a stable code and the
//! service's sentence. Internal details are logged here, once, and never sent.

use crate::service::Error;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffer_api::{ErrorBody, ErrorDetail};

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<crate::domain::ParseError> for ApiError {
    fn from(e: crate::domain::ParseError) -> Self {
        ApiError(e.into())
    }
}

/// Builds an error response directly (extractor rejections, middleware).
pub fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.into(),
            message: message.into(),
        },
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self.0 {
            Error::InvalidInput(_) => (StatusCode::BAD_REQUEST, "invalid_input"),
            Error::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Error::ProofRequired { code, .. } => (StatusCode::FORBIDDEN, *code),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::AlreadyExists(_) => (StatusCode::CONFLICT, "already_exists"),
            Error::VersionConflict { .. } => (StatusCode::CONFLICT, "version_conflict"),
            Error::SecretDeleted(_) => (StatusCode::CONFLICT, "secret_deleted"),
            Error::Gone(_) => (StatusCode::GONE, "secret_unavailable"),
            Error::UploadExpired(_) => (StatusCode::GONE, "upload_expired"),
            Error::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Error::Suspended(_) => (StatusCode::LOCKED, "org_suspended"),
            Error::Conflict { code, .. } => (StatusCode::CONFLICT, *code),
            Error::Rejected { code, .. } => (StatusCode::BAD_REQUEST, *code),
            Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Error::Integrity(_) => (StatusCode::INTERNAL_SERVER_ERROR, "integrity_error"),
            Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = match &self.0 {
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error; the server log has the details".to_owned()
            }
            Error::Integrity(m) => {
                tracing::error!(detail = %m, "integrity check failed");
                m.clone()
            }
            other => other.to_string(),
        };
        let mut response = error_response(status, code, message);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
