//! The HTTP API under `/api/v1`, plus `/healthz`, `/readyz` and `/metrics`, and SCIM 2.0 for
//! identity providers under `/scim/v2` (`scim`: its own protocol and error format).
//!
//! Handlers are thin: parse the path and body into domain types, call one service method, convert
//! the result. Size caps apply before any work (a declared oversize body is refused before it is
//! read; an undeclared one is cut off at the cap), and every error leaves as
//! `{"error": {"code", "message"}}` via [`error::ApiError`].

mod access;
mod audit;
mod backup;
mod convert;
pub mod error;
pub(crate) mod extract; // Object<T> is also reached by testing::fuzz
mod forge;
mod jira;
mod keys;
mod links;
mod openapi;
mod orgs;
mod people;
pub(crate) mod scim; // its filter and patch parsers are also reached by testing::fuzz
mod scim_tokens;
mod secret_body;
mod secrets;
pub mod serve;
mod sso;
mod storage;
pub mod tls;
mod uploads;
pub mod web;
mod webhooks;

use crate::service::Coffer;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use error::error_response;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

/// The wire encoding of secret values: standard alphabet, padded.
pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What handlers share.
pub struct AppState {
    /// The application (its background jobs hold it weakly).
    pub coffer: Arc<Coffer>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// `[server]`: trusted proxies, the `/metrics` token, timeouts.
    pub server: crate::config::ServerConfig,
    /// The origin clients reach Coffer at (`storage.public_origin`): SCIM resources' locations.
    pub public_origin: String,
    /// Origins of the Forge app's pages (`jira.forge.ui_origins`), for the CORS of its direct
    /// calls.
    pub forge_ui_origins: Vec<String>,
}

/// The whole router.
///
/// The API's routes are registered with their full paths rather than `nest`ed under
/// [`coffer_api::API_PREFIX`]: a nested router wraps every route in two more services
/// (`StripPrefix`, `SetNestedPath`) that are cloned, called and dropped on every request, and
/// rewrites the URI — ~3% of a reveal's server CPU (docs/performance.md).
pub fn router(state: Arc<AppState>) -> Router {
    let api = ApiRoutes(Router::new())
        .route("/whoami", get(orgs::whoami))
        .route("/orgs", post(orgs::create).get(orgs::list))
        .route("/orgs/{org}", get(orgs::show))
        .route("/orgs/{org}/keys/rotate", post(orgs::rotate_key))
        .route("/orgs/{org}/recovery-kit", post(orgs::recovery_kit))
        .route(
            "/orgs/{org}/keys",
            get(keys::show).put(keys::set).delete(keys::disable),
        )
        .route("/orgs/{org}/keys/setup", get(keys::setup))
        .route("/orgs/{org}/keys/check", post(keys::check))
        .route("/admin/byok", get(keys::admin_list))
        .route("/admin/backup", post(backup::backup))
        .route(
            "/orgs/{org}/storage",
            get(storage::show).put(storage::set).delete(storage::reset),
        )
        .route("/orgs/{org}/storage/setup", get(storage::setup))
        .route(
            "/orgs/{org}/users",
            post(people::add_user).get(people::list_users),
        )
        .route(
            "/orgs/{org}/users/{name}",
            put(people::set_user_role).delete(people::remove_user),
        )
        .route(
            "/orgs/{org}/service-accounts",
            post(people::create_service_account),
        )
        .route(
            "/orgs/{org}/service-accounts/{name}",
            put(people::set_service_role).delete(people::remove_service_account),
        )
        .route(
            "/orgs/{org}/invitations",
            post(people::invite).get(people::list_invitations),
        )
        .route(
            "/orgs/{org}/invitations/{id}",
            delete(people::revoke_invitation),
        )
        .route("/invitations/accept", post(people::accept_invitation))
        .route(
            "/orgs/{org}/tokens",
            post(people::create_token).get(people::list_tokens),
        )
        .route("/orgs/{org}/tokens/{id}", delete(people::revoke_token))
        .route(
            "/operator/tokens",
            post(people::create_operator_token).get(people::list_operator_tokens),
        )
        .route(
            "/operator/tokens/{id}",
            delete(people::revoke_operator_token),
        )
        .route("/me/password", put(people::set_own_password))
        .route("/users/{name}/reset", post(people::reset_credentials))
        .route("/credentials/redeem", post(people::redeem_reset))
        .route("/orgs/{org}/secrets", get(secrets::list))
        .route(
            "/orgs/{org}/secrets/{scope}/{name}",
            get(secrets::get).put(secrets::put).delete(secrets::delete),
        )
        .route(
            "/orgs/{org}/secrets/{scope}/{name}/reveal",
            post(secrets::reveal),
        )
        .route(
            "/orgs/{org}/secrets/{scope}/{name}/versions",
            get(secrets::history),
        )
        .route(
            "/orgs/{org}/secrets/{scope}/{name}/restore",
            post(secrets::restore),
        )
        .route(
            "/orgs/{org}/secrets/{scope}/{name}/destroy",
            post(secrets::destroy),
        )
        .route(
            "/orgs/{org}/secrets/{scope}/{name}/uploads",
            post(uploads::create),
        )
        .route(
            "/orgs/{org}/uploads/{id}/envelope",
            axum::routing::put(uploads::put_envelope),
        )
        .route("/orgs/{org}/uploads/{id}/commit", post(uploads::commit))
        .route(
            "/orgs/{org}/secrets/{scope}/{name}/versions/{n}/envelope-url",
            post(uploads::envelope_url),
        )
        .route(
            "/orgs/{org}/groups",
            get(access::list_groups).post(access::create_group),
        )
        .route("/orgs/{org}/groups/{name}", delete(access::delete_group))
        .route(
            "/orgs/{org}/groups/{name}/members/{member}",
            put(access::add_group_member).delete(access::remove_group_member),
        )
        .route(
            "/orgs/{org}/grants",
            get(access::list_grants).post(access::create_grant),
        )
        .route("/orgs/{org}/grants/{id}", delete(access::delete_grant))
        .route(
            "/orgs/{org}/secrets/{scope}/{name}/access",
            get(access::secret_access),
        )
        .route(
            "/orgs/{org}/secrets/{scope}/{name}/shares",
            put(access::share),
        )
        .route(
            "/orgs/{org}/secrets/{scope}/{name}/shares/{principal}",
            delete(access::unshare),
        )
        .route(
            "/orgs/{org}/secrets/{scope}/{name}/restricted",
            put(access::set_restricted),
        )
        .route(
            "/orgs/{org}/sso",
            get(sso::show).put(sso::set).delete(sso::remove),
        )
        .route(
            "/orgs/{org}/jira",
            get(jira::show).put(jira::connect).delete(jira::disconnect),
        )
        .route("/orgs/{org}/jira/check", post(jira::check))
        .route(
            "/orgs/{org}/jira/forge",
            get(forge::show_link)
                .put(forge::set_link)
                .delete(forge::delete_link),
        )
        .route("/orgs/{org}/jira/orphans", get(jira::orphans))
        .route("/orgs/{org}/jira/access/{scope}", get(jira::access))
        .route(
            "/orgs/{org}/jira/account",
            get(jira::my_account).delete(jira::unlink_account),
        )
        .route(
            "/orgs/{org}/scim/tokens",
            post(scim_tokens::create).get(scim_tokens::list),
        )
        .route("/orgs/{org}/scim/tokens/{id}", delete(scim_tokens::revoke))
        .route(
            "/orgs/{org}/webhooks",
            post(webhooks::create).get(webhooks::list),
        )
        .route(
            "/orgs/{org}/webhooks/{id}",
            get(webhooks::show).delete(webhooks::remove),
        )
        .route(
            "/orgs/{org}/webhooks/{id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route(
            "/orgs/{org}/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/orgs/{org}/webhooks/deliveries/{id}/redeliver",
            post(webhooks::redeliver),
        )
        .route(
            "/orgs/{org}/secrets/{scope}/{name}/links",
            post(links::create_link),
        )
        .route("/orgs/{org}/links", get(links::list_links))
        .route("/orgs/{org}/links/{id}", delete(links::revoke_link))
        .route("/links/{id}", get(links::link_status))
        .route("/links/{id}/open", post(links::open_link))
        .route(
            "/orgs/{org}/secrets/{scope}/{name}/requests",
            post(links::create_request),
        )
        .route("/orgs/{org}/requests", get(links::list_requests))
        .route("/orgs/{org}/requests/{id}", delete(links::revoke_request))
        .route("/requests/{id}", get(links::request_status))
        .route("/requests/{id}/fulfil", post(links::fulfil_request))
        .route("/sso/token", post(sso::cli_token))
        .route("/orgs/{org}/audit", get(audit::list))
        .route("/orgs/{org}/audit/verify", get(audit::verify))
        .route("/openapi.json", get(openapi::document))
        .0;
    api.route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/integrations/jira/{org}/link", get(jira::link))
        .route("/integrations/jira/callback", get(jira::callback))
        .route("/integrations/jira/{org}/webhook", post(jira::webhook))
        .route("/integrations/forge/panel", post(forge::panel))
        .route("/integrations/forge/tickets", post(forge::tickets))
        .route("/integrations/forge/admin", post(forge::admin))
        .route(
            "/integrations/forge/admin/storage",
            post(forge::admin_storage),
        )
        .route("/integrations/forge/events", post(forge::events))
        .merge(
            Router::new()
                .route("/integrations/forge/reveal", post(forge::reveal))
                .route("/integrations/forge/uploads", post(forge::upload))
                .route(
                    "/integrations/forge/uploads/{id}/envelope",
                    put(forge::envelope),
                )
                .route(
                    "/integrations/forge/uploads/{id}/commit",
                    post(forge::commit),
                )
                .layer(forge::cors(&state.forge_ui_origins)),
        )
        .fallback(|| async {
            error_response(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint; see /api/v1/openapi.json",
            )
        })
        .merge(web::router())
        .nest(scim::BASE, scim::router(state.clone()))
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard_and_measure,
        ))
        .layer(middleware::from_fn_with_state(
            web::csp_for(&state),
            web::security_headers,
        ))
        .with_state(state)
}

/// A router whose `route` puts [`coffer_api::API_PREFIX`] in front of each path.
struct ApiRoutes(Router<Arc<AppState>>);

impl ApiRoutes {
    fn route(self, path: &str, handler: MethodRouter<Arc<AppState>>) -> Self {
        Self(
            self.0
                .route(&format!("{}{path}", coffer_api::API_PREFIX), handler),
        )
    }
}

/// Refuses a declared oversize body before reading it, cuts a request that takes longer than
/// `server.request_timeout` (a body trickled in to hold the connection), and records route,
/// status and latency.
async fn guard_and_measure(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let method = method_label(req.method());
    let started = Instant::now();
    let response = if declared.is_some_and(|n| n > state.max_body_bytes) {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the request body is over the {} byte limit (limits.max_secret_bytes)",
                state.max_body_bytes
            ),
        )
    } else {
        match tokio::time::timeout(state.server.request_timeout, next.run(req)).await {
            Ok(response) => response,
            Err(_) => error_response(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request took longer than {}s (server.request_timeout); send it again without pausing",
                    state.server.request_timeout.as_secs()
                ),
            ),
        }
    };
    let m = state.coffer.metrics();
    let status = response.status().as_u16();
    m.http_requests
        .get_or_create(&crate::metrics::HttpLabels {
            route: route.clone(),
            method,
            status,
        })
        .inc();
    m.http_latency
        .get_or_create(&crate::metrics::RouteLabels { route })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The method as a metric label: the standard methods by name, anything else as `OTHER`, so a
/// client inventing methods cannot create new series.
fn method_label(method: &Method) -> Cow<'static, str> {
    Cow::Borrowed(match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    })
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.coffer.catalog().list_orgs().await {
        Ok(_) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the catalog is unreachable",
            )
        }
    }
}

async fn metrics(State(state): State<Arc<AppState>>, headers: axum::http::HeaderMap) -> Response {
    if let Some(want) = &state.server.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !want.matches(presented.trim()) {
            let mut res = error_response(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "/metrics needs `Authorization: Bearer <server.metrics_token>`",
            );
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
            return res;
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.coffer.metrics().render(),
    )
        .into_response()
}
