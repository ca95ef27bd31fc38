//! The browser's side of single sign-on: `GET /sso/{org}/login` (also where `coffer login`
//! sends the browser), `GET /sso/{org}/link` (a signed-in person links their account) and
//! `GET /sso/callback`, where the provider sends the browser back.
//!
//! Starting sets the `coffer_sso` cookie (HttpOnly, `SameSite=Lax` so it survives the provider's
//! top-level redirect back, path `/sso`, ten minutes), whose hash the pending sign-in keeps: a
//! callback URL carried to another browser — an attacker's own sign-in pushed onto a victim — is
//! refused. Starting is refused when the browser says another site sent it (`Sec-Fetch-Site`,
//! else `Origin`), so no site can sign a visitor in to an org it runs or aim a CLI code at a
//! port. Linking needs the session cookie, which is `SameSite=Strict`. The callback answers with
//! redirects only: to the org's page with a session, to the CLI's loopback port, or to `/login`
//! with the sentence saying what went wrong in a one-minute cookie (never a token, code or
//! provider text).

use super::super::AppState;
use super::auth::{Peer, cookie, source};
use super::{OverTls, cross_site, session_cookie};
use crate::service::sso::{Begin, Finished};
use crate::service::web::SESSION_LIFETIME;
use axum::extract::{Path, Query, State};
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

pub(in crate::http) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
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

pub(in crate::http) fn redirect(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/login")),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The cookie that carries a failed sign-in's sentence to the sign-in page.
const ERROR_COOKIE: &str = "coffer_sso_error";

/// Back to the sign-in page with a sentence. The sentence travels in a cookie only the sign-in
/// page reads (for a minute), not in the URL: a link from elsewhere cannot put words there.
fn to_login(message: &str) -> Response {
    let mut res = redirect("/login?sso=failed");
    let encoded: String = url::form_urlencoded::byte_serialize(message.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    let cookie = format!("{ERROR_COOKIE}={encoded}; Path=/login; Max-Age=60; SameSite=Lax");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Refuses a start another site sent the browser to (login CSRF: signing a victim in to an org
/// the attacker runs, or sending a CLI code to a port the attacker listens on).
fn started_elsewhere(headers: &HeaderMap) -> Option<Response> {
    cross_site(headers).map(|from| {
        to_login(&format!(
            "single sign-on can only be started from Coffer's own pages or a URL you open yourself (this came from {from})"
        ))
    })
}

/// The CLI's part of a login start.
#[derive(serde::Deserialize)]
pub struct LoginQuery {
    cli_port: Option<u16>,
    cli_challenge: Option<String>,
}

fn started(begun: crate::service::sso::Begun, secure: bool) -> Response {
    let mut res = redirect(&begun.url);
    res.headers_mut()
        .insert(header::SET_COOKIE, sso_cookie(&begun.browser, 600, secure));
    res
}

/// `GET /sso/{org}/login`: off to the org's provider.
pub async fn login(
    State(s): State<Arc<AppState>>,
    OverTls(secure): OverTls,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(q): Query<LoginQuery>,
) -> Response {
    if let Some(refused) = started_elsewhere(&headers) {
        return refused;
    }
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
        Ok(begun) => started(begun, secure),
        Err(e) => to_login(&e.to_string()),
    }
}

/// `GET /sso/{org}/link`: the signed-in person confirms their account at the org's provider.
pub async fn link(
    State(s): State<Arc<AppState>>,
    OverTls(secure): OverTls,
    headers: HeaderMap,
    Path(org): Path<String>,
) -> Response {
    if let Some(refused) = started_elsewhere(&headers) {
        return refused;
    }
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
        Ok(begun) => started(begun, secure),
        Err(e) => to_login(&e.to_string()),
    }
}

/// What the provider sends back.
#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// `GET /sso/callback`.
pub async fn callback(
    State(s): State<Arc<AppState>>,
    Peer(peer): Peer,
    OverTls(secure): OverTls,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let mut res = match (q.code, q.state, q.error) {
        (_, _, Some(err)) => {
            // The provider's own description is its text, not ours: only its error code shows.
            let code: String = err
                .chars()
                .filter(char::is_ascii_graphic)
                .take(60)
                .collect();
            to_login(&format!("the provider ended the sign-in ({code})"))
        }
        (Some(code), Some(state), None) => {
            let from = source(&headers, peer, &s.server);
            let browser = cookie_value(&headers, SSO_COOKIE);
            match s
                .coffer
                .finish_sso(&state, &code, q.iss.as_deref(), browser, &from)
                .await
            {
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
