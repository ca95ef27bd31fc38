//! Sign-in, sign-out, the current session, and setting a password.
//!
//! Sign-in answers the session cookie (HttpOnly, SameSite=Strict, `Secure` when the request came
//! over TLS) and the CSRF token in the body. It is refused from another origin and only accepts
//! a JSON body, which a cross-site HTML form cannot send — that closes login CSRF without a
//! pre-session token. Too many failures answer 429 with `Retry-After`.

use super::super::AppState;
use super::super::error::{ApiError, error_response};
use super::super::extract::{Body, Caller};
use super::{OverTls, SESSION_COOKIE, cross_site, session_cookie};
use crate::config::ServerConfig;
use crate::service::web::{SESSION_LIFETIME, SignInError, csrf_for};
use axum::Json;
use axum::extract::State;
use axum::extract::connect_info::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffer_api as api;
use std::net::SocketAddr;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The TCP peer, when the server was started with connect info (`coffer serve` is).
pub struct Peer(pub Option<SocketAddr>);

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

pub(crate) fn cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are base64url")
}

/// Where the request came from: the TCP peer, unless the peer is one of
/// `server.trusted_proxies` — then the nearest address in `X-Forwarded-For` that is not itself a
/// trusted proxy (walking from the right, the entries a trusted proxy appended). With no trusted
/// proxies (the default) the header is ignored, so a client cannot choose its own source and
/// slip past the per-source sign-in limit.
pub fn source(headers: &HeaderMap, peer: Option<SocketAddr>, server: &ServerConfig) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    let mut ip = peer.ip();
    if !server.trusts(ip) {
        return ip.to_string();
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(h) => {
                ip = h;
                if !server.trusts(h) {
                    break;
                }
            }
            // A hop the proxies did not write as an address: stop at the last trusted one.
            Err(_) => break,
        }
    }
    ip.to_string()
}

fn info(
    actor: &crate::domain::policy::Actor,
    org: Option<&str>,
    csrf: String,
    expires: time::OffsetDateTime,
) -> api::SessionInfo {
    api::SessionInfo {
        user: actor.name.to_string(),
        org: org.map(str::to_owned),
        role: actor.role(),
        operator: actor.is_operator(),
        csrf_token: csrf,
        expires_at: expires,
    }
}

#[utoipa::path(post, path = "/api/v1/session", request_body = api::SignInRequest,
    responses((status = 200, body = api::SessionInfo), (status = 401, body = api::ErrorBody), (status = 429, body = api::ErrorBody)))]
pub async fn sign_in(
    State(s): State<Arc<AppState>>,
    Peer(peer): Peer,
    OverTls(secure): OverTls,
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
    let from = source(&headers, peer, &s.server);
    let password = Zeroizing::new(req.password);
    let signed = match s.coffer.sign_in(&req.org, &req.user, password, &from).await {
        Ok(v) => v,
        Err(SignInError::TooMany(wait)) => {
            let mins = wait.as_secs().div_ceil(60);
            let mut res = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_sign_ins",
                format!(
                    "too many failed sign-ins for this account or address; wait {mins} minute(s) and try again, or ask the operator to reset your credentials"
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
    let body = info(
        &actor,
        actor.org().map(|_| req.org.as_str()),
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
    let org = match actor.org() {
        Some(_) => Some(s.coffer.actor_org(&actor).await?.slug.to_string()),
        None => None,
    };
    let Some(value) = session_cookie(&headers) else {
        return Err(ApiError(crate::service::Error::Unauthenticated(
            "no browser session: GET /api/v1/session describes the session cookie, and this request used a token (see GET /api/v1/whoami)".into(),
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
    let mut res = Json(info(&actor, org.as_deref(), csrf, expires)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[utoipa::path(delete, path = "/api/v1/session", responses((status = 204)))]
pub async fn sign_out(
    State(s): State<Arc<AppState>>,
    OverTls(secure): OverTls,
    headers: HeaderMap,
    Caller(_actor): Caller,
) -> Result<Response, ApiError> {
    if let Some(value) = session_cookie(&headers) {
        s.coffer.sign_out(value).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, secure));
    Ok(res)
}
