//! `/scim/v2`: SCIM 2.0 (RFC 7643, RFC 7644) for an org's identity provider — Okta, Entra ID and
//! the like create, change, deactivate and delete the org's people and groups here
//! (docs/scim.md). It is its own protocol, outside the OpenAPI document: its own media type
//! (`application/scim+json`; `application/json` requests are read too), its own error body
//! (`urn:ietf:params:scim:api:messages:2.0:Error`, `status` as a string, a `scimType` where RFC
//! 7644 §3.12 defines one, and a `detail` sentence), and its own credential: every request,
//! discovery included, needs the org's SCIM token, and the org comes from it.
//!
//! What the ServiceProviderConfig advertises is what is served, and nothing else: PATCH,
//! filters (`eq`, joined by `and`, on the attributes [`filter`] lists), `attributes` /
//! `excludedAttributes`, `startIndex` / `count` paging and `POST …/.search`; no bulk, sort,
//! ETags or password changes. Handlers are thin like the API's: read the JSON ([`resources`],
//! [`patch`]), call one `service::scim` use case, render the resource.

mod discovery;
pub(crate) mod filter; // also reached by testing::fuzz
pub(crate) mod patch;
mod resources;

use super::AppState;
use crate::service::Error;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;

/// Where SCIM is served.
pub const BASE: &str = "/scim/v2";
/// SCIM's media type (RFC 7644 §8.1).
pub const MEDIA_TYPE: &str = "application/scim+json";
/// The schema of an error body.
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The SCIM router (nested at [`BASE`]): every route and the fallback behind the SCIM token.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/ServiceProviderConfig",
            get(discovery::config).fallback(not_allowed),
        )
        .route(
            "/ResourceTypes",
            get(discovery::resource_types).fallback(not_allowed),
        )
        .route(
            "/ResourceTypes/{id}",
            get(discovery::resource_type).fallback(not_allowed),
        )
        .route("/Schemas", get(discovery::schemas).fallback(not_allowed))
        .route(
            "/Schemas/{id}",
            get(discovery::schema).fallback(not_allowed),
        )
        .route(
            "/Users",
            get(resources::list_users)
                .post(resources::create_user)
                .fallback(not_allowed),
        )
        .route(
            "/Users/.search",
            post(resources::search_users).fallback(not_allowed),
        )
        .route(
            "/Users/{id}",
            get(resources::get_user)
                .put(resources::replace_user)
                .patch(resources::patch_user)
                .delete(resources::delete_user)
                .fallback(not_allowed),
        )
        .route(
            "/Groups",
            get(resources::list_groups)
                .post(resources::create_group)
                .fallback(not_allowed),
        )
        .route(
            "/Groups/.search",
            post(resources::search_groups).fallback(not_allowed),
        )
        .route(
            "/Groups/{id}",
            get(resources::get_group)
                .put(resources::replace_group)
                .patch(resources::patch_group)
                .delete(resources::delete_group)
                .fallback(not_allowed),
        )
        .route(
            "/.search",
            post(resources::search_all).fallback(not_allowed),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state, authenticate))
}

/// Admits only a live SCIM token, and hands its actor (`service::scim::ScimActor`) to the
/// handler.
async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme is case-insensitive (RFC 9110 §11.1); some directories send `bearer`.
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    match state.coffer.authenticate_scim(token).await {
        Ok(actor) => {
            req.extensions_mut().insert(actor);
            next.run(req).await
        }
        Err(e) => ScimFailure::from(e).into_response(),
    }
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        None,
        "no such SCIM endpoint; Coffer serves /ServiceProviderConfig, /ResourceTypes, /Schemas, /Users, /Groups and /.search",
    )
}

async fn not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "this SCIM endpoint does not take that method",
    )
}

/// A SCIM answer: `body` as `application/scim+json`.
pub(super) fn answer(status: StatusCode, body: Value) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    res
}

/// A SCIM error body with `status`, the `scimType` if any, and the sentence.
pub(super) fn error(
    status: StatusCode,
    scim_type: Option<&str>,
    detail: impl Into<String>,
) -> Response {
    let mut body = json!({
        "schemas": [ERROR_SCHEMA],
        "status": status.as_str(),
        "detail": detail.into(),
    });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    let mut res = answer(status, body);
    match status {
        StatusCode::UNAUTHORIZED => {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    res
}

/// The `scimType`s of RFC 7644 §3.12 a `Rejected` error's code may carry.
const SCIM_TYPES: &[&str] = &[
    "invalidFilter",
    "tooMany",
    "uniqueness",
    "mutability",
    "invalidSyntax",
    "invalidPath",
    "noTarget",
    "invalidValue",
    "invalidVers",
    "sensitive",
];

/// A SCIM error on its way to the client: its status, `scimType` and sentence.
#[derive(Debug)]
pub(super) struct ScimFailure {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimFailure {
    /// A failure with `status`, the `scimType` if any, and the sentence.
    pub(super) fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        error(self.status, self.scim_type, self.detail)
    }
}

impl From<Error> for ScimFailure {
    fn from(e: Error) -> Self {
        let (status, scim_type) = match &e {
            Error::InvalidInput(_) => (StatusCode::BAD_REQUEST, Some("invalidValue")),
            Error::Rejected { code, .. } => (
                StatusCode::BAD_REQUEST,
                Some(
                    SCIM_TYPES
                        .iter()
                        .copied()
                        .find(|t| t == code)
                        .unwrap_or("invalidValue"),
                ),
            ),
            Error::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, None),
            Error::Forbidden(_) | Error::ProofRequired { .. } => (StatusCode::FORBIDDEN, None),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, None),
            Error::AlreadyExists(_) => (StatusCode::CONFLICT, Some("uniqueness")),
            Error::Conflict { .. } | Error::VersionConflict { .. } | Error::SecretDeleted(_) => {
                (StatusCode::CONFLICT, None)
            }
            Error::Gone(_) | Error::UploadExpired(_) => (StatusCode::GONE, None),
            Error::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, None),
            Error::Suspended(_) => (StatusCode::LOCKED, None),
            Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, None),
            Error::Integrity(_) | Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, None),
        };
        let detail = match e {
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error; the server log has the details".to_owned()
            }
            Error::Integrity(m) => {
                tracing::error!(detail = %m, "integrity check failed");
                m
            }
            other => other.to_string(),
        };
        ScimFailure::new(status, scim_type, detail)
    }
}
