//! The browser's side of single sign-on: `GET /sso/{org}/login` (also where `coffer login`
//! sends the browser), `GET /sso/{org}/link` (a signed-in person links their account) and
//! `GET /sso/callback`, where the provider sends the browser back.
//!
//! Starting sets the `coffer_sso` cookie (HttpOnly, `SameSite=Lax` so it survives the provider's
//! top-level redirect back, path `/sso`, ten minutes), whose hash the pending sign-in keeps: a
//! callback URL carried to another browser — login CSRF, or an attacker's own sign-in pushed
//! onto a victim — is refused. Linking needs the session cookie, which is `SameSite=Strict`, so
//! another site cannot start a link in someone's name. The callback answers with redirects only:
//! to the org's page with a session, to the CLI's loopback port, or to `/login` with a sentence
//! saying what went wrong (never a token, code or provider detail).

use super::super::AppState;
use super::auth::{Peer, cookie, source};
use super::{over_tls, session_cookie};
use crate::service::sso::{Begin, Finished};
use crate::service::web::SESSION_LIFETIME;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The cookie that binds a sign-in to its browser.
const SSO_COOKIE: &str = "coffer_sso";

fn sso_cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SSO_COOKIE}={value}; Path=/sso; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are base64url")
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

fn redirect(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/login")),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Back to the sign-in page with a sentence.
fn to_login(message: &str) -> Response {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sso_error", message)
        .finish();
    redirect(&format!("/login?{q}"))
}

/// The CLI's part of a login start.
#[derive(serde::Deserialize)]
pub struct LoginQuery {
    cli_port: Option<u16>,
    cli_challenge: Option<String>,
}

fn started(
    begun: crate::service::sso::Begun,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Response {
    let mut res = redirect(&begun.url);
    let secure = over_tls(headers, uri.scheme_str());
    res.headers_mut()
        .insert(header::SET_COOKIE, sso_cookie(&begun.browser, 600, secure));
    res
}

/// `GET /sso/{org}/login`: off to the org's provider.
pub async fn login(
    State(s): State<Arc<AppState>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(q): Query<LoginQuery>,
) -> Response {
    let purpose = match (q.cli_port, q.cli_challenge) {
        (None, None) => Begin::SignIn,
        (Some(port), Some(challenge)) => Begin::Cli { port, challenge },
        _ => {
            return to_login(
                "a CLI login needs both cli_port and cli_challenge; run `coffer login` again",
            );
        }
    };
    match s.coffer.begin_sso(&org, purpose).await {
        Ok(begun) => started(begun, &headers, &uri),
        Err(e) => to_login(&e.to_string()),
    }
}

/// `GET /sso/{org}/link`: the signed-in person confirms their account at the org's provider.
pub async fn link(
    State(s): State<Arc<AppState>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(org): Path<String>,
) -> Response {
    let Some(value) = session_cookie(&headers) else {
        return to_login(
            "sign in first (with your password), then link single sign-on from your account page",
        );
    };
    let actor = match s.coffer.authenticate_session(value).await {
        Ok(a) => a,
        Err(e) => return to_login(&e.to_string()),
    };
    match s.coffer.begin_sso(&org, Begin::Link(&actor)).await {
        Ok(begun) => started(begun, &headers, &uri),
        Err(e) => to_login(&e.to_string()),
    }
}

/// What the provider sends back.
#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /sso/callback`.
pub async fn callback(
    State(s): State<Arc<AppState>>,
    Peer(peer): Peer,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let secure = over_tls(&headers, uri.scheme_str());
    let mut res = match (q.code, q.state, q.error) {
        (_, _, Some(err)) => {
            let said = q
                .error_description
                .map(|d| {
                    d.chars()
                        .filter(|c| !c.is_control())
                        .take(200)
                        .collect::<String>()
                })
                .unwrap_or_default();
            to_login(&format!(
                "the provider ended the sign-in ({}{}{said})",
                err.chars()
                    .filter(char::is_ascii_graphic)
                    .take(60)
                    .collect::<String>(),
                if said.is_empty() { "" } else { ": " }
            ))
        }
        (Some(code), Some(state), None) => {
            let from = source(&headers, peer, &s.server);
            let browser = cookie_value(&headers, SSO_COOKIE);
            match s.coffer.finish_sso(&state, &code, browser, &from).await {
                Ok(Finished::SignedIn { signed, slug }) => {
                    let mut r = redirect(&format!("/orgs/{slug}"));
                    r.headers_mut().append(
                        header::SET_COOKIE,
                        cookie(&signed.value, SESSION_LIFETIME.as_secs(), secure),
                    );
                    r
                }
                Ok(Finished::Linked { slug }) => {
                    redirect(&format!("/account?org={slug}&sso=linked"))
                }
                Ok(Finished::Cli { url }) => redirect(&url),
                Err(e) => to_login(&e.to_string()),
            }
        }
        _ => to_login("the provider sent the browser back without a code; start again"),
    };
    res.headers_mut()
        .append(header::SET_COOKIE, sso_cookie("", 0, secure));
    res
}
