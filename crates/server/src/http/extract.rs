//! Extractors that speak Coffer's error format: the caller (bearer token, or the web UI's
//! session cookie with its CSRF check), JSON bodies (413 before
//! reading an oversize body whole, 400 naming the bad field otherwise), query strings and path
//! parameters (400 with the one error body, never axum's plain-text rejection).

use super::AppState;
use super::error::{ApiError, error_response};
use crate::domain::policy::Actor;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The authenticated caller.
pub struct Caller(pub Actor);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        if let Some(value) = session(parts) {
            return super::web::session_caller(parts, state, value)
                .await
                .map(Caller);
        }
        let (token, path_org) = bearer(parts);
        match state.coffer.authenticate(token, path_org).await {
            Ok(actor) => Ok(Caller(actor)),
            Err(e) => Err(ApiError(e).into_response()),
        }
    }
}

/// The session cookie of a request without an `Authorization` header: browsers (the web UI)
/// present a session instead of a bearer token.
fn session(parts: &Parts) -> Option<&str> {
    match parts.headers.get(header::AUTHORIZATION) {
        Some(_) => None,
        None => super::web::session_cookie(&parts.headers),
    }
}

/// The bearer token a request presents, if any, and the org its path names
/// (`/api/v1/orgs/{org}/…`), against which failures without a known token are audited.
fn bearer(parts: &Parts) -> (Option<&str>, Option<&str>) {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim());
    let path_org = parts
        .uri
        .path()
        .strip_prefix("/api/v1/orgs/")
        .and_then(|rest| rest.split('/').next());
    (token, path_org)
}

/// The caller of a handler that looks its bearer token up together with its own reads (a
/// reveal: [`crate::catalog::Catalog::authenticate_reveal`]). A session is resolved as for
/// [`Caller`]; a bearer token is only checked for its form here (a missing or malformed one
/// is refused as [`Caller`] refuses it) and handed over as its hash, for the service to judge
/// exactly as [`Caller`] would.
pub enum Presented {
    /// A web UI session, resolved.
    Actor(Actor),
    /// A well-formed bearer token, not yet looked up, and the org the path names.
    Token {
        /// The token's hash.
        hash: [u8; 32],
        /// The org the request path names.
        path_org: Option<String>,
    },
}

impl Presented {
    /// The actor, the token looked up on its own: for a request refused before its combined
    /// lookup, so that a bad credential is still refused (and recorded) first.
    pub async fn resolve(self, state: &AppState) -> Result<Actor, ApiError> {
        match self {
            Presented::Actor(actor) => Ok(actor),
            Presented::Token { hash, path_org } => state
                .coffer
                .authenticate_hash(&hash, path_org.as_deref())
                .await
                .map_err(ApiError),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Presented {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        if let Some(value) = session(parts) {
            return super::web::session_caller(parts, state, value)
                .await
                .map(Presented::Actor);
        }
        let (token, path_org) = bearer(parts);
        match state.coffer.presented(token, path_org) {
            Ok(hash) => Ok(Presented::Token {
                hash,
                path_org: path_org.map(str::to_owned),
            }),
            Err(e) => Err(ApiError(e).into_response()),
        }
    }
}

/// The caller if the request presents a credential (a bearer token or a session cookie),
/// `None` if it presents none. A credential that does not authenticate is refused like for
/// [`Caller`] — never silently treated as anonymous.
pub struct MaybeCaller(pub Option<Actor>);

impl FromRequestParts<Arc<AppState>> for MaybeCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let presents = parts.headers.contains_key(header::AUTHORIZATION)
            || super::web::session_cookie(&parts.headers).is_some();
        if !presents {
            return Ok(MaybeCaller(None));
        }
        Caller::from_request_parts(parts, state)
            .await
            .map(|c| MaybeCaller(Some(c.0)))
    }
}

/// A JSON body with Coffer's errors. Every request body is a JSON object: serde would also build
/// a struct from an array of its fields in order (`[null, null]`), which no client means and the
/// document does not allow, so anything but an object is refused.
pub struct Body<T>(pub T);

/// `T`, read only from a JSON object.
pub(crate) struct Object<T>(pub(crate) T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Fields<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Fields(std::marker::PhantomData))
            .map(Object)
    }
}

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match axum::Json::<Object<T>>::from_request(req, state).await {
            Ok(axum::Json(Object(v))) => Ok(Body(v)),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    "the request body is over the size limit (limits.max_secret_bytes)",
                ))
            }
            Err(e) => Err(error_response(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                format!("invalid JSON body: {}", e.body_text()),
            )),
        }
    }
}

/// A query string with Coffer's errors.
pub struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(e @ QueryRejection::FailedToDeserializeQueryString(_)) => Err(error_response(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                e.body_text(),
            )),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// Path parameters with Coffer's errors.
pub struct Path<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(e @ PathRejection::FailedToDeserializePathParams(_)) => Err(error_response(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                e.body_text(),
            )),
            Err(e) => Err(e.into_response()),
        }
    }
}
