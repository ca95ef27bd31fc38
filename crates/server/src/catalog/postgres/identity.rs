//! [`IdentityCatalog`] on PostgreSQL: `users`, `memberships`, `invitations` and
//! `credential_resets` (migration 6). Each write is one transaction with its audit events.
//!
//! Concurrency: a membership change first locks the org row (`FOR NO KEY UPDATE`, the lock the
//! audit append takes anyway), so two owners demoted at once on two nodes queue and the second
//! sees the first's result when it counts owners. Using a code (invitation, reset) is a
//! conditional `UPDATE … WHERE <still pending>`: of two racing acceptances, the one that waited
//! re-evaluates the condition on the committed row and changes nothing. Seating the operator
//! takes an advisory lock so that racing nodes write one operator and one token.

use super::tx::{self, Q, in_tx};
use super::{PostgresCatalog, reads, rows, web, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    Acceptance, CatalogError, ENDED_INVITATIONS_LISTED_MS, IdentityCatalog, InvitationRecord,
    Invitee, LAST_OWNER, MemberRecord, MembershipRecord, Redemption, ResetRecord, TokenRecord,
    UserRecord, rules,
};
use crate::domain::{
    IdentityKind, InvitationId, OrgId, ResetId, Role, Timestamp, UserId, UserName,
};
use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

type R<T> = Result<T, CatalogError>;

/// Advisory-lock key serializing `seat_operator` ("coffer" + 2).
const SEAT_OPERATOR_LOCK: i64 = 0x636f_6666_6572_0002;

pub(super) async fn lock_org(c: &mut PgConnection, org: OrgId) -> Q<()> {
    sqlx::query("SELECT 1 FROM orgs WHERE id = $1 FOR NO KEY UPDATE")
        .bind(org.as_uuid())
        .fetch_one(c)
        .await?;
    Ok(())
}

/// After a change to a member who was `before`: refuses if it took the org's last owner away.
async fn keep_an_owner(c: &mut PgConnection, org: OrgId, before: Role) -> Q<()> {
    if before != Role::Owner {
        return Ok(());
    }
    let owners: i64 =
        sqlx::query_scalar("SELECT count(*) FROM memberships WHERE org_id = $1 AND role = 'owner'")
            .bind(org.as_uuid())
            .fetch_one(c)
            .await?;
    if rules::owners_left_ok(owners as u64) {
        Ok(())
    } else {
        Err(CatalogError::Refused(LAST_OWNER.into()).into())
    }
}

/// Revokes every token and session of `user` in `org` (`None`: everywhere), and the one-time
/// links and requests they made there.
pub(super) async fn revoke_credentials(
    c: &mut PgConnection,
    user: UserId,
    org: Option<OrgId>,
    at: Timestamp,
) -> Q<()> {
    for table in ["tokens", "web_sessions"] {
        let sql = format!(
            "UPDATE {table} SET revoked_at = $3 WHERE user_id = $1 \
             AND ($2::uuid IS NULL OR org_id = $2) AND revoked_at IS NULL"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.as_uuid())
            .bind(org.map(|o| o.as_uuid()))
            .bind(at.millis())
            .execute(&mut *c)
            .await?;
    }
    // A Jira account link is the person's credential at Jira: it goes with the others, and so do
    // the consents they have in flight.
    for table in ["jira_accounts", "jira_pending"] {
        let sql =
            format!("DELETE FROM {table} WHERE user_id = $1 AND ($2::uuid IS NULL OR org_id = $2)");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.as_uuid())
            .bind(org.map(|o| o.as_uuid()))
            .execute(&mut *c)
            .await?;
    }
    super::links::revoke_outside_shares(c, Some((user, org)), None, at).await
}

async fn seat_operator(c: &mut PgConnection, user: &UserRecord, token: &TokenRecord) -> Q<bool> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SEAT_OPERATOR_LOCK)
        .execute(&mut *c)
        .await?;
    let existing: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM users WHERE kind = 'operator'")
            .fetch_optional(&mut *c)
            .await?;
    let operator = match existing {
        None => {
            writes::insert_user(c, user).await?;
            user.id
        }
        Some(id) => {
            let has_token: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tokens WHERE user_id = $1)")
                    .bind(id)
                    .fetch_one(&mut *c)
                    .await?;
            if has_token {
                return Ok(false);
            }
            UserId::from_uuid(id)
        }
    };
    writes::insert_token(
        c,
        &TokenRecord {
            user: operator,
            ..token.clone()
        },
    )
    .await?;
    Ok(true)
}

async fn add_member(
    c: &mut PgConnection,
    org: OrgId,
    user: UserId,
    role: Role,
    a: &AuditDraft,
) -> Q<MemberRecord> {
    writes::insert_member(c, org, user, role).await?;
    writes::append_audit(c, a).await?;
    reads::member(c, org, user).await
}

async fn change_role(
    c: &mut PgConnection,
    org: OrgId,
    user: UserId,
    role: Role,
    a: &AuditDraft,
) -> Q<MemberRecord> {
    lock_org(c, org).await?;
    let before = reads::member(c, org, user).await?.role;
    sqlx::query("UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2")
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .bind(role.as_str())
        .execute(&mut *c)
        .await?;
    keep_an_owner(c, org, before).await?;
    writes::append_audit(c, a).await?;
    reads::member(c, org, user).await
}

/// Ends `user`'s membership of `org` (the org row must be locked): revokes their tokens and
/// sessions there and forgets their groups, grants, shares, SSO link and SCIM record, refusing
/// to take the org's last owner. Returns the role they had; `NotFound` if they were not a
/// member. Removing a member and SCIM's deactivation both end a membership through here.
pub(super) async fn end_membership(
    c: &mut PgConnection,
    org: OrgId,
    user: UserId,
    at: Timestamp,
) -> Q<Role> {
    let before = reads::member(c, org, user).await?.role;
    sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .execute(&mut *c)
        .await?;
    keep_an_owner(c, org, before).await?;
    revoke_credentials(c, user, Some(org), at).await?;
    super::access::forget_member(c, org, user).await?;
    super::sso::forget_member(c, org, user).await?;
    super::scim::forget_member(c, org, user).await?;
    Ok(before)
}

async fn remove_member(
    c: &mut PgConnection,
    org: OrgId,
    user: UserId,
    at: Timestamp,
    a: &AuditDraft,
) -> Q<()> {
    lock_org(c, org).await?;
    end_membership(c, org, user, at).await?;
    writes::append_audit(c, a).await
}

async fn create_service_account(
    c: &mut PgConnection,
    user: &UserRecord,
    role: Role,
    a: &AuditDraft,
) -> Q<MemberRecord> {
    let org = user
        .org
        .filter(|_| user.kind == IdentityKind::Service)
        .ok_or_else(|| CatalogError::Refused("not a service account of an org".into()))?;
    writes::insert_user(c, user).await?;
    writes::insert_member(c, org, user.id, role).await?;
    writes::append_audit(c, a).await?;
    reads::member(c, org, user.id).await
}

macro_rules! invitation_cols {
    () => {
        "id, hash, org_id, name, role, created_by, created_at, expires_at, accepted_at, revoked_at"
    };
}

fn invitation_row(r: &PgRow) -> Result<InvitationRecord, CatalogError> {
    Ok(InvitationRecord {
        id: InvitationId::from_uuid(rows::get(r, 0)?),
        hash: rows::get(r, 1)?,
        org: OrgId::from_uuid(rows::get(r, 2)?),
        name: rows::parse(r, 3, |s| UserName::parse(s).ok())?,
        role: rows::role_at(r, 4)?,
        created_by: rows::get(r, 5)?,
        created_at: rows::ts(r, 6)?,
        expires_at: rows::ts(r, 7)?,
        accepted_at: rows::opt_ts(r, 8)?,
        revoked_at: rows::opt_ts(r, 9)?,
    })
}

async fn invitation_by_id(c: &mut PgConnection, id: InvitationId) -> Q<InvitationRecord> {
    let row = sqlx::query(concat!(
        "SELECT ",
        invitation_cols!(),
        " FROM invitations WHERE id = $1"
    ))
    .bind(id.as_uuid())
    .fetch_one(c)
    .await?;
    Ok(invitation_row(&row)?)
}

/// Marks `id` used at `at` if it is still pending; whether it was.
async fn use_invitation(
    c: &mut PgConnection,
    id: InvitationId,
    at: Timestamp,
    column: &str,
) -> Q<bool> {
    let sql = format!(
        "UPDATE invitations SET {column} = $2 WHERE id = $1 AND accepted_at IS NULL \
         AND revoked_at IS NULL AND expires_at > $2"
    );
    let n = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.as_uuid())
        .bind(at.millis())
        .execute(c)
        .await?
        .rows_affected();
    Ok(n == 1)
}

async fn create_invitation(c: &mut PgConnection, i: &InvitationRecord, a: &AuditDraft) -> Q<()> {
    sqlx::query(
        "UPDATE invitations SET revoked_at = $3 WHERE org_id = $1 AND name = $2 \
         AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(i.org.as_uuid())
    .bind(i.name.as_str())
    .bind(i.created_at.millis())
    .execute(&mut *c)
    .await?;
    sqlx::query(concat!(
        "INSERT INTO invitations (",
        invitation_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL)"
    ))
    .bind(i.id.as_uuid())
    .bind(&i.hash[..])
    .bind(i.org.as_uuid())
    .bind(i.name.as_str())
    .bind(i.role.as_str())
    .bind(&i.created_by)
    .bind(i.created_at.millis())
    .bind(i.expires_at.millis())
    .execute(&mut *c)
    .await?;
    writes::append_audit(c, a).await
}

async fn revoke_invitation(
    c: &mut PgConnection,
    org: OrgId,
    id: InvitationId,
    at: Timestamp,
    a: &AuditDraft,
) -> Q<InvitationRecord> {
    let found = invitation_by_id(c, id).await?;
    if found.org != org {
        return Err(CatalogError::NotFound.into());
    }
    if !use_invitation(c, id, at, "revoked_at").await? {
        return Err(CatalogError::Refused("the invitation is no longer pending".into()).into());
    }
    writes::append_audit(c, a).await?;
    invitation_by_id(c, id).await
}

async fn accept_invitation(
    c: &mut PgConnection,
    x: &Acceptance,
    audit: &[AuditDraft],
) -> Q<MemberRecord> {
    let inv = invitation_by_id(c, x.invitation).await?;
    if !use_invitation(c, inv.id, x.at, "accepted_at").await? {
        return Err(CatalogError::Refused(
            "the invitation was already used, revoked, or has expired".into(),
        )
        .into());
    }
    let person = match &x.invitee {
        Invitee::New(u) => {
            if u.kind != IdentityKind::Person || u.name != inv.name {
                return Err(
                    CatalogError::Refused("the invitation is for another name".into()).into(),
                );
            }
            writes::insert_user(c, u).await?;
            u.id
        }
        Invitee::Existing(id) => {
            let u = reads::user_by_id(c, *id).await?;
            if u.kind != IdentityKind::Person || u.name != inv.name {
                return Err(
                    CatalogError::Refused("the invitation is for another person".into()).into(),
                );
            }
            u.id
        }
    };
    if x.token
        .as_ref()
        .is_some_and(|t| t.user != person || t.org != Some(inv.org))
    {
        return Err(
            CatalogError::Refused("the token does not belong to the invitation".into()).into(),
        );
    }
    writes::insert_member(c, inv.org, person, inv.role).await?;
    if let Some(phc) = &x.password {
        web::store_password(c, person, phc, x.at).await?;
    }
    if let Some(t) = &x.token {
        writes::insert_token(c, t).await?;
    }
    for d in audit {
        writes::append_audit(c, d).await?;
    }
    reads::member(c, inv.org, person).await
}

macro_rules! reset_cols {
    () => {
        "id, hash, user_id, created_at, expires_at, used_at"
    };
}

fn reset_row(r: &PgRow) -> Result<ResetRecord, CatalogError> {
    Ok(ResetRecord {
        id: ResetId::from_uuid(rows::get(r, 0)?),
        hash: rows::get(r, 1)?,
        user: UserId::from_uuid(rows::get(r, 2)?),
        created_at: rows::ts(r, 3)?,
        expires_at: rows::ts(r, 4)?,
        used_at: rows::opt_ts(r, 5)?,
    })
}

async fn reset_credentials(
    c: &mut PgConnection,
    reset: &ResetRecord,
    audit: &[AuditDraft],
) -> Q<()> {
    let user = reads::user_by_id(c, reset.user).await?;
    if user.kind != IdentityKind::Person {
        return Err(CatalogError::NotFound.into());
    }
    revoke_credentials(c, user.id, None, reset.created_at).await?;
    sqlx::query("DELETE FROM user_passwords WHERE user_id = $1")
        .bind(user.id.as_uuid())
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM credential_resets WHERE user_id = $1 AND used_at IS NULL")
        .bind(user.id.as_uuid())
        .execute(&mut *c)
        .await?;
    sqlx::query(concat!(
        "INSERT INTO credential_resets (",
        reset_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, NULL)"
    ))
    .bind(reset.id.as_uuid())
    .bind(&reset.hash[..])
    .bind(user.id.as_uuid())
    .bind(reset.created_at.millis())
    .bind(reset.expires_at.millis())
    .execute(&mut *c)
    .await?;
    for d in audit {
        writes::append_audit(c, d).await?;
    }
    Ok(())
}

async fn redeem_reset(c: &mut PgConnection, x: &Redemption, audit: &[AuditDraft]) -> Q<UserRecord> {
    let user: Option<uuid::Uuid> = sqlx::query_scalar(
        "UPDATE credential_resets SET used_at = $2 WHERE id = $1 AND used_at IS NULL \
         AND expires_at > $2 RETURNING user_id",
    )
    .bind(x.reset.as_uuid())
    .bind(x.at.millis())
    .fetch_optional(&mut *c)
    .await?;
    let user = UserId::from_uuid(user.ok_or_else(|| {
        CatalogError::Refused("the reset code was already used or has expired".into())
    })?);
    web::store_password(c, user, &x.password, x.at).await?;
    if let Some(t) = &x.token {
        let member = match t.org {
            Some(org) => reads::member(c, org, user).await.ok(),
            None => None,
        };
        if t.user != user || member.is_none() {
            return Err(
                CatalogError::Refused("the token does not belong to the reset".into()).into(),
            );
        }
        writes::insert_token(c, t).await?;
    }
    for d in audit {
        writes::append_audit(c, d).await?;
    }
    reads::user_by_id(c, user).await
}

#[async_trait]
impl IdentityCatalog for PostgresCatalog {
    async fn user_by_id(&self, id: UserId) -> R<UserRecord> {
        self.read(async |c| reads::user_by_id(c, id).await).await
    }
    async fn user_by_name(&self, name: &UserName) -> R<UserRecord> {
        self.read(async |c| reads::user_by_name(c, name).await)
            .await
    }
    async fn service_account(&self, org: OrgId, name: &UserName) -> R<UserRecord> {
        self.read(async |c| reads::service_account(c, org, name).await)
            .await
    }
    async fn memberships(&self, user: UserId) -> R<Vec<MembershipRecord>> {
        self.read(async |c| reads::memberships(c, user).await).await
    }
    async fn seat_operator(&self, user: UserRecord, token: TokenRecord) -> R<bool> {
        in_tx!(self, |c| seat_operator(c, &user, &token).await)
    }
    async fn add_member(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        a: AuditDraft,
    ) -> R<MemberRecord> {
        in_tx!(self, |c| add_member(c, org, user, role, &a).await)
    }
    async fn change_role(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        a: AuditDraft,
    ) -> R<MemberRecord> {
        in_tx!(self, |c| change_role(c, org, user, role, &a).await)
    }
    async fn remove_member(&self, org: OrgId, user: UserId, at: Timestamp, a: AuditDraft) -> R<()> {
        in_tx!(self, |c| remove_member(c, org, user, at, &a).await)
    }
    async fn create_service_account(
        &self,
        user: UserRecord,
        role: Role,
        a: AuditDraft,
    ) -> R<MemberRecord> {
        in_tx!(self, |c| create_service_account(c, &user, role, &a).await)
    }
    async fn create_invitation(&self, i: InvitationRecord, a: AuditDraft) -> R<()> {
        in_tx!(self, |c| create_invitation(c, &i, &a).await)
    }
    async fn invitation(&self, hash: &[u8; 32]) -> R<Option<InvitationRecord>> {
        self.read(async |c| {
            let row = sqlx::query(concat!(
                "SELECT ",
                invitation_cols!(),
                " FROM invitations WHERE hash = $1"
            ))
            .bind(&hash[..])
            .fetch_optional(c)
            .await?;
            Ok(row.as_ref().map(invitation_row).transpose()?)
        })
        .await
    }
    async fn list_invitations(&self, org: OrgId, now: Timestamp) -> R<Vec<InvitationRecord>> {
        let since = now.millis() - ENDED_INVITATIONS_LISTED_MS;
        self.read(async |c| {
            let list = sqlx::query(concat!(
                "SELECT ",
                invitation_cols!(),
                " FROM invitations WHERE org_id = $1 AND greatest(expires_at, \
                 coalesce(accepted_at, 0), coalesce(revoked_at, 0)) > $2 \
                 ORDER BY created_at DESC, id DESC"
            ))
            .bind(org.as_uuid())
            .bind(since)
            .fetch_all(c)
            .await?;
            Ok(rows::all(&list, invitation_row)?)
        })
        .await
    }
    async fn revoke_invitation(
        &self,
        org: OrgId,
        id: InvitationId,
        at: Timestamp,
        a: AuditDraft,
    ) -> R<InvitationRecord> {
        in_tx!(self, |c| revoke_invitation(c, org, id, at, &a).await)
    }
    async fn accept_invitation(&self, x: Acceptance, audit: Vec<AuditDraft>) -> R<MemberRecord> {
        in_tx!(self, |c| accept_invitation(c, &x, &audit).await)
    }
    async fn reset_credentials(&self, reset: ResetRecord, audit: Vec<AuditDraft>) -> R<()> {
        in_tx!(self, |c| reset_credentials(c, &reset, &audit).await)
    }
    async fn reset(&self, hash: &[u8; 32]) -> R<Option<ResetRecord>> {
        self.read(async |c| {
            let row = sqlx::query(concat!(
                "SELECT ",
                reset_cols!(),
                " FROM credential_resets WHERE hash = $1"
            ))
            .bind(&hash[..])
            .fetch_optional(c)
            .await?;
            Ok(row.as_ref().map(reset_row).transpose()?)
        })
        .await
    }
    async fn redeem_reset(&self, x: Redemption, audit: Vec<AuditDraft>) -> R<UserRecord> {
        in_tx!(self, |c| redeem_reset(c, &x, &audit).await)
    }
}
