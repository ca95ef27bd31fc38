//! `/api/v1/orgs/{org}/scim/tokens…`: an org's SCIM tokens — owners create and revoke them,
//! admins list them (`service::scim`). The SCIM protocol itself is served at `/scim/v2`
//! ([`super::scim`]), outside this API.

use super::AppState;
use super::error::ApiError;
use super::extract::{Body, Caller, Path};
use crate::catalog::ScimTokenRecord;
use crate::domain::{OrgSlug, ScimTokenId};
use crate::service::Error;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffer_api as api;
use std::sync::Arc;

type R<T> = Result<T, ApiError>;

fn info(t: &ScimTokenRecord) -> api::ScimTokenInfo {
    api::ScimTokenInfo {
        id: t.id.as_uuid(),
        name: t.name.clone(),
        created_at: t.created_at.to_datetime(),
        created_by: t.created_by.clone(),
        revoked_at: t.revoked_at.map(|r| r.to_datetime()),
    }
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/scim/tokens", params(("org" = String, Path)),
    request_body = api::CreateScimTokenRequest,
    responses((status = 201, body = api::CreatedScimToken), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn create(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::CreateScimTokenRequest>,
) -> R<Response> {
    let slug = OrgSlug::parse(&org)?;
    let t = s.coffer.create_scim_token(&actor, &slug, req.name).await?;
    let body = api::CreatedScimToken {
        id: t.record.id.as_uuid(),
        name: t.record.name.clone(),
        token: t.value.to_string(),
        created_at: t.record.created_at.to_datetime(),
    };
    let mut res = (StatusCode::CREATED, Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/scim/tokens", params(("org" = String, Path)),
    responses((status = 200, body = api::ScimTokenList), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn list(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::ScimTokenList>> {
    let tokens = s.coffer.scim_tokens(&actor, &OrgSlug::parse(&org)?).await?;
    Ok(Json(api::ScimTokenList {
        tokens: tokens.iter().map(info).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/scim/tokens/{id}", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn revoke(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, id)): Path<(String, String)>,
) -> R<StatusCode> {
    let slug = OrgSlug::parse(&org)?;
    let id = uuid::Uuid::parse_str(&id)
        .map(ScimTokenId::from_uuid)
        .map_err(|_| Error::InvalidInput(format!("{id:?} is not a SCIM token id (a UUID)")))?;
    s.coffer.revoke_scim_token(&actor, &slug, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
