//! One-time links and "send me a secret" requests (`service::links`, docs/links-and-requests.md).
//!
//! Members make, list and revoke them under `/api/v1/orgs/{org}/…`. Outsiders use the
//! credential-free `/api/v1/links/{id}` and `/api/v1/requests/{id}` endpoints from the pages at
//! `/l/{id}` and `/r/{id}`, holding what the URL's fragment carries: a link's open proof
//! (derived from its key, which never reaches this server) or a request's token (header
//! [`REQUEST_TOKEN`]). Every answer there is `Cache-Control: no-store`.

use super::error::ApiError;
use super::extract::{Body, Caller, Path};
use super::secrets::SecretPath;
use super::web::{Peer, source};
use super::{AppState, B64};
use crate::catalog::{LinkRecord, RequestRecord, link_state, request_state};
use crate::domain::{LinkId, OrgSlug, RequestId, Timestamp};
use crate::service::{Error, NewLink, NewRequest, Visitor};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use coffer_api as api;
use std::sync::Arc;
use std::time::Duration;

type R<T> = Result<T, ApiError>;

/// The header carrying a request's token (the part of its URL after `#`).
pub const REQUEST_TOKEN: &str = "x-coffer-request-token";

fn hex32(field: &str, raw: &str) -> Result<[u8; 32], Error> {
    let bytes = hex::decode(raw).ok().filter(|b| b.len() == 32);
    bytes
        .map(|b| b.try_into().expect("32 bytes"))
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "{field} must be 64 hex digits (a SHA-256 or HMAC-SHA256)"
            ))
        })
}

fn request_token(headers: &HeaderMap) -> Result<&str, Error> {
    headers
        .get(REQUEST_TOKEN)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::NotFound(
                "no such request: open the whole link you were sent, including the part after #"
                    .into(),
            )
        })
}

fn no_store(status: StatusCode, body: impl serde::Serialize) -> Response {
    let mut res = (status, Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn link_id(raw: &str) -> Result<LinkId, Error> {
    uuid::Uuid::parse_str(raw)
        .map(LinkId::from_uuid)
        .map_err(|_| Error::InvalidInput(format!("{raw:?} is not a link id (a UUID)")))
}

fn request_id(raw: &str) -> Result<RequestId, Error> {
    uuid::Uuid::parse_str(raw)
        .map(RequestId::from_uuid)
        .map_err(|_| Error::InvalidInput(format!("{raw:?} is not a request id (a UUID)")))
}

fn visitor(s: &AppState, headers: &HeaderMap, peer: Peer) -> Visitor {
    Visitor {
        source: source(headers, peer.0, &s.server),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
    }
}

fn origin(s: &AppState) -> &str {
    s.public_origin.trim_end_matches('/')
}

fn link_info(s: &AppState, l: &LinkRecord) -> api::LinkInfo {
    api::LinkInfo {
        id: l.id.as_uuid(),
        target: l.target.clone(),
        version: l.version,
        created_by: l.created_by.clone(),
        created_at: l.created_at.to_datetime(),
        expires_at: l.expires_at.to_datetime(),
        max_views: l.max_views,
        views: l.views,
        state: link_state(l, Timestamp::now()).as_str().into(),
        url: format!("{}/l/{}", origin(s), l.id),
    }
}

fn request_info(r: &RequestRecord) -> api::SecretRequestInfo {
    api::SecretRequestInfo {
        id: r.id.as_uuid(),
        target: format!("{}/{}", r.scope, r.name),
        note: r.note.clone(),
        created_by: r.created_by.clone(),
        created_at: r.created_at.to_datetime(),
        expires_at: r.expires_at.to_datetime(),
        state: request_state(r, Timestamp::now()).as_str().into(),
        fulfilled_version: r.fulfilled_version,
        fulfilled_at: r.fulfilled_at.map(Timestamp::to_datetime),
        url: None,
    }
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}/links", params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path)),
    request_body = api::CreateLinkRequest,
    responses((status = 201, body = api::LinkInfo), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody), (status = 410, body = api::ErrorBody), (status = 413, body = api::ErrorBody), (status = 423, body = api::ErrorBody)))]
pub async fn create_link(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<SecretPath>,
    Body(req): Body<api::CreateLinkRequest>,
) -> R<Response> {
    let (slug, scope, name) = p.parse()?;
    let envelope = B64
        .decode(req.envelope.as_bytes())
        .map_err(|_| Error::InvalidInput("envelope is not base64 (standard, padded)".into()))?;
    let link = s
        .coffer
        .create_link(
            &actor,
            &slug,
            &scope,
            &name,
            NewLink {
                version: req.version,
                envelope,
                open_hash: hex32("open_hash", &req.open_hash)?,
                lifetime: Duration::from_secs(req.expires_in_seconds),
                max_views: req.max_views,
            },
        )
        .await?;
    Ok(no_store(StatusCode::CREATED, link_info(&s, &link)))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/links", params(("org" = String, Path)),
    responses((status = 200, body = api::LinkList), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn list_links(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::LinkList>> {
    let links = s.coffer.links(&actor, &OrgSlug::parse(&org)?).await?;
    Ok(Json(api::LinkList {
        links: links.iter().map(|l| link_info(&s, l)).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/links/{id}", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = api::LinkInfo), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn revoke_link(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, id)): Path<(String, String)>,
) -> R<Json<api::LinkInfo>> {
    let slug = OrgSlug::parse(&org)?;
    let link = s.coffer.revoke_link(&actor, &slug, link_id(&id)?).await?;
    Ok(Json(link_info(&s, &link)))
}

#[utoipa::path(get, path = "/api/v1/links/{id}", params(("id" = String, Path)),
    responses((status = 200, body = api::LinkStatus), (status = 400, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn link_status(State(s): State<Arc<AppState>>, Path(id): Path<String>) -> R<Response> {
    let (link, state) = s.coffer.link_status(link_id(&id)?).await?;
    Ok(no_store(
        StatusCode::OK,
        api::LinkStatus {
            state: state.as_str().into(),
            expires_at: link.expires_at.to_datetime(),
            views_left: link.max_views.saturating_sub(link.views),
        },
    ))
}

#[utoipa::path(post, path = "/api/v1/links/{id}/open", params(("id" = String, Path)),
    request_body = api::OpenLinkRequest,
    responses((status = 200, body = api::OpenedLink), (status = 400, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 410, body = api::ErrorBody), (status = 423, body = api::ErrorBody)))]
pub async fn open_link(
    State(s): State<Arc<AppState>>,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(req): Body<api::OpenLinkRequest>,
) -> R<Response> {
    let who = visitor(&s, &headers, peer);
    let proof = hex32("proof", &req.proof)?;
    let opened = s.coffer.open_link(link_id(&id)?, &proof, &who).await?;
    let l = &opened.link;
    Ok(no_store(
        StatusCode::OK,
        api::OpenedLink {
            target: l.target.clone(),
            org_id: l.org.as_uuid(),
            secret_id: l.secret.as_uuid(),
            version: l.version,
            envelope: B64.encode(&opened.envelope),
            views_left: l.max_views.saturating_sub(l.views),
            expires_at: l.expires_at.to_datetime(),
        },
    ))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}/requests", params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path)),
    request_body = api::CreateSecretRequest,
    responses((status = 201, body = api::SecretRequestInfo), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody), (status = 423, body = api::ErrorBody)))]
pub async fn create_request(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<SecretPath>,
    Body(req): Body<api::CreateSecretRequest>,
) -> R<Response> {
    let (slug, scope, name) = p.parse()?;
    let r = s
        .coffer
        .create_request(
            &actor,
            &slug,
            NewRequest {
                scope,
                name,
                note: req.note,
                lifetime: Duration::from_secs(req.expires_in_seconds),
            },
        )
        .await?;
    let mut info = request_info(&r.record);
    info.url = Some(format!(
        "{}/r/{}#{}",
        origin(&s),
        r.record.id,
        r.token.as_str()
    ));
    Ok(no_store(StatusCode::CREATED, info))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/requests", params(("org" = String, Path)),
    responses((status = 200, body = api::SecretRequestList), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn list_requests(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::SecretRequestList>> {
    let list = s.coffer.requests(&actor, &OrgSlug::parse(&org)?).await?;
    Ok(Json(api::SecretRequestList {
        requests: list.iter().map(request_info).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/requests/{id}", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = api::SecretRequestInfo), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn revoke_request(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, id)): Path<(String, String)>,
) -> R<Json<api::SecretRequestInfo>> {
    let slug = OrgSlug::parse(&org)?;
    let r = s
        .coffer
        .revoke_request(&actor, &slug, request_id(&id)?)
        .await?;
    Ok(Json(request_info(&r)))
}

#[utoipa::path(get, path = "/api/v1/requests/{id}", params(("id" = String, Path), ("X-Coffer-Request-Token" = String, Header, description = "The part of the request's URL after `#`.")),
    responses((status = 200, body = api::SecretRequestStatus), (status = 400, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn request_status(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> R<Response> {
    let id = request_id(&id)?;
    let v = s
        .coffer
        .request_status(id, request_token(&headers)?)
        .await?;
    let r = &v.request;
    Ok(no_store(
        StatusCode::OK,
        api::SecretRequestStatus {
            state: v.state.as_str().into(),
            org: v.org.to_string(),
            requested_by: r.created_by.clone(),
            target: format!("{}/{}", r.scope, r.name),
            note: r.note.clone(),
            expires_at: r.expires_at.to_datetime(),
            public_key: B64.encode(&r.public_key),
        },
    ))
}

#[utoipa::path(post, path = "/api/v1/requests/{id}/fulfil", params(("id" = String, Path), ("X-Coffer-Request-Token" = String, Header, description = "The part of the request's URL after `#`.")),
    request_body = api::FulfilSecretRequest,
    responses((status = 201, body = api::FulfilledSecretRequest), (status = 400, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 410, body = api::ErrorBody), (status = 413, body = api::ErrorBody), (status = 423, body = api::ErrorBody), (status = 503, body = api::ErrorBody)))]
pub async fn fulfil_request(
    State(s): State<Arc<AppState>>,
    peer: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(req): Body<api::FulfilSecretRequest>,
) -> R<Response> {
    let who = visitor(&s, &headers, peer);
    let sealed = B64
        .decode(req.sealed.as_bytes())
        .map_err(|_| Error::InvalidInput("sealed is not base64 (standard, padded)".into()))?;
    let id = request_id(&id)?;
    let secret = s
        .coffer
        .fulfil_request(id, request_token(&headers)?, &sealed, &who)
        .await?;
    Ok(no_store(
        StatusCode::CREATED,
        api::FulfilledSecretRequest {
            target: format!("{}/{}", secret.scope, secret.name),
            version: secret.version,
        },
    ))
}
