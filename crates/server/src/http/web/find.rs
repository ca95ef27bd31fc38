//! The search box and the audit page's filters (see `service::web::search`).

use super::super::error::ApiError;
use super::super::extract::{Caller, Path, Query};
use super::super::{AppState, convert};
use crate::domain::{OrgSlug, Timestamp};
use crate::service::Error;
use crate::service::web::search::AuditSearch;
use axum::Json;
use axum::extract::State;
use coffer_api as api;
use std::sync::Arc;

/// Query of the search box.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Text to look for in issue keys, project keys and secret names.
    q: String,
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/search", params(("org" = String, Path), SearchQuery),
    responses((status = 200, body = api::SearchResults)))]
pub async fn search(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<api::SearchResults>, ApiError> {
    let hits = s
        .coffer
        .search_scopes(&actor, &OrgSlug::parse(&org)?, &q.q)
        .await?;
    Ok(Json(api::SearchResults {
        hits: hits
            .into_iter()
            .map(|h| api::SearchHit {
                scope: h.scope,
                names: h.names,
            })
            .collect(),
    }))
}

/// Filters of the audit page.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditSearchQuery {
    /// Only this actor name.
    actor: Option<String>,
    /// Only this action, e.g. `secret.reveal`.
    action: Option<String>,
    /// Only events about this issue or project key.
    issue: Option<String>,
    /// Only events at or after this time (RFC 3339).
    since: Option<String>,
    /// Only events before this time (RFC 3339).
    until: Option<String>,
    /// At most this many, newest first (default 200, at most 1000).
    limit: Option<u32>,
}

fn time_param(name: &str, v: Option<String>) -> Result<Option<Timestamp>, Error> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    time::OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
        .map(|t| Some(Timestamp::from_datetime(t)))
        .map_err(|_| {
            Error::InvalidInput(format!(
                "`{name}` must be an RFC 3339 time like 2026-11-23T10:00:00Z, not {v:?}"
            ))
        })
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/audit/search", params(("org" = String, Path), AuditSearchQuery),
    responses((status = 200, body = api::AuditSearchResults)))]
pub async fn audit(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Query(q): Query<AuditSearchQuery>,
) -> Result<Json<api::AuditSearchResults>, ApiError> {
    let search = AuditSearch {
        since: time_param("since", q.since)?,
        until: time_param("until", q.until)?,
        actor: q.actor,
        action: q.action,
        issue: q.issue,
        limit: q.limit.map_or(200, |n| n as usize),
    };
    let (events, truncated) = s
        .coffer
        .search_audit(&actor, &OrgSlug::parse(&org)?, search)
        .await?;
    Ok(Json(api::AuditSearchResults {
        events: events.iter().map(convert::audit).collect(),
        truncated,
    }))
}
