//! `/api/v1/orgs/{org}/groups…`, `…/grants…`, and a secret's `…/shares…`, `…/restricted` and
//! `…/access`: who may use which secrets (`service::access`, docs/access.md).

use super::error::ApiError;
use super::extract::{Body, Caller, Path};
use super::secrets::SecretPath;
use super::{AppState, convert};
use crate::catalog::{GrantRecord, GroupRecord, PrincipalId};
use crate::domain::policy::Actor;
use crate::domain::{GrantId, GrantScope, GroupName, OrgSlug, PrincipalName};
use crate::service::{AccessReport, Error};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use coffer_api as api;
use std::sync::Arc;

type R<T> = Result<T, ApiError>;

/// Path of one group.
#[derive(serde::Deserialize)]
pub struct GroupPath {
    org: String,
    name: String,
}

/// Path of one member of a group.
#[derive(serde::Deserialize)]
pub struct GroupMemberPath {
    org: String,
    name: String,
    member: String,
}

/// Path of one grant.
#[derive(serde::Deserialize)]
pub struct GrantPath {
    org: String,
    id: String,
}

/// Path of one share of a secret.
#[derive(serde::Deserialize)]
pub struct SharePath {
    org: String,
    scope: String,
    name: String,
    principal: String,
}

fn group(g: &GroupRecord, members: Vec<String>) -> api::Group {
    api::Group {
        name: g.name.to_string(),
        members,
        created_by: g.created_by.clone(),
        created_at: g.created_at.to_datetime(),
    }
}

fn grant(g: &GrantRecord, name: &impl Fn(PrincipalId) -> String) -> api::Grant {
    api::Grant {
        id: g.id.as_uuid(),
        scope: g.scope.to_string(),
        principal: name(g.principal),
        level: g.level,
        created_by: g.created_by.clone(),
        created_at: g.created_at.to_datetime(),
    }
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/groups", params(("org" = String, Path)),
    responses((status = 200, body = api::GroupList)))]
pub async fn list_groups(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::GroupList>> {
    let slug = OrgSlug::parse(&org)?;
    let groups = s.coffer.list_groups(&actor, &slug).await?;
    Ok(Json(api::GroupList {
        groups: groups
            .into_iter()
            .map(|(g, names)| group(&g, names))
            .collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/groups", params(("org" = String, Path)), request_body = api::CreateGroupRequest,
    responses((status = 201, body = api::Group)))]
pub async fn create_group(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::CreateGroupRequest>,
) -> R<(StatusCode, Json<api::Group>)> {
    let slug = OrgSlug::parse(&org)?;
    let g = s
        .coffer
        .create_group(&actor, &slug, GroupName::parse(&req.name)?)
        .await?;
    Ok((StatusCode::CREATED, Json(group(&g, vec![]))))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/groups/{name}", params(("org" = String, Path), ("name" = String, Path)),
    responses((status = 204, description = "Deleted, with its grants and shares")))]
pub async fn delete_group(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<GroupPath>,
) -> R<StatusCode> {
    let slug = OrgSlug::parse(&p.org)?;
    s.coffer
        .delete_group(&actor, &slug, &GroupName::parse(&p.name)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_member(
    s: &AppState,
    actor: &Actor,
    p: &GroupMemberPath,
    member: bool,
) -> R<StatusCode> {
    let slug = OrgSlug::parse(&p.org)?;
    s.coffer
        .set_group_member(
            actor,
            &slug,
            &GroupName::parse(&p.name)?,
            &PrincipalName::parse(&p.member)?,
            member,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/orgs/{org}/groups/{name}/members/{member}",
    params(("org" = String, Path), ("name" = String, Path), ("member" = String, Path, description = "`user:NAME` or `svc:NAME`")),
    responses((status = 204, description = "A member (already or now)")))]
pub async fn add_group_member(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<GroupMemberPath>,
) -> R<StatusCode> {
    set_member(&s, &actor, &p, true).await
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/groups/{name}/members/{member}",
    params(("org" = String, Path), ("name" = String, Path), ("member" = String, Path, description = "`user:NAME` or `svc:NAME`")),
    responses((status = 204, description = "Not a member (any more)")))]
pub async fn remove_group_member(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<GroupMemberPath>,
) -> R<StatusCode> {
    set_member(&s, &actor, &p, false).await
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/grants", params(("org" = String, Path)),
    responses((status = 200, body = api::GrantList)))]
pub async fn list_grants(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::GrantList>> {
    let slug = OrgSlug::parse(&org)?;
    let (org, grants) = s.coffer.list_grants(&actor, &slug).await?;
    let names = s.coffer.principal_names(&org).await?;
    Ok(Json(api::GrantList {
        grants: grants.iter().map(|g| grant(g, &names)).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/grants", params(("org" = String, Path)), request_body = api::CreateGrantRequest,
    responses((status = 201, body = api::Grant)))]
pub async fn create_grant(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::CreateGrantRequest>,
) -> R<(StatusCode, Json<api::Grant>)> {
    let slug = OrgSlug::parse(&org)?;
    let scope = GrantScope::parse(req.scope.trim())?;
    let to = PrincipalName::parse(req.to.trim())?;
    let (org, g) = s
        .coffer
        .create_grant(&actor, &slug, scope, &to, req.level)
        .await?;
    let names = s.coffer.principal_names(&org).await?;
    Ok((StatusCode::CREATED, Json(grant(&g, &names))))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/grants/{id}", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 204, description = "Revoked")))]
pub async fn delete_grant(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<GrantPath>,
) -> R<StatusCode> {
    let slug = OrgSlug::parse(&p.org)?;
    let id = uuid::Uuid::parse_str(&p.id)
        .map_err(|_| Error::InvalidInput(format!("{:?} is not a grant id (a UUID)", p.id)))?;
    s.coffer
        .delete_grant(&actor, &slug, GrantId::from_uuid(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn access(r: AccessReport) -> api::SecretAccess {
    api::SecretAccess {
        restricted: r.secret.restricted,
        entries: r
            .holders
            .into_iter()
            .map(|h| api::AccessEntry {
                principal: h.principal,
                kind: convert::kind(h.kind),
                access: h.right.as_str().into(),
                because: h.because,
            })
            .collect(),
        shares: r
            .shares
            .into_iter()
            .map(|(principal, sh)| api::Share {
                principal,
                level: sh.level,
                created_by: sh.created_by,
                created_at: sh.created_at.to_datetime(),
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}/access",
    params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = api::SecretAccess)))]
pub async fn secret_access(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<SecretPath>,
) -> R<Json<api::SecretAccess>> {
    let (slug, scope, name) = p.parse()?;
    let report = s.coffer.secret_access(&actor, &slug, &scope, &name).await?;
    Ok(Json(access(report)))
}

#[utoipa::path(put, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}/shares",
    params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path)), request_body = api::ShareRequest,
    responses((status = 200, body = api::SecretAccess)))]
pub async fn share(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<SecretPath>,
    Body(req): Body<api::ShareRequest>,
) -> R<Json<api::SecretAccess>> {
    let (slug, scope, name) = p.parse()?;
    let with = PrincipalName::parse(req.with.trim())?;
    s.coffer
        .share_secret(&actor, &slug, &scope, &name, &with, req.level)
        .await?;
    let report = s.coffer.secret_access(&actor, &slug, &scope, &name).await?;
    Ok(Json(access(report)))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}/shares/{principal}",
    params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path),
        ("principal" = String, Path, description = "`user:NAME`, `svc:NAME` or `group:NAME`")),
    responses((status = 204, description = "Not shared with it (any more)")))]
pub async fn unshare(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<SharePath>,
) -> R<StatusCode> {
    let target = SecretPath::new(p.org, p.scope, p.name);
    let (slug, scope, name) = target.parse()?;
    let with = PrincipalName::parse(&p.principal)?;
    s.coffer
        .unshare_secret(&actor, &slug, &scope, &name, &with)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/orgs/{org}/secrets/{scope}/{name}/restricted",
    params(("org" = String, Path), ("scope" = String, Path), ("name" = String, Path)), request_body = api::SetRestrictedRequest,
    responses((status = 200, body = api::SecretAccess)))]
pub async fn set_restricted(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(p): Path<SecretPath>,
    Body(req): Body<api::SetRestrictedRequest>,
) -> R<Json<api::SecretAccess>> {
    let (slug, scope, name) = p.parse()?;
    s.coffer
        .set_restricted(&actor, &slug, &scope, &name, req.restricted)
        .await?;
    let report = s.coffer.secret_access(&actor, &slug, &scope, &name).await?;
    Ok(Json(access(report)))
}
