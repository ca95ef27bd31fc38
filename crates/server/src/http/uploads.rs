//! Client-side uploads and presigned envelope downloads over HTTP: thin handlers for
//! `POST …/secrets/{scope}/{name}/uploads` (grant), `PUT …/uploads/{id}/envelope` (Coffer's own
//! upload target for the default store; raw envelope bytes, capped by the body limit),
//! `POST …/uploads/{id}/commit` and `POST …/versions/{n}/envelope-url`. The checks live in the
//! service (`service/secrets/uploads.rs`); this file parses, calls it and converts. The data key leaves
//! only in the grant's JSON (base64) and is wiped from this process's copy.

use super::error::ApiError;
use super::extract::{Body, Caller, Path};
use super::secrets::SecretPath;
use super::{AppState, B64, convert};
use crate::domain::{OrgSlug, Scope, SecretName, Timestamp, UploadId};
use crate::service::{Error, NewUpload};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use coffer_api as api;
use std::sync::Arc;

type R<T> = Result<T, ApiError>;

/// Path of one upload.
#[derive(serde::Deserialize)]
pub struct UploadPath {
    org: String,
    id: String,
}

impl UploadPath {
    fn parse(&self) -> Result<(OrgSlug, UploadId), ApiError> {
        let id = uuid::Uuid::parse_str(&self.id).map_err(|_| {
            Error::InvalidInput(format!("`{}` is not an upload id (a UUID)", self.id))
        })?;
        Ok((OrgSlug::parse(&self.org)?, UploadId::from_uuid(id)))
    }
}

/// Path of one version.
#[derive(serde::Deserialize)]
pub struct VersionPath {
    org: String,
    scope: String,
    name: String,
    n: u32,
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}/uploads", request_body = api::CreateUploadRequest,
    params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path)),
    responses((status = 201, body = api::UploadGrant), (status = 409, body = api::ErrorBody),
        (status = 413, body = api::ErrorBody), (status = 423, body = api::ErrorBody)))]
pub async fn create(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<SecretPath>,
    Body(req): Body<api::CreateUploadRequest>,
) -> R<(StatusCode, Json<api::UploadGrant>)> {
    let (slug, scope, name) = p.parse()?;
    let new = NewUpload {
        scope,
        name,
        kind: req.kind,
        expect_version: req.expect_version,
        expires_at: req.expires_at.map(Timestamp::from_datetime),
        view_limit: req.view_limit,
        size: req.size,
        restricted: req.restricted,
    };
    let g = s.coffer.create_upload(&actor, &slug, new).await?;
    let data_key = zeroize::Zeroizing::new(B64.encode(g.data_key.expose()));
    let u = &g.upload;
    Ok((
        StatusCode::CREATED,
        Json(api::UploadGrant {
            id: u.id.as_uuid(),
            org_id: u.org.as_uuid(),
            secret_id: u.secret.as_uuid(),
            version: u.version,
            key_version: u.key_version,
            data_key: data_key.to_string(),
            wrapped_key: B64.encode(&u.wrapped_key),
            put_url: g.put_url.clone(),
            presigned: g.presigned,
            expires_at: u.expires_at.to_datetime(),
        }),
    ))
}

#[utoipa::path(put, path = "/api/v1/orgs/{org}/uploads/{id}/envelope", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody),
        (status = 410, body = api::ErrorBody), (status = 413, body = api::ErrorBody)))]
pub async fn put_envelope(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<UploadPath>,
    body: Bytes,
) -> R<StatusCode> {
    let (slug, id) = p.parse()?;
    s.coffer
        .put_upload_envelope(&actor, &slug, id, body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/uploads/{id}/commit", request_body = api::CommitUploadRequest,
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 201, body = api::Secret), (status = 200, body = api::Secret), (status = 400, body = api::ErrorBody),
        (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody), (status = 410, body = api::ErrorBody)))]
pub async fn commit(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<UploadPath>,
    Body(req): Body<api::CommitUploadRequest>,
) -> R<(StatusCode, Json<api::Secret>)> {
    let (slug, id) = p.parse()?;
    let (secret, created) = s
        .coffer
        .commit_upload(&actor, &slug, id, &req.sha256)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(convert::secret(&secret))))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}/versions/{n}/envelope-url",
    params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path), ("n" = u32, Path)),
    responses((status = 200, body = api::EnvelopeUrl), (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody),
        (status = 410, body = api::ErrorBody)))]
pub async fn envelope_url(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<VersionPath>,
) -> R<Json<api::EnvelopeUrl>> {
    let slug = OrgSlug::parse(&p.org)?;
    let scope = Scope::parse(&p.scope)?;
    let name = SecretName::parse(&p.name)?;
    let (url, expires_at) = s
        .coffer
        .envelope_url(&actor, &slug, &scope, &name, p.n)
        .await?;
    Ok(Json(api::EnvelopeUrl {
        version: p.n,
        url,
        expires_at: expires_at.to_datetime(),
    }))
}
