//! `/integrations/forge/*`: the Forge Remote the Jira Cloud app calls (docs/jira-forge.md), and
//! `/api/v1/orgs/{org}/jira/forge` (the installation an org trusts).
//!
//! Every Forge call carries its Forge Invocation Token in `Authorization: Bearer`. The
//! `x-forge-oauth-user` header Forge adds to proxied calls is not used: Coffer cannot tell a
//! proxied call from a direct one, so it is the caller's word, and Jira is asked with the
//! person's own linked token instead. The direct calls (`requestRemote`: reveal and uploads) come from the app's page in the browser, so
//! they answer CORS for `jira.forge.ui_origins`. Per Forge's contract every answer is JSON and a
//! 401 means only "the token was refused".

use super::AppState;
use super::convert;
use super::error::ApiError;
use super::extract::{Body, Caller, Path};
use crate::domain::{AwsRegion, BucketName, OrgSlug, SecretKind, SecretName, UploadId};
use crate::service::forge::Purpose;
use crate::service::jira::WebhookOutcome;
use crate::service::{Error, SetStorage};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use coffer_api as api;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use zeroize::Zeroizing;

type R<T> = Result<T, ApiError>;

/// The largest body of a Forge call (an envelope of the largest secret fits).
pub const MAX_FORGE_BODY: usize = 2 << 20;

fn fit(headers: &HeaderMap) -> Result<&str, Error> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::Unauthenticated("a Forge call carries its Forge Invocation Token".into())
        })
}

fn ticket(headers: &HeaderMap) -> Result<&str, Error> {
    headers
        .get("x-coffer-ticket")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::InvalidInput("this call needs its ticket in X-Coffer-Ticket".into()))
}

/// `POST /integrations/forge/panel`.
pub async fn panel(State(s): State<Arc<AppState>>, headers: HeaderMap) -> R<Json<Value>> {
    let p = s.coffer.forge_panel(fit(&headers)?).await?;
    Ok(Json(json!({
        "org": p.org.to_string(),
        "issue": p.issue.to_string(),
        "account_linked": p.account_linked,
        "link_url": p.link_url,
        "can_write": p.can_write,
        "secrets": p.secrets.iter().map(|s| json!({
            "name": s.name.to_string(),
            "kind": s.kind,
            "version": s.version,
            "updated_at": s.updated_at.to_datetime().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "updated_by": s.updated_by,
            "restricted": s.restricted,
        })).collect::<Vec<_>>(),
        "message": p.message,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketRequest {
    purpose: Purpose,
    name: String,
    #[serde(default)]
    version: Option<u32>,
}

/// `POST /integrations/forge/tickets`.
pub async fn tickets(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Body(req): Body<TicketRequest>,
) -> R<Json<Value>> {
    let name = SecretName::parse(&req.name)?;
    let t = s
        .coffer
        .forge_ticket(fit(&headers)?, req.purpose, &name, req.version)
        .await?;
    Ok(Json(json!({
        "ticket": t,
        "expires_in": crate::service::forge::TICKET_LIFETIME.as_secs(),
    })))
}

/// `POST /integrations/forge/reveal` (direct).
pub async fn reveal(State(s): State<Arc<AppState>>, headers: HeaderMap) -> R<Json<Value>> {
    use base64::Engine;
    let r = s
        .coffer
        .forge_reveal(fit(&headers)?, ticket(&headers)?)
        .await?;
    let value =
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(r.value.as_bytes()));
    Ok(Json(json!({
        "name": r.secret.name.to_string(),
        "version": r.version,
        "kind": r.secret.kind,
        "value": value.as_str(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    #[serde(default)]
    kind: Option<SecretKind>,
    size: u64,
}

/// `POST /integrations/forge/uploads` (direct).
pub async fn upload(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Body(req): Body<UploadRequest>,
) -> R<(StatusCode, Json<Value>)> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let g = s
        .coffer
        .forge_upload(fit(&headers)?, ticket(&headers)?, req.kind, req.size)
        .await?;
    let u = &g.upload;
    let data_key = Zeroizing::new(b64.encode(g.data_key.expose()));
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": u.id.as_uuid(),
            "org_id": u.org.as_uuid(),
            "secret_id": u.secret.as_uuid(),
            "version": u.version,
            "key_version": u.key_version,
            "data_key": data_key.as_str(),
            "wrapped_key": b64.encode(&u.wrapped_key),
            "put_url": format!("/integrations/forge/uploads/{}/envelope", u.id.as_uuid()),
            "presigned": false,
            "expires_at": u.expires_at.to_datetime().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        })),
    ))
}

/// `PUT /integrations/forge/uploads/{id}/envelope` (direct): the envelope as the body
/// (`application/octet-stream`) or as the `file` part of a form (what Forge's bridge sends
/// intact; it turns any other body into text).
pub async fn envelope(
    State(s): State<Arc<AppState>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> R<StatusCode> {
    let id: UploadId = id
        .parse::<uuid::Uuid>()
        .map(UploadId::from_uuid)
        .map_err(|_| Error::InvalidInput(format!("{id:?} is not an upload id")))?;
    // The token before the body: nobody unauthenticated makes Coffer read a form.
    let call = s.coffer.forge_call(fit(&headers)?).await?;
    let too_large = || Error::TooLarge(format!("an envelope is at most {MAX_FORGE_BODY} bytes"));
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let bytes = match multipart {
        Some(boundary) => {
            let mut form = multer::Multipart::with_constraints(
                body.into_data_stream(),
                boundary,
                multer::Constraints::new()
                    .size_limit(multer::SizeLimit::new().whole_stream(MAX_FORGE_BODY as u64)),
            );
            let mut found = None;
            while let Some(field) = form
                .next_field()
                .await
                .map_err(|e| Error::InvalidInput(format!("the form: {e}")))?
            {
                if field.name().is_some_and(|n| n.starts_with("file")) {
                    found = Some(
                        field
                            .bytes()
                            .await
                            .map_err(|e| Error::InvalidInput(format!("the form: {e}")))?,
                    );
                    break;
                }
            }
            found.ok_or_else(|| {
                Error::InvalidInput("the form has no `file` part with the envelope".into())
            })?
        }
        None => axum::body::to_bytes(body, MAX_FORGE_BODY)
            .await
            .map_err(|_| too_large())?,
    };
    s.coffer.forge_put_envelope(&call, id, bytes).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    sha256: String,
}

/// `POST /integrations/forge/uploads/{id}/commit` (direct).
pub async fn commit(
    State(s): State<Arc<AppState>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
    Body(req): Body<CommitRequest>,
) -> R<Json<api::Secret>> {
    let id = id
        .parse::<uuid::Uuid>()
        .map(UploadId::from_uuid)
        .map_err(|_| Error::InvalidInput(format!("{id:?} is not an upload id")))?;
    let secret = s
        .coffer
        .forge_commit(fit(&headers)?, id, &req.sha256)
        .await?;
    Ok(Json(convert::secret(&secret)))
}

/// `POST /integrations/forge/admin`: the Configure page.
pub async fn admin(State(s): State<Arc<AppState>>, headers: HeaderMap) -> R<Json<Value>> {
    let v = s.coffer.forge_admin(fit(&headers)?).await?;
    let storage = match &v.storage.location {
        Some(l) => {
            json!({"custom": true, "bucket": l.bucket.as_str(), "region": l.region.as_str()})
        }
        None => json!({"custom": false}),
    };
    Ok(Json(json!({
        "org": v.org.to_string(),
        "jira_linked": true,
        "forge_linked": true,
        "storage": storage,
        "regions": v.regions.iter().map(AwsRegion::as_str).collect::<Vec<_>>(),
        "byok": {"enabled": v.byok.0, "status": v.byok.1},
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageRequest {
    custom: bool,
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    region: Option<String>,
}

/// `POST /integrations/forge/admin/storage`: the Configure page's Save. A failed check answers
/// 200 with `ok: false` and the failing step, so the sentence reaches the page through Forge's
/// proxy (which turns other statuses into a bare rejection).
pub async fn admin_storage(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Body(req): Body<StorageRequest>,
) -> R<Json<Value>> {
    let set = if req.custom {
        let bucket = BucketName::parse(req.bucket.as_deref().unwrap_or_default())?;
        let region = AwsRegion::parse(req.region.as_deref().unwrap_or_default())?;
        Some(SetStorage {
            bucket,
            region,
            endpoint: None,
            prefix: None,
        })
    } else {
        None
    };
    match s.coffer.forge_admin_storage(fit(&headers)?, set).await {
        Ok(message) => Ok(Json(json!({"ok": true, "message": message}))),
        Err(e @ (Error::Rejected { .. } | Error::Forbidden(_) | Error::InvalidInput(_))) => {
            Ok(Json(json!({"ok": false, "message": e.to_string()})))
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /integrations/forge/events`: Jira events of the app's trigger.
pub async fn events(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Body(body): Body<Value>,
) -> R<Json<Value>> {
    let outcome = s.coffer.forge_event(fit(&headers)?, &body).await?;
    let (o, d) = match outcome {
        WebhookOutcome::Applied(d) => ("applied", d),
        WebhookOutcome::Ignored(d) => ("ignored", d),
    };
    Ok(Json(json!({"outcome": o, "detail": d})))
}

/// `PUT /api/v1/orgs/{org}/jira/forge`: trust a Forge installation (owners).
pub async fn set_link(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::ForgeLinkRequest>,
) -> R<Json<api::ForgeLink>> {
    let slug = OrgSlug::parse(&org)?;
    let l = s
        .coffer
        .set_forge_link(&actor, &slug, &req.app_id, &req.installation_id)
        .await?;
    Ok(Json(api::ForgeLink {
        app_id: l.app_id,
        installation_id: l.installation_id,
        linked_by: l.linked_by,
        linked_at: l.linked_at.to_datetime(),
    }))
}

/// `GET /api/v1/orgs/{org}/jira/forge`.
pub async fn show_link(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::ForgeLink>> {
    let slug = OrgSlug::parse(&org)?;
    let l = s
        .coffer
        .forge_link(&actor, &slug)
        .await?
        .ok_or_else(|| Error::NotFound(format!("org `{slug}` trusts no Forge installation")))?;
    Ok(Json(api::ForgeLink {
        app_id: l.app_id,
        installation_id: l.installation_id,
        linked_by: l.linked_by,
        linked_at: l.linked_at.to_datetime(),
    }))
}

/// `DELETE /api/v1/orgs/{org}/jira/forge`.
pub async fn delete_link(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<StatusCode> {
    let slug = OrgSlug::parse(&org)?;
    s.coffer.delete_forge_link(&actor, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// CORS for the direct calls, from the app's pages at `origins` (`*` in a host: one label or
/// more).
pub fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    let patterns: Vec<String> = origins.to_vec();
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::AllowOrigin::predicate(
            move |origin, _| {
                let Ok(o) = origin.to_str() else {
                    return false;
                };
                patterns.iter().any(|p| origin_matches(p, o))
            },
        ))
        .allow_methods([axum::http::Method::POST, axum::http::Method::PUT])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            axum::http::HeaderName::from_static("x-coffer-ticket"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// Whether `origin` matches `pattern` (`https://*.example.net`: any host under example.net).
fn origin_matches(pattern: &str, origin: &str) -> bool {
    match pattern.split_once("*.") {
        Some((scheme, suffix)) => origin
            .strip_prefix(scheme)
            .and_then(|host| host.strip_suffix(suffix))
            .is_some_and(|label| label.ends_with('.') && label.len() > 1 && !label.contains('/')),
        None => pattern == origin,
    }
}

#[cfg(test)]
mod tests {
    use super::origin_matches;

    #[test]
    fn origins_match_by_pattern_only() {
        let p = "https://*.cdn.prod.atlassian-dev.net";
        assert!(origin_matches(p, "https://abc.cdn.prod.atlassian-dev.net"));
        assert!(origin_matches(p, "https://a.b.cdn.prod.atlassian-dev.net"));
        assert!(!origin_matches(p, "https://cdn.prod.atlassian-dev.net"));
        assert!(!origin_matches(
            p,
            "https://evil.net/x.cdn.prod.atlassian-dev.net"
        ));
        assert!(!origin_matches(p, "http://abc.cdn.prod.atlassian-dev.net"));
        assert!(!origin_matches(
            p,
            "https://abc.cdn.prod.atlassian-dev.net.evil.com"
        ));
        assert!(origin_matches("http://127.0.0.1:9", "http://127.0.0.1:9"));
    }
}
