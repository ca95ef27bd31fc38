//! `/api/v1/orgs…`, `/api/v1/whoami`: orgs and the caller's identity. (Members, invitations and
//! credentials: [`super::people`].)

use super::error::ApiError;
use super::extract::{Body, Caller, Path};
use super::{AppState, convert};
use crate::domain::{Location, OrgSlug};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use coffer_api as api;
use std::sync::Arc;

type R<T> = Result<T, ApiError>;

#[utoipa::path(get, path = "/api/v1/whoami", responses((status = 200, body = api::WhoAmI), (status = 401, body = api::ErrorBody)))]
pub async fn whoami(State(s): State<Arc<AppState>>, Caller(actor): Caller) -> R<Json<api::WhoAmI>> {
    let org = match actor.org() {
        Some(_) => Some(s.coffer.actor_org(&actor).await?.slug.to_string()),
        None => None,
    };
    Ok(Json(api::WhoAmI {
        user: actor.name.to_string(),
        kind: convert::kind(actor.kind()),
        org,
        role: actor.role(),
        operator: actor.is_operator(),
        token_id: actor.token.as_uuid(),
    }))
}

#[utoipa::path(post, path = "/api/v1/orgs", request_body = api::CreateOrgRequest,
    responses((status = 201, body = api::Org), (status = 403, body = api::ErrorBody), (status = 409, body = api::ErrorBody)))]
pub async fn create(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Body(req): Body<api::CreateOrgRequest>,
) -> R<(StatusCode, Json<api::Org>)> {
    let slug = OrgSlug::parse(&req.slug)?;
    let org = s
        .coffer
        .create_org(
            &actor,
            slug,
            req.name,
            req.location.unwrap_or_else(Location::local),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(convert::org(&org))))
}

#[utoipa::path(get, path = "/api/v1/orgs", responses((status = 200, body = api::OrgList)))]
pub async fn list(State(s): State<Arc<AppState>>, Caller(actor): Caller) -> R<Json<api::OrgList>> {
    let orgs = s.coffer.list_orgs(&actor).await?;
    Ok(Json(api::OrgList {
        orgs: orgs.iter().map(convert::org).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}", params(("org" = String, Path)), responses((status = 200, body = api::Org), (status = 404, body = api::ErrorBody)))]
pub async fn show(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::Org>> {
    Ok(Json(convert::org(
        &s.coffer.org(&actor, &OrgSlug::parse(&org)?).await?,
    )))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/keys/rotate", params(("org" = String, Path)),
    responses((status = 200, body = api::RotateKeyResponse), (status = 403, body = api::ErrorBody)))]
pub async fn rotate_key(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::RotateKeyResponse>> {
    let (key_version, previous_version) = s
        .coffer
        .rotate_org_key(&actor, &OrgSlug::parse(&org)?)
        .await?;
    Ok(Json(api::RotateKeyResponse {
        key_version,
        previous_version,
    }))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/recovery-kit", params(("org" = String, Path)),
    request_body = api::RecoveryKitRequest,
    responses(
        (status = 200, description = "The org's recovery kit: every org-key version (root key `local`: the keys themselves; BYOK: their KMS wraps). Encrypt it before it touches a disk (`coffer org recovery-kit` does, with age). Sent with `Cache-Control: no-store`.", body = api::RecoveryKit),
        (status = 403, description = "Not an owner; no or a wrong current password (`current_password_required`, `current_password_wrong`); or no Coffer password to prove.", body = api::ErrorBody),
        (status = 404, description = "No such org (or another org's, or the operator).", body = api::ErrorBody)))]
pub async fn recovery_kit(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(mut req): Body<api::RecoveryKitRequest>,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse as _;
    let current = req.current_password.take().map(zeroize::Zeroizing::new);
    let kit = s
        .coffer
        .recovery_kit(&actor, &OrgSlug::parse(&org)?, current)
        .await?;
    let mut response = Json(convert::recovery_kit(&kit)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
