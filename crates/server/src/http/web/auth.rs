//! Sign-in, sign-out, the current session, and setting a password.
//!
//! Sign-in answers the session cookie (HttpOnly, SameSite=Strict, `Secure` when the request came
//! over TLS) and the CSRF token in the body. It is refused from another origin and only accepts
//! a JSON body, which a cross-site HTML form cannot send — that closes login CSRF without a
//! pre-session token. Too many failures answer 429 with `Retry-After`.

use super::super::AppState;
use super::super::error::{ApiError, error_response};
use super::super::extract::{Body, Caller};
use super::{SESSION_COOKIE, cross_site, over_tls, session_cookie};
use crate::domain::{OrgSlug, UserName};
use crate::service::web::{SESSION_LIFETIME, SignInError, csrf_for};
use crate::service::web_guard::SignInGuard;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use coffer_api as api;
use std::net::SocketAddr;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The TCP peer, when the server was started with connect info (`coffer serve` is).
pub struct Peer(Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

fn cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are base64url")
}

/// Where the request came from: the peer address, or — when the peer is a proxy on this host
/// or a private network — the last address it put in `X-Forwarded-For`.
fn source(headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    let ip = peer.ip();
    let proxied = match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        std::net::IpAddr::V6(v6) => v6.is_loopback(),
    };
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .and_then(|v| v.parse::<std::net::IpAddr>().ok());
    match forwarded {
        Some(f) if proxied => f.to_string(),
        _ => ip.to_string(),
    }
}

fn info(
    actor: &crate::domain::policy::Actor,
    org: &str,
    csrf: String,
    expires: time::OffsetDateTime,
) -> api::SessionInfo {
    api::SessionInfo {
        user: actor.name.to_string(),
        org: org.to_owned(),
        role: actor.role,
        operator: actor.operator,
        csrf_token: csrf,
        expires_at: expires,
    }
}

#[utoipa::path(post, path = "/api/v1/session", request_body = api::SignInRequest,
    responses((status = 200, body = api::SessionInfo), (status = 401, body = api::ErrorBody), (status = 429, body = api::ErrorBody)))]
pub async fn sign_in(
    State(s): State<Arc<AppState>>,
    Extension(guard): Extension<Arc<SignInGuard>>,
    Peer(peer): Peer,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Body(req): Body<api::SignInRequest>,
) -> Response {
    if let Some(origin) = cross_site(&headers) {
        return error_response(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            format!(
                "sign-in from another site ({origin}) was refused; open Coffer's own /login page"
            ),
        );
    }
    let from = source(&headers, peer);
    let password = Zeroizing::new(req.password);
    let signed = match s
        .coffer
        .sign_in(&req.org, &req.user, password, &from, &guard)
        .await
    {
        Ok(v) => v,
        Err(SignInError::TooMany(wait)) => {
            let mins = wait.as_secs().div_ceil(60);
            let mut res = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_sign_ins",
                format!(
                    "too many failed sign-ins for this account or address; wait {mins} minute(s) and try again, or ask an admin to reset the password"
                ),
            );
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(wait.as_secs().max(1)),
            );
            return res;
        }
        Err(SignInError::Other(e)) => return ApiError(e).into_response(),
    };
    let actor = match s.coffer.authenticate_session(&signed.value).await {
        Ok(a) => a,
        Err(e) => return ApiError(e).into_response(),
    };
    let secure = over_tls(&headers, uri.scheme_str());
    let body = info(
        &actor,
        &req.org,
        signed.csrf,
        signed.session.expires_at.to_datetime(),
    );
    let mut res = Json(body).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&signed.value, SESSION_LIFETIME.as_secs(), secure),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[utoipa::path(get, path = "/api/v1/session", responses((status = 200, body = api::SessionInfo), (status = 401, body = api::ErrorBody)))]
pub async fn current(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Caller(actor): Caller,
) -> Result<Response, ApiError> {
    let org = s.coffer.actor_org(&actor).await?;
    let Some(value) = session_cookie(&headers) else {
        return Err(ApiError(crate::service::Error::InvalidInput(
            "GET /api/v1/session describes a browser session; this request used a token (see GET /api/v1/whoami)".into(),
        )));
    };
    let csrf = csrf_for(value);
    let expires = s
        .coffer
        .catalog()
        .session(&crate::service::tokens::hash(value))
        .await
        .ok()
        .flatten()
        .map_or(time::OffsetDateTime::now_utc(), |p| {
            p.session.expires_at.to_datetime()
        });
    let mut res = Json(info(&actor, org.slug.as_str(), csrf, expires)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[utoipa::path(delete, path = "/api/v1/session", responses((status = 204)))]
pub async fn sign_out(
    State(s): State<Arc<AppState>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Caller(_actor): Caller,
) -> Result<Response, ApiError> {
    if let Some(value) = session_cookie(&headers) {
        s.coffer.sign_out(value).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    let secure = over_tls(&headers, uri.scheme_str());
    res.headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, secure));
    Ok(res)
}

#[utoipa::path(put, path = "/api/v1/orgs/{org}/users/{name}/password", request_body = api::SetPasswordRequest,
    params(("org" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody)))]
pub async fn set_password(
    State(s): State<Arc<AppState>>,
    Extension(guard): Extension<Arc<SignInGuard>>,
    Caller(actor): Caller,
    Path((org, name)): Path<(String, String)>,
    Body(req): Body<api::SetPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let password = Zeroizing::new(req.password);
    s.coffer
        .set_password(
            &actor,
            &OrgSlug::parse(&org)?,
            &UserName::parse(&name)?,
            password,
            &guard,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
