//! The web UI, served by `coffer serve` itself: the HTML shell for every page route, the static
//! ES modules and CSS embedded in the binary ([`assets`]), and the endpoints only the UI needs
//! (sign-in/out, the session, passwords, search, filtered audit) in [`auth`] and [`find`].
//!
//! Security headers go on every response of the server ([`security_headers`]): a strict
//! Content-Security-Policy (no inline script or style, nothing from other origins, no framing),
//! `nosniff`, no referrer to other sites. Browser requests authenticate with the session cookie; the API's
//! `Caller` extractor accepts it through [`session_caller`], which also demands the CSRF header
//! on every request that may change something. docs/web-ui.md has the threat model.

mod assets;
mod auth;
mod find;
mod sso;

pub(super) use self::cross_site as started_from_site;
pub(super) use auth::{Peer, source};
pub(super) use sso::{cookie_value, redirect};

use super::AppState;
use super::error::error_response;
use crate::domain::policy::Actor;
use crate::service::web::csrf_matches;
use axum::Router;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "coffer_session";
/// Header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The Content-Security-Policy of every response, for a deployment whose tenant buckets are at
/// `storage_endpoint` (tests: moto) or AWS (`None`). Browsers `PUT` envelopes straight to
/// presigned bucket URLs, so `connect-src` admits AWS's S3 hosts and that endpoint — and any
/// HTTPS host only when the operator lets tenants use their own S3-compatible endpoints.
pub fn csp(storage_endpoint: Option<&str>, custom_endpoints: bool) -> String {
    let mut connect = vec!["'self'".to_owned(), "https://*.amazonaws.com".to_owned()];
    if let Some(origin) = storage_endpoint
        .and_then(|e| url::Url::parse(e).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
    {
        connect.push(origin);
    }
    if custom_endpoints {
        connect.push("https:".into());
    }
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {}; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
         form-action 'self'",
        connect.join(" ")
    )
}

/// The policy of a running app (from its storage settings).
pub fn csp_for(state: &AppState) -> HeaderValue {
    let s = state.coffer.stores().settings();
    HeaderValue::from_str(&csp(s.aws.endpoint.as_deref(), s.allow_custom_endpoints))
        .expect("the policy is ASCII")
}

/// Page routes (each answers the HTML shell; the ES modules pick the page from the path).
const PAGES: &[&str] = &[
    "/",
    "/login",
    "/invite",
    "/l/{id}",
    "/r/{id}",
    "/account",
    "/orgs/{org}",
    "/orgs/{org}/issues/{key}",
    "/orgs/{org}/shared",
    "/orgs/{org}/admin/members",
    "/orgs/{org}/admin/access",
    "/orgs/{org}/admin/storage",
    "/orgs/{org}/admin/keys",
    "/orgs/{org}/admin/sso",
    "/orgs/{org}/admin/jira",
    "/orgs/{org}/jira",
    "/orgs/{org}/admin/audit",
    "/admin/byok",
];

/// The UI's routes, to merge into the server's router.
pub fn router() -> Router<Arc<AppState>> {
    let mut r = Router::new();
    for page in PAGES {
        r = r.route(page, get(assets::shell));
    }
    r.route("/static/{*file}", get(assets::file))
        .route(
            "/api/v1/session",
            get(auth::current)
                .post(auth::sign_in)
                .delete(auth::sign_out),
        )
        .route("/sso/{org}/login", get(sso::login))
        .route("/sso/{org}/link", get(sso::link))
        .route("/sso/callback", get(sso::callback))
        .route("/api/v1/orgs/{org}/search", get(find::search))
        .route("/api/v1/orgs/{org}/audit/search", get(find::audit))
}

/// The UI's endpoints in the OpenAPI document (merged into `/api/v1/openapi.json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    auth::sign_in,
    auth::current,
    auth::sign_out,
    find::search,
    find::audit
))]
pub struct WebApiDoc;

/// Adds the security headers (with the policy from [`csp_for`]) to every response.
pub async fn security_headers(
    axum::extract::State(policy): axum::extract::State<HeaderValue>,
    req: Request,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, policy);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// Whether the request came over TLS: on a connection Coffer terminated TLS on itself
/// (`[server.tls]`, marked by [`super::serve::TlsConnection`]), or through a proxy that says so
/// (`X-Forwarded-Proto: https`). Cookies set on such requests get `Secure`.
pub struct OverTls(pub bool);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for OverTls {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(OverTls(over_tls(parts)))
    }
}

fn over_tls(parts: &Parts) -> bool {
    parts
        .extensions
        .get::<super::serve::TlsConnection>()
        .is_some()
        || parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').next().map(str::trim) == Some("https"))
}

fn refuse(code: &str, message: &str) -> Response {
    error_response(StatusCode::FORBIDDEN, code, message)
}

/// A request from another site, by the browser's own word: `Sec-Fetch-Site` (sent by current
/// browsers) other than `same-origin`/`none`, or else an `Origin` that is not this host.
/// Returns what gave it away. (Chromium sends `Origin: null` on some same-origin form posts,
/// so when `Sec-Fetch-Site` says same-origin that is what counts.)
pub(super) fn cross_site(headers: &HeaderMap) -> Option<String> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return (!matches!(site, "same-origin" | "none"))
            .then(|| format!("Sec-Fetch-Site: {site}"));
    }
    let origin = headers
        .get(header::ORIGIN)?
        .to_str()
        .unwrap_or("(not text)");
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, h)| h);
    (origin == "null" || origin_host != host).then(|| origin.to_owned())
}

/// The `Caller` of a request that presents a session cookie (and no bearer token): the session
/// must be live, and anything but GET/HEAD must carry the session's CSRF token and must not come
/// from another origin.
pub async fn session_caller(
    parts: &Parts,
    state: &Arc<AppState>,
    value: &str,
) -> Result<Actor, Response> {
    if !matches!(parts.method, Method::GET | Method::HEAD) {
        if let Some(origin) = cross_site(&parts.headers) {
            return Err(refuse(
                "cross_site_request",
                &format!(
                    "this request came from another site ({origin}) and was refused; use Coffer's own pages"
                ),
            ));
        }
        let presented = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if presented.is_empty() {
            return Err(refuse(
                "csrf_token_missing",
                "the X-CSRF-Token header is missing; reload the page and try again (requests that change something must come from Coffer's own pages)",
            ));
        }
        if !csrf_matches(value, presented) {
            return Err(refuse(
                "csrf_token_invalid",
                "the X-CSRF-Token header does not belong to this session; reload the page and try again",
            ));
        }
    }
    state
        .coffer
        .authenticate_session(value)
        .await
        .map_err(|e| super::error::ApiError(e).into_response())
}

#[cfg(test)]
mod tests {
    use super::csp;

    #[test]
    fn connect_src_admits_aws_and_the_configured_endpoint_only() {
        let aws = csp(None, false);
        assert!(
            aws.contains("connect-src 'self' https://*.amazonaws.com;"),
            "{aws}"
        );
        let moto = csp(Some("http://127.0.0.1:5000/"), false);
        assert!(
            moto.contains("https://*.amazonaws.com http://127.0.0.1:5000;"),
            "{moto}"
        );
        assert!(csp(None, true).contains(" https:;"));
        for p in [aws, moto] {
            assert!(
                !p.contains("unsafe") && p.contains("script-src 'self';"),
                "{p}"
            );
        }
    }
}
