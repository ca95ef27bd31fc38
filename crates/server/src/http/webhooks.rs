//! `/api/v1/orgs/{org}/webhooks…`: an org's webhooks and their deliveries — admins and owners
//! (people; never a service account) add, list, remove and re-key webhooks, list deliveries and
//! redeliver one (`service::webhooks`).
//! The signing secret leaves only in the answers to adding and re-keying, which are never
//! cached.

use super::AppState;
use super::error::ApiError;
use super::extract::{Body, Caller, Path, Query};
use crate::catalog::{DeliveryRecord, WebhookRecord};
use crate::domain::{DeliveryId, DeliveryState, OrgSlug, WebhookId};
use crate::service::Error;
use crate::service::webhooks::{KeyedWebhook, NewWebhook, events};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffer_api as api;
use std::sync::Arc;

type R<T> = Result<T, ApiError>;

fn info(w: &WebhookRecord) -> api::WebhookInfo {
    api::WebhookInfo {
        id: w.id.as_uuid(),
        url: w.url.clone(),
        events: w.events.clone(),
        description: w.description.clone(),
        created_at: w.created_at.to_datetime(),
        created_by: w.created_by.clone(),
        secret_rotated_at: w.secret_rotated_at.map(|t| t.to_datetime()),
    }
}

fn delivery(d: &DeliveryRecord) -> api::DeliveryInfo {
    api::DeliveryInfo {
        id: d.id.as_uuid(),
        webhook_id: d.webhook.as_uuid(),
        event_id: events::event_id(d.org, d.seq),
        event: d.event,
        state: d.state,
        attempts: d.attempts,
        created_at: d.created_at.to_datetime(),
        next_attempt_at: (d.state == DeliveryState::Pending)
            .then(|| d.next_attempt_at.to_datetime()),
        last_attempt_at: d.last_attempt_at.map(|t| t.to_datetime()),
        last_status: d.last_status,
        last_error: d.last_error.clone(),
        delivered_at: d.delivered_at.map(|t| t.to_datetime()),
    }
}

fn webhook_id(id: &str) -> Result<WebhookId, Error> {
    uuid::Uuid::parse_str(id)
        .map(WebhookId::from_uuid)
        .map_err(|_| Error::InvalidInput(format!("{id:?} is not a webhook id (a UUID)")))
}

/// An answer that carries a signing secret: never stored by a cache.
fn secret_answer(status: StatusCode, body: impl serde::Serialize) -> Response {
    let mut res = (status, Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn keyed(k: KeyedWebhook) -> (api::WebhookInfo, String) {
    (info(&k.record), k.secret.expose().to_owned())
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/webhooks", params(("org" = String, Path)),
    request_body = api::CreateWebhookRequest,
    responses((status = 201, body = api::CreatedWebhook), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody),
        (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody), (status = 423, body = api::ErrorBody)))]
pub async fn create(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::CreateWebhookRequest>,
) -> R<Response> {
    let slug = OrgSlug::parse(&org)?;
    let created = s
        .coffer
        .create_webhook(
            &actor,
            &slug,
            NewWebhook {
                url: req.url,
                events: req.events,
                description: req.description,
            },
        )
        .await?;
    let (webhook, secret) = keyed(created);
    Ok(secret_answer(
        StatusCode::CREATED,
        api::CreatedWebhook { webhook, secret },
    ))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/webhooks", params(("org" = String, Path)),
    responses((status = 200, body = api::WebhookList), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn list(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::WebhookList>> {
    let hooks = s.coffer.webhooks(&actor, &OrgSlug::parse(&org)?).await?;
    Ok(Json(api::WebhookList {
        webhooks: hooks.iter().map(info).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/webhooks/{id}", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = api::WebhookInfo), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn show(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, id)): Path<(String, String)>,
) -> R<Json<api::WebhookInfo>> {
    let slug = OrgSlug::parse(&org)?;
    let w = s.coffer.webhook(&actor, &slug, webhook_id(&id)?).await?;
    Ok(Json(info(&w)))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/webhooks/{id}", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn remove(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, id)): Path<(String, String)>,
) -> R<StatusCode> {
    let slug = OrgSlug::parse(&org)?;
    s.coffer
        .delete_webhook(&actor, &slug, webhook_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/webhooks/{id}/rotate-secret", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = api::RotatedWebhookSecret), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody),
        (status = 404, body = api::ErrorBody), (status = 423, body = api::ErrorBody)))]
pub async fn rotate_secret(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, id)): Path<(String, String)>,
) -> R<Response> {
    let slug = OrgSlug::parse(&org)?;
    let rotated = s
        .coffer
        .rotate_webhook_secret(&actor, &slug, webhook_id(&id)?)
        .await?;
    let (webhook, secret) = keyed(rotated);
    Ok(secret_answer(
        StatusCode::OK,
        api::RotatedWebhookSecret { webhook, secret },
    ))
}

/// Query of a webhook's deliveries.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Only dead-lettered deliveries (every attempt failed).
    #[serde(default)]
    failed: bool,
    /// At most this many (default 50, at most 1000).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/webhooks/{id}/deliveries", params(("org" = String, Path), ("id" = String, Path), DeliveriesQuery),
    responses((status = 200, body = api::DeliveryList), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn deliveries(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, id)): Path<(String, String)>,
    Query(q): Query<DeliveriesQuery>,
) -> R<Json<api::DeliveryList>> {
    let slug = OrgSlug::parse(&org)?;
    let list = s
        .coffer
        .webhook_deliveries(
            &actor,
            &slug,
            webhook_id(&id)?,
            q.failed,
            q.limit.unwrap_or(50),
        )
        .await?;
    Ok(Json(api::DeliveryList {
        deliveries: list.iter().map(delivery).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/webhooks/deliveries/{id}/redeliver", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = api::DeliveryInfo), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody),
        (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody)))]
pub async fn redeliver(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, id)): Path<(String, String)>,
) -> R<Json<api::DeliveryInfo>> {
    let slug = OrgSlug::parse(&org)?;
    let id = uuid::Uuid::parse_str(&id)
        .map(DeliveryId::from_uuid)
        .map_err(|_| Error::InvalidInput(format!("{id:?} is not a delivery id (a UUID)")))?;
    let d = s.coffer.redeliver(&actor, &slug, id).await?;
    Ok(Json(delivery(&d)))
}
