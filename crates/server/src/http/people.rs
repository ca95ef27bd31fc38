//! `/api/v1/orgs/{org}/users…`, `…/invitations…`, `…/service-accounts…`, `…/tokens…`, and the
//! deployment-wide `/api/v1/invitations/accept`, `/api/v1/me/password`,
//! `/api/v1/users/{name}/reset`, `/api/v1/credentials/redeem`, `/api/v1/operator/tokens…`:
//! memberships, invitations, service accounts and credentials (`service::people`).

use super::error::ApiError;
use super::extract::{Body, Caller, MaybeCaller, Path};
use super::{AppState, convert};
use crate::domain::{InvitationId, Lifetime, OrgSlug, TokenId, UserName};
use crate::service::{Error, MemberRef, TokenHolder};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use coffer_api as api;
use std::sync::Arc;
use zeroize::Zeroizing;

type R<T> = Result<T, ApiError>;

fn lifetime(secs: Option<u64>) -> Result<Option<Lifetime>, ApiError> {
    Ok(secs
        .map(|s| Lifetime::from_secs("expires_in_seconds", s))
        .transpose()?)
}

fn uuid_param(raw: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map_err(|_| Error::InvalidInput(format!("{raw:?} is not {what} (a UUID)")).into())
}

fn created_token(
    record: &crate::catalog::TokenRecord,
    slug: Option<&str>,
    value: &str,
) -> api::CreatedToken {
    api::CreatedToken {
        info: convert::token(record, slug),
        token: value.to_owned(),
    }
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/users", params(("org" = String, Path)),
    responses((status = 200, body = api::MemberList), (status = 401, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn list_users(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::MemberList>> {
    let members = s.coffer.members(&actor, &OrgSlug::parse(&org)?).await?;
    Ok(Json(api::MemberList {
        users: members.iter().map(convert::member).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/users", params(("org" = String, Path)), request_body = api::AddUserRequest,
    responses((status = 201, body = api::Member), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody)))]
pub async fn add_user(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::AddUserRequest>,
) -> R<(StatusCode, Json<api::Member>)> {
    let m = s
        .coffer
        .add_member(
            &actor,
            &OrgSlug::parse(&org)?,
            UserName::parse(&req.name)?,
            req.role,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(convert::member(&m))))
}

async fn set_role(
    s: &AppState,
    actor: &crate::domain::policy::Actor,
    org: &str,
    who: MemberRef,
    role: api::Role,
) -> R<Json<api::Member>> {
    let m = s
        .coffer
        .change_role(actor, &OrgSlug::parse(org)?, who, role)
        .await?;
    Ok(Json(convert::member(&m)))
}

#[utoipa::path(put, path = "/api/v1/orgs/{org}/users/{name}", params(("org" = String, Path), ("name" = String, Path)), request_body = api::SetRoleRequest,
    responses((status = 200, body = api::Member), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody)))]
pub async fn set_user_role(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, name)): Path<(String, String)>,
    Body(req): Body<api::SetRoleRequest>,
) -> R<Json<api::Member>> {
    let who = MemberRef::Person(UserName::parse(&name)?);
    set_role(&s, &actor, &org, who, req.role).await
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/users/{name}", params(("org" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody)))]
pub async fn remove_user(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, name)): Path<(String, String)>,
) -> R<StatusCode> {
    let who = MemberRef::Person(UserName::parse(&name)?);
    s.coffer
        .remove_member(&actor, &OrgSlug::parse(&org)?, who)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/service-accounts", params(("org" = String, Path)), request_body = api::CreateServiceAccountRequest,
    responses((status = 201, body = api::Member), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody)))]
pub async fn create_service_account(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::CreateServiceAccountRequest>,
) -> R<(StatusCode, Json<api::Member>)> {
    let m = s
        .coffer
        .create_service_account(
            &actor,
            &OrgSlug::parse(&org)?,
            UserName::parse(&req.name)?,
            req.role,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(convert::member(&m))))
}

#[utoipa::path(put, path = "/api/v1/orgs/{org}/service-accounts/{name}", params(("org" = String, Path), ("name" = String, Path)), request_body = api::SetRoleRequest,
    responses((status = 200, body = api::Member), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn set_service_role(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, name)): Path<(String, String)>,
    Body(req): Body<api::SetRoleRequest>,
) -> R<Json<api::Member>> {
    let who = MemberRef::Service(UserName::parse(&name)?);
    set_role(&s, &actor, &org, who, req.role).await
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/service-accounts/{name}", params(("org" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn remove_service_account(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, name)): Path<(String, String)>,
) -> R<StatusCode> {
    let who = MemberRef::Service(UserName::parse(&name)?);
    s.coffer
        .remove_member(&actor, &OrgSlug::parse(&org)?, who)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/invitations", params(("org" = String, Path)), request_body = api::InviteRequest,
    responses((status = 201, body = api::CreatedInvitation), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody)))]
pub async fn invite(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::InviteRequest>,
) -> R<(StatusCode, Json<api::CreatedInvitation>)> {
    let slug = OrgSlug::parse(&org)?;
    let invited = s
        .coffer
        .invite(
            &actor,
            &slug,
            UserName::parse(&req.name)?,
            req.role,
            lifetime(req.expires_in_seconds)?,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(api::CreatedInvitation {
            info: convert::invitation(&invited.invitation, slug.as_str()),
            code: invited.code.to_string(),
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/invitations", params(("org" = String, Path)),
    responses((status = 200, body = api::InvitationList), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn list_invitations(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::InvitationList>> {
    let slug = OrgSlug::parse(&org)?;
    let list = s.coffer.invitations(&actor, &slug).await?;
    Ok(Json(api::InvitationList {
        invitations: list
            .iter()
            .map(|i| convert::invitation(i, slug.as_str()))
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/invitations/{id}", params(("org" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody)))]
pub async fn revoke_invitation(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, id)): Path<(String, String)>,
) -> R<StatusCode> {
    let id = InvitationId::from_uuid(uuid_param(&id, "an invitation id")?);
    s.coffer
        .revoke_invitation(&actor, &OrgSlug::parse(&org)?, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/invitations/accept", request_body = api::AcceptInvitationRequest,
    responses((status = 201, body = api::AcceptedInvitation), (status = 400, body = api::ErrorBody), (status = 401, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody), (status = 410, body = api::ErrorBody)))]
pub async fn accept_invitation(
    State(s): State<Arc<AppState>>,
    MaybeCaller(caller): MaybeCaller,
    Body(req): Body<api::AcceptInvitationRequest>,
) -> R<(StatusCode, Json<api::AcceptedInvitation>)> {
    let code = Zeroizing::new(req.code);
    let password = req.password.map(Zeroizing::new);
    let a = s
        .coffer
        .accept_invitation(caller.as_ref(), &code, password, req.token.unwrap_or(true))
        .await?;
    let slug = a.org.slug.to_string();
    Ok((
        StatusCode::CREATED,
        Json(api::AcceptedInvitation {
            org: slug.clone(),
            user: a.member.user.name.to_string(),
            role: a.member.role,
            token: a.token.map(|(t, v)| created_token(&t, Some(&slug), &v)),
        }),
    ))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/tokens", params(("org" = String, Path)), request_body = api::CreateTokenRequest,
    responses((status = 201, body = api::CreatedToken), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn create_token(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
    Body(req): Body<api::CreateTokenRequest>,
) -> R<(StatusCode, Json<api::CreatedToken>)> {
    let slug = OrgSlug::parse(&org)?;
    if let Some(user) = req.user.as_deref()
        && UserName::parse(user)? != actor.name
    {
        return Err(Error::Forbidden(format!(
            "a token for `{user}` is theirs to create: a person mints their own tokens (`coffer token create` signed in as them); for automation, create a service account and mint its token"
        ))
        .into());
    }
    let holder = match req.service_account.as_deref() {
        Some(sa) => TokenHolder::ServiceAccount(UserName::parse(sa)?),
        None => TokenHolder::Caller,
    };
    let (record, value) = s
        .coffer
        .create_token(
            &actor,
            &slug,
            holder,
            req.name,
            lifetime(req.expires_in_seconds)?,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(created_token(&record, Some(slug.as_str()), &value)),
    ))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/tokens", params(("org" = String, Path)),
    responses((status = 200, body = api::TokenList), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn list_tokens(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> R<Json<api::TokenList>> {
    let slug = OrgSlug::parse(&org)?;
    let tokens = s.coffer.tokens(&actor, &slug).await?;
    Ok(Json(api::TokenList {
        tokens: tokens
            .iter()
            .map(|t| convert::token(t, Some(slug.as_str())))
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/tokens/{id}", params(("org" = String, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn revoke_token(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path((org, id)): Path<(String, String)>,
) -> R<StatusCode> {
    let id = TokenId::from_uuid(uuid_param(&id, "a token id (from `coffer token list`)")?);
    s.coffer
        .revoke_token(&actor, &OrgSlug::parse(&org)?, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/operator/tokens", request_body = api::CreateOperatorTokenRequest,
    responses((status = 201, body = api::CreatedToken), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody)))]
pub async fn create_operator_token(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Body(req): Body<api::CreateOperatorTokenRequest>,
) -> R<(StatusCode, Json<api::CreatedToken>)> {
    let (record, value) = s
        .coffer
        .create_operator_token(&actor, req.name, lifetime(req.expires_in_seconds)?)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(created_token(&record, None, &value)),
    ))
}

#[utoipa::path(get, path = "/api/v1/operator/tokens",
    responses((status = 200, body = api::TokenList), (status = 403, body = api::ErrorBody)))]
pub async fn list_operator_tokens(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
) -> R<Json<api::TokenList>> {
    let tokens = s.coffer.operator_tokens(&actor).await?;
    Ok(Json(api::TokenList {
        tokens: tokens.iter().map(|t| convert::token(t, None)).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/operator/tokens/{id}", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn revoke_operator_token(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> R<StatusCode> {
    let id = TokenId::from_uuid(uuid_param(&id, "a token id")?);
    s.coffer.revoke_operator_token(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/me/password", request_body = api::SetPasswordRequest,
    responses((status = 204), (status = 400, body = api::ErrorBody), (status = 401, body = api::ErrorBody), (status = 403, body = api::ErrorBody)))]
pub async fn set_own_password(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Body(req): Body<api::SetPasswordRequest>,
) -> R<StatusCode> {
    let password = Zeroizing::new(req.password);
    let current = req.current_password.map(Zeroizing::new);
    s.coffer.set_own_password(&actor, current, password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/users/{name}/reset", params(("name" = String, Path)), request_body = api::ResetRequest,
    responses((status = 201, body = api::CreatedReset), (status = 400, body = api::ErrorBody), (status = 403, body = api::ErrorBody), (status = 404, body = api::ErrorBody)))]
pub async fn reset_credentials(
    State(s): State<Arc<AppState>>,
    Caller(actor): Caller,
    Path(name): Path<String>,
    Body(req): Body<api::ResetRequest>,
) -> R<(StatusCode, Json<api::CreatedReset>)> {
    let name = UserName::parse(&name)?;
    let (reset, code) = s
        .coffer
        .reset_credentials(&actor, &name, lifetime(req.expires_in_seconds)?)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(api::CreatedReset {
            user: name.to_string(),
            expires_at: reset.expires_at.to_datetime(),
            code: code.to_string(),
        }),
    ))
}

#[utoipa::path(post, path = "/api/v1/credentials/redeem", request_body = api::RedeemResetRequest,
    responses((status = 200, body = api::RedeemedReset), (status = 400, body = api::ErrorBody), (status = 404, body = api::ErrorBody), (status = 410, body = api::ErrorBody)))]
pub async fn redeem_reset(
    State(s): State<Arc<AppState>>,
    Body(req): Body<api::RedeemResetRequest>,
) -> R<Json<api::RedeemedReset>> {
    let code = Zeroizing::new(req.code);
    let org = req.org.as_deref().map(OrgSlug::parse).transpose()?;
    let (user, token) = s
        .coffer
        .redeem_reset(&code, Zeroizing::new(req.password), org.as_ref())
        .await?;
    Ok(Json(api::RedeemedReset {
        user: user.name.to_string(),
        token: token.map(|(t, v)| created_token(&t, org.as_ref().map(|o| o.as_str()), &v)),
    }))
}
