//! `/api/v1/orgs/{org}/sso` (the org's OpenID provider: see, set, remove) and
//! `/api/v1/sso/token` (the end of `coffer login`). The browser's redirects are in `web::sso`.

use super::AppState;
use super::error::ApiError;
use super::extract::{Body, Caller, Path};
use crate::domain::OrgSlug;
use crate::service::sso::{SetSso, SsoView};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffer_api as api;
use std::sync::Arc;
use zeroize::Zeroizing;

type R<T> = Result<T, ApiError>;

fn view(v: SsoView) -> api::SsoSettings {
    api::SsoSettings {
        issuer: v.record.issuer,
        client_id: v.record.client_id,
        client_secret_set: v.record.client_secret.is_some(),
        groups_claim: v.record.groups_claim,
        create_people: v.record.create_people,
        require_sso: v.record.require_sso,
        redirect_uri: v.redirect_uri,
        updated_by: v.record.updated_by,
        updated_at: v.record.updated_at.to_datetime(),
    }
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/sso", params(("org" = String, Path)),
    responses((status = 200, body = api::SsoSettings), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn show(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::SsoSettings>> {
    let slug = OrgSlug::parse(&org)?;
    Ok(Json(view(s.coffer.sso_settings(&actor, &slug).await?)))
}

#[utoipa::path(put, path = "/api/v1/orgs/{org}/sso", params(("org" = String, Path)),
    request_body = api::SetSsoRequest,
    responses((status = 200, body = api::SsoSettings), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn set(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::SetSsoRequest>,
) -> R<Json<api::SsoSettings>> {
    let slug = OrgSlug::parse(&org)?;
    let set = SetSso {
        issuer: req.issuer,
        client_id: req.client_id,
        client_secret: req.client_secret.map(Zeroizing::new),
        groups_claim: req.groups_claim,
        create_people: req.create_people,
        require_sso: req.require_sso,
    };
    Ok(Json(view(s.coffer.set_sso(&actor, &slug, set).await?)))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/sso", params(("org" = String, Path)),
    responses((status = 204), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn remove(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<StatusCode> {
    let slug = OrgSlug::parse(&org)?;
    s.coffer.delete_sso(&actor, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/sso/token", request_body = api::CliTokenRequest,
    responses((status = 200, body = api::CliToken), (status = 401, body = api::ErrorBody), (status = 403, body = api::ErrorBody)))]
pub async fn cli_token(
    State(s): State<Arc<AppState>>,
    Body(req): Body<api::CliTokenRequest>,
) -> R<Response> {
    let verifier = Zeroizing::new(req.verifier);
    let t = s.coffer.exchange_cli_code(&req.code, &verifier).await?;
    let body = api::CliToken {
        token: t.value.to_string(),
        token_id: t.record.id.as_uuid(),
        org: t.slug.to_string(),
        user: t.user.to_string(),
        expires_at: t
            .record
            .expires_at
            .map_or_else(time::OffsetDateTime::now_utc, |e| e.to_datetime()),
    };
    let mut res = Json(body).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
