//! `/api/v1/orgs…`, `/api/v1/whoami`: orgs, members, tokens and the caller's identity.

use super::error::ApiError;
use super::extract::{Body, Caller};
use super::{AppState, convert};
use crate::domain::*;
use crate::service::Error;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use coffer_api as api;
use std::sync::Arc;

type R<T> = Result<T, ApiError>;

#[utoipa::path(get, path = "/api/v1/whoami", responses((status = 200, body = api::WhoAmI), (status = 401, body = api::ErrorBody)))]
pub async fn whoami(State(s): State<Arc<AppState>>, Caller(actor): Caller) -> R<Json<api::WhoAmI>> {
    let org = s.coffer.actor_org(&actor).await?;
    Ok(Json(api::WhoAmI {
        user: actor.name.to_string(),
        org: org.slug.to_string(),
        role: actor.role,
        operator: actor.operator,
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

#[utoipa::path(post, path = "/api/v1/orgs/{org}/users", params(("org" = String, Path)), request_body = api::AddUserRequest,
    responses((status = 201, body = api::Member), (status = 403, body = api::ErrorBody)))]
pub async fn add_user(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::AddUserRequest>,
) -> R<(StatusCode, Json<api::Member>)> {
    let m = s
        .coffer
        .add_member(
            &actor,
            &OrgSlug::parse(&org)?,
            UserName::parse(&req.name)?,
            req.role,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(convert::member(&m))))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/users", params(("org" = String, Path)), responses((status = 200, body = api::MemberList)))]
pub async fn list_users(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::MemberList>> {
    let members = s.coffer.members(&actor, &OrgSlug::parse(&org)?).await?;
    Ok(Json(api::MemberList {
        users: members.iter().map(convert::member).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/tokens", params(("org" = String, Path)), request_body = api::CreateTokenRequest,
    responses((status = 201, body = api::CreatedToken), (status = 404, body = api::ErrorBody)))]
pub async fn create_token(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::CreateTokenRequest>,
) -> R<(StatusCode, Json<api::CreatedToken>)> {
    let slug = OrgSlug::parse(&org)?;
    let user = req.user.as_deref().map(UserName::parse).transpose()?;
    if req.expires_in_seconds == Some(0) {
        return Err(Error::InvalidInput("expires_in_seconds must be at least 1".into()).into());
    }
    let lifetime = req.expires_in_seconds.map(std::time::Duration::from_secs);
    let (record, value) = s
        .coffer
        .create_token(&actor, &slug, user, req.name, lifetime)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(api::CreatedToken {
            info: convert::token(&record, slug.as_str()),
            token: value.to_string(),
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/tokens", params(("org" = String, Path)), responses((status = 200, body = api::TokenList)))]
pub async fn list_tokens(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::TokenList>> {
    let slug = OrgSlug::parse(&org)?;
    let tokens = s.coffer.tokens(&actor, &slug).await?;
    Ok(Json(api::TokenList {
        tokens: tokens
            .iter()
            .map(|t| convert::token(t, slug.as_str()))
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/tokens/{id}", params(("org" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = api::ErrorBody)))]
pub async fn revoke_token(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, id)): Path<(String, String)>,
) -> R<StatusCode> {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| {
        Error::InvalidInput(format!(
            "{id:?} is not a token id (a UUID from `coffer token list`)"
        ))
    })?;
    s.coffer
        .revoke_token(&actor, &OrgSlug::parse(&org)?, TokenId::from_uuid(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
