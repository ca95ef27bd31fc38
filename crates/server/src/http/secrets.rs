//! `/api/v1/orgs/{org}/secrets…`: thin handlers that parse paths into domain types, call the
//! service, and convert records to wire types.

use super::error::ApiError;
use super::extract::{Body, Caller, Path, Presented, Query};
use super::{AppState, B64, convert, secret_body};
use crate::catalog::SecretFilter;
use crate::domain::{IssueKey, OrgSlug, ProjectKey, Scope, SecretName, Timestamp};
use crate::service::{Error, PutSecret};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use coffer_api as api;
use std::sync::Arc;

type R<T> = Result<T, ApiError>;

/// Path of one secret.
#[derive(serde::Deserialize)]
pub struct SecretPath {
    org: String,
    scope: String,
    name: String,
}

impl SecretPath {
    pub(super) fn new(org: String, scope: String, name: String) -> Self {
        Self { org, scope, name }
    }

    pub(super) fn parse(&self) -> Result<(OrgSlug, Scope, SecretName), ApiError> {
        Ok((
            OrgSlug::parse(&self.org)?,
            Scope::parse(&self.scope)?,
            SecretName::parse(&self.name)?,
        ))
    }
}

/// Query of the list endpoint.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this project (e.g. `OPS`).
    project: Option<String>,
    /// Only this issue (e.g. `OPS-123`).
    issue: Option<String>,
    /// Only names starting with this.
    prefix: Option<String>,
    /// Include soft-deleted secrets.
    #[serde(default)]
    deleted: bool,
    /// At most this many (default 1000).
    limit: Option<u32>,
}

/// Query of the reveal endpoint.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevealQuery {
    /// Version to reveal (default: current).
    version: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/secrets", params(("org" = String, Path), ListQuery),
    responses((status = 200, body = api::SecretList), (status = 404, body = api::ErrorBody)))]
pub async fn list(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Query(q): Query<ListQuery>,
) -> R<Json<api::SecretList>> {
    let slug = OrgSlug::parse(&org)?;
    let mut filter = SecretFilter {
        include_deleted: q.deleted,
        limit: q.limit.unwrap_or(1000),
        name_prefix: q.prefix,
        ..Default::default()
    };
    if let Some(issue) = q.issue {
        let issue = IssueKey::parse(&issue)?;
        filter.project = Some(issue.project().clone());
        filter.issue = Some(issue.number());
    } else if let Some(p) = q.project {
        filter.project = Some(ProjectKey::parse(&p)?);
    }
    let secrets = s.coffer.list_secrets(&actor, &slug, filter).await?;
    Ok(Json(api::SecretList {
        secrets: secrets.iter().map(convert::secret).collect(),
        expiry_warning_days: s.coffer.expiry_warning_days(),
    }))
}

#[utoipa::path(put, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}", request_body = api::PutSecretRequest,
    params(("org" = String, Path), ("scope" = String, Path, description = "issue key `OPS-123` or project key `OPS`"), ("name" = String, Path)),
    responses((status = 201, body = api::Secret), (status = 200, body = api::Secret), (status = 409, body = api::ErrorBody),
        (status = 413, body = api::ErrorBody), (status = 423, body = api::ErrorBody)))]
pub async fn put(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<SecretPath>,
    Body(req): Body<api::PutSecretRequest>,
) -> R<(StatusCode, Json<api::Secret>)> {
    let (slug, scope, name) = p.parse()?;
    let value = zeroize::Zeroizing::new(req.value);
    let bytes = B64.decode(value.as_bytes()).map_err(|_| {
        Error::InvalidInput("`value` must be base64 (standard alphabet, padded)".into())
    })?;
    let put = PutSecret {
        scope,
        name,
        value: bytes.into(),
        kind: req.kind,
        expect_version: req.expect_version,
        expires_at: req.expires_at.map(Timestamp::from_datetime),
        view_limit: req.view_limit,
        restricted: req.restricted,
    };
    let (secret, created) = s.coffer.put_secret(&actor, &slug, put).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(convert::secret(&secret))))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}", params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = api::Secret), (status = 404, body = api::ErrorBody)))]
pub async fn get(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<SecretPath>,
) -> R<Json<api::Secret>> {
    let (slug, scope, name) = p.parse()?;
    Ok(Json(convert::secret(
        &s.coffer.secret(&actor, &slug, &scope, &name).await?,
    )))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}/reveal", params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path), RevealQuery),
    responses((status = 200, body = api::RevealedSecret), (status = 404, body = api::ErrorBody), (status = 410, body = api::ErrorBody), (status = 423, body = api::ErrorBody)))]
pub async fn reveal(
    State(s): State<Arc<AppState>>,
    caller: Presented,
    path: Result<Path<SecretPath>, Response>,
    query: Result<Query<RevealQuery>, Response>,
) -> Result<Response, Response> {
    let input = match (path, query) {
        (Ok(Path(p)), Ok(Query(q))) => p
            .parse()
            .map(|(slug, scope, name)| (slug, scope, name, q.version))
            .map_err(IntoResponse::into_response),
        (Err(bad), _) | (_, Err(bad)) => Err(bad),
    };
    let (slug, scope, name, version) = match input {
        Ok(input) => input,
        // A credential is judged before the input, as for every other route.
        Err(bad) => {
            caller
                .resolve(&s)
                .await
                .map_err(IntoResponse::into_response)?;
            return Err(bad);
        }
    };
    // A bearer token is looked up with the reveal's own reads, in one catalog call.
    let revealed = match caller {
        Presented::Actor(actor) => {
            s.coffer
                .reveal_secret(&actor, &slug, &scope, &name, version)
                .await
        }
        Presented::Token { hash, path_org } => {
            s.coffer
                .reveal_secret_with_token(&hash, path_org.as_deref(), &slug, &scope, &name, version)
                .await
        }
    };
    let r = revealed.map_err(|e| ApiError(e).into_response())?;
    // The value goes straight into a body that is zeroed once written (`secret_body`).
    Ok(secret_body::revealed(
        &convert::secret(&r.secret),
        r.version,
        r.value.as_bytes(),
    ))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}/versions", params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = api::SecretHistory), (status = 404, body = api::ErrorBody)))]
pub async fn history(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<SecretPath>,
) -> R<Json<api::SecretHistory>> {
    let (slug, scope, name) = p.parse()?;
    let (secret, versions) = s.coffer.history(&actor, &slug, &scope, &name).await?;
    Ok(Json(api::SecretHistory {
        secret: convert::secret(&secret),
        versions: versions.iter().map(convert::version).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}", params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = api::Secret), (status = 404, body = api::ErrorBody)))]
pub async fn delete(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<SecretPath>,
) -> R<Json<api::Secret>> {
    let (slug, scope, name) = p.parse()?;
    Ok(Json(convert::secret(
        &s.coffer
            .set_deleted(&actor, &slug, &scope, &name, true)
            .await?,
    )))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}/restore", params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = api::Secret), (status = 404, body = api::ErrorBody)))]
pub async fn restore(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<SecretPath>,
) -> R<Json<api::Secret>> {
    let (slug, scope, name) = p.parse()?;
    Ok(Json(convert::secret(
        &s.coffer
            .set_deleted(&actor, &slug, &scope, &name, false)
            .await?,
    )))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}/destroy", params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = api::ErrorBody)))]
pub async fn destroy(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<SecretPath>,
) -> R<StatusCode> {
    let (slug, scope, name) = p.parse()?;
    s.coffer
        .destroy_secret(&actor, &slug, &scope, &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
