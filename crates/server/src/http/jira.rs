//! Jira (docs/jira.md): the org's link (`/api/v1/orgs/{org}/jira`: see, connect, disconnect,
//! check, orphans, one issue's answer), a person's own account link (`…/jira/account`), and the
//! integration endpoints Jira and the browser reach: `GET /integrations/jira/{org}/link` (a
//! signed-in person starts the consent), `GET /integrations/jira/callback` (Jira sends the browser
//! back) and `POST /integrations/jira/{org}/webhook` (Jira's admin webhooks).
//!
//! Starting a consent sets the `coffer_jira` cookie (HttpOnly, `SameSite=Lax` so it survives
//! Jira's top-level redirect back, path `/integrations/jira`, ten minutes); the pending consent is
//! found only with it, so a consent URL pushed onto another browser finds nothing. Starting needs
//! the session cookie (`SameSite=Strict`) and is refused when another site sent the browser.

use super::AppState;
use super::error::ApiError;
use super::extract::{Body, Caller, Path};
use super::web::{OverTls, cookie_value, redirect, session_cookie, started_from_site};
use crate::catalog::{JiraAccount, JiraKind};
use crate::domain::{OrgSlug, Scope};
use crate::service::Error;
use crate::service::jira::lifecycle::MAX_WEBHOOK_BYTES;
use crate::service::jira::{ConnectJira, JiraView, WebhookOutcome};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffer_api as api;
use std::sync::Arc;
use zeroize::Zeroizing;

type R<T> = Result<T, ApiError>;

/// The cookie that binds a consent to its browser.
const JIRA_COOKIE: &str = "coffer_jira";
/// The cookie that carries a failed consent's sentence to the account page.
const NOTICE_COOKIE: &str = "coffer_jira_notice";

fn account(a: JiraAccount) -> api::JiraAccountLink {
    api::JiraAccountLink {
        account_id: a.account_id,
        display_name: a.display_name,
        linked_at: a.linked_at.to_datetime(),
    }
}

fn view(v: JiraView, webhook_secret: Option<Zeroizing<String>>) -> api::JiraSettings {
    api::JiraSettings {
        kind: v.site.kind.as_str().into(),
        site: v.site.site_url,
        cloud_id: v.site.cloud_id,
        client_id: v.site.client_id,
        expose_names: v.site.expose_names,
        retention_days: v.site.retention_days,
        webhook_url: v.webhook_url,
        redirect_uri: v.redirect_uri,
        linked_accounts: v.linked_accounts,
        me: v.me.map(account),
        updated_by: v.site.updated_by,
        updated_at: v.site.updated_at.to_datetime(),
        webhook_secret: webhook_secret.map(|s| s.to_string()),
    }
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/jira", params(("org" = String, Path)),
    responses((status = 200, body = api::JiraSettings), (status = 401, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn show(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::JiraSettings>> {
    let slug = OrgSlug::parse(&org)?;
    Ok(Json(view(
        s.coffer.jira_settings(&actor, &slug).await?,
        None,
    )))
}

#[utoipa::path(put, path = "/api/v1/orgs/{org}/jira", params(("org" = String, Path)),
    request_body = api::ConnectJiraRequest,
    responses((status = 200, body = api::JiraSettings), (status = 400, body = api::ErrorBody), (status = 401, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn connect(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::ConnectJiraRequest>,
) -> R<Response> {
    let slug = OrgSlug::parse(&org)?;
    let kind: JiraKind = req
        .kind
        .parse()
        .map_err(|m: String| Error::InvalidInput(format!("kind: {m}")))?;
    let connect = ConnectJira {
        kind,
        site: req.site,
        client_id: req.client_id,
        client_secret: req.client_secret.map(Zeroizing::new),
        expose_names: req.expose_names,
        retention_days: req.retention_days,
        rotate_webhook_secret: req.rotate_webhook_secret,
    };
    let done = s.coffer.connect_jira(&actor, &slug, connect).await?;
    Ok(no_store(
        Json(view(done.view, done.webhook_secret)).into_response(),
    ))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/jira", params(("org" = String, Path)),
    responses((status = 204), (status = 401, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn disconnect(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<StatusCode> {
    let slug = OrgSlug::parse(&org)?;
    s.coffer.disconnect_jira(&actor, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/jira/check", params(("org" = String, Path)),
    responses((status = 200, body = api::JiraCheck), (status = 401, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 503, body = api::ErrorBody)))]
pub async fn check(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::JiraCheck>> {
    let slug = OrgSlug::parse(&org)?;
    let steps = s.coffer.check_jira(&actor, &slug).await?;
    Ok(Json(api::JiraCheck {
        ok: steps.iter().all(|s| s.ok),
        steps: steps
            .into_iter()
            .map(|s| api::JiraCheckStep {
                step: s.step.into(),
                ok: s.ok,
                detail: s.detail,
            })
            .collect(),
    }))
}

/// `after` and `limit` of the orphan check.
#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct OrphanQuery {
    /// Start after this issue key.
    after: Option<String>,
    /// Issues per page (1–200, default 50).
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/jira/orphans", params(("org" = String, Path), OrphanQuery),
    responses((status = 200, body = api::JiraOrphans), (status = 401, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 503, body = api::ErrorBody)))]
pub async fn orphans(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Query(q): Query<OrphanQuery>,
) -> R<Json<api::JiraOrphans>> {
    let slug = OrgSlug::parse(&org)?;
    let page = s
        .coffer
        .jira_orphans(&actor, &slug, q.after.as_deref(), q.limit.unwrap_or(50))
        .await?;
    Ok(Json(api::JiraOrphans {
        total: page.total,
        checked: page.checked.len(),
        orphans: page
            .orphans
            .into_iter()
            .map(|o| api::JiraOrphan {
                issue: o.scope.to_string(),
                secrets: o.secrets,
            })
            .collect(),
        next: page.next,
    }))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/jira/access/{scope}", params(("org" = String, Path), ("scope" = String, Path)),
    responses((status = 200, body = api::JiraAccess), (status = 400, body = api::ErrorBody), (status = 401, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn access(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, scope)): Path<(String, String)>,
) -> R<Json<api::JiraAccess>> {
    let slug = OrgSlug::parse(&org)?;
    let scope = Scope::parse(&scope)?;
    let (answer, admitted, message) = s.coffer.jira_access(&actor, &slug, &scope).await?;
    Ok(Json(api::JiraAccess {
        scope: scope.to_string(),
        jira: answer.as_str().into(),
        admitted,
        message,
    }))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/jira/account", params(("org" = String, Path)),
    responses((status = 200, body = api::JiraAccountLink), (status = 401, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn my_account(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::JiraAccountLink>> {
    let slug = OrgSlug::parse(&org)?;
    let a = s.coffer.my_jira_account(&actor, &slug).await?.ok_or_else(|| {
        Error::NotFound(format!(
            "you have not linked a Jira account in org `{slug}`; link it from the Jira page of the web UI (`coffer jira link` opens it)"
        ))
    })?;
    Ok(Json(account(a)))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/jira/account", params(("org" = String, Path)),
    responses((status = 204), (status = 401, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn unlink_account(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<StatusCode> {
    let slug = OrgSlug::parse(&org)?;
    s.coffer.unlink_jira_account(&actor, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Back to the account page with a sentence, carried in a one-minute cookie only that page reads
/// (not in the URL: a link from elsewhere cannot put words there).
fn to_account(message: &str) -> Response {
    let mut res = redirect("/account?jira=failed");
    let encoded: String = url::form_urlencoded::byte_serialize(message.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    let cookie = format!("{NOTICE_COOKIE}={encoded}; Path=/account; Max-Age=60; SameSite=Lax");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// `GET /integrations/jira/{org}/link`: the signed-in person is sent to Jira to consent.
pub async fn link(
    State(s): State<Arc<AppState>>,
    OverTls(secure): OverTls,
    headers: HeaderMap,
    axum::extract::Path(org): axum::extract::Path<String>,
) -> Response {
    if let Some(from) = started_from_site(&headers) {
        return to_account(&format!(
            "linking a Jira account can only be started from Coffer's own pages (this came from {from})"
        ));
    }
    let Some(value) = session_cookie(&headers) else {
        return redirect("/login");
    };
    let actor = match s.coffer.authenticate_session(value).await {
        Ok(a) => a,
        Err(e) => return to_account(&e.to_string()),
    };
    let slug = match OrgSlug::parse(&org) {
        Ok(s) => s,
        Err(e) => return to_account(&e.to_string()),
    };
    match s.coffer.begin_jira_link(&actor, &slug).await {
        Ok(start) => {
            let mut res = redirect(&start.authorize_url);
            let secure = if secure { "; Secure" } else { "" };
            let cookie = format!(
                "{JIRA_COOKIE}={}; Path=/integrations/jira; HttpOnly; SameSite=Lax; Max-Age=600{secure}",
                start.browser.as_str()
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => to_account(&e.to_string()),
    }
}

/// What Jira sends back.
#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /integrations/jira/callback`.
pub async fn callback(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let started_here = cookie_value(&headers, JIRA_COOKIE).is_some();
    let mut res = match (q.code, q.state, q.error) {
        // Jira's words are not shown (any site can send a browser here with any `error`): a fixed
        // sentence, and only to the browser that started a consent.
        (_, _, Some(_)) if started_here => {
            to_account("Jira ended the consent without linking your account; nothing was linked")
        }
        (_, _, Some(_)) => redirect("/account"),
        (Some(code), Some(state), None) => {
            let browser = cookie_value(&headers, JIRA_COOKIE).unwrap_or_default();
            match s.coffer.finish_jira_link(&state, &code, browser).await {
                Ok(slug) => redirect(&format!("/orgs/{slug}/jira?linked=1")),
                Err(e) => to_account(&e.to_string()),
            }
        }
        _ => to_account("Jira's answer has no code and state; start again from the Jira page"),
    };
    // The binding cookie is spent either way.
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{JIRA_COOKIE}=; Path=/integrations/jira; HttpOnly; SameSite=Lax; Max-Age=0"
    )) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[utoipa::path(post, path = "/integrations/jira/{org}/webhook", params(("org" = String, Path)),
    request_body(content = String, description = "A Jira webhook (JSON), signed with the org's webhook secret in `X-Hub-Signature: sha256=<hex>`"),
    responses((status = 200, body = api::JiraWebhookResult), (status = 400, body = api::ErrorBody), (status = 401, body = api::ErrorBody), (status = 413, body = api::ErrorBody)))]
pub async fn webhook(
    State(s): State<Arc<AppState>>,
    axum::extract::Path(org): axum::extract::Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> R<Json<api::JiraWebhookResult>> {
    let bytes = axum::body::to_bytes(body, MAX_WEBHOOK_BYTES)
        .await
        .map_err(|_| {
            Error::TooLarge(format!(
                "a Jira webhook body may be at most {MAX_WEBHOOK_BYTES} bytes"
            ))
        })?;
    let signature = headers.get("x-hub-signature").and_then(|v| v.to_str().ok());
    let outcome = s.coffer.jira_webhook(&org, signature, &bytes).await?;
    Ok(Json(match outcome {
        WebhookOutcome::Applied(detail) => api::JiraWebhookResult {
            outcome: "applied".into(),
            detail,
        },
        WebhookOutcome::Ignored(detail) => api::JiraWebhookResult {
            outcome: "ignored".into(),
            detail,
        },
    }))
}
