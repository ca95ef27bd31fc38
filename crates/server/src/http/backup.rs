//! `POST /api/v1/admin/backup`: the operator's backup of an embedded deployment, streamed as
//! `application/octet-stream` (a tar archive, layout in [`crate::backup`]). Thin like every
//! handler: the service authorizes and takes the snapshot before anything is sent, so every
//! refusal is an ordinary error status (403 for anyone but the operator, 409 on PostgreSQL);
//! after the 200 the body streams, and a failure part-way breaks the transfer instead of ending
//! it cleanly. `X-Coffer-Backup-Size` says how long the body will be, for progress bars.

use super::AppState;
use super::error::ApiError;
use super::extract::Caller;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use coffer_api as api;
use std::sync::Arc;

/// The header carrying the archive's expected length in bytes.
pub const SIZE_HEADER: &str = "x-coffer-backup-size";

#[utoipa::path(post, path = "/api/v1/admin/backup",
    responses(
        (status = 200, description = "The archive: a tar stream (manifest.json, catalog.db, master.key, blobs/…) holding the deployment's root key. Encrypt it as it arrives (`coffer backup` does, with age).",
            content_type = "application/octet-stream", body = Vec<u8>,
            headers(("x-coffer-backup-size" = u64, description = "The body's expected length in bytes (for progress; the body is not sent with Content-Length)"))),
        (status = 403, description = "Only the deployment's operator takes backups.", body = api::ErrorBody),
        (status = 409, description = "The catalog is PostgreSQL (`backup_not_supported`): back it up with pg_dump and the bucket (docs/operations.md).", body = api::ErrorBody)))]
pub async fn backup(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
) -> Result<Response, ApiError> {
    let archive = s.coffer.backup(&actor).await?;
    let size = archive.expected_len();
    let mut response = Body::from_stream(archive.into_stream()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(SIZE_HEADER, HeaderValue::from(size));
    Ok(response)
}
