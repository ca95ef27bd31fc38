//! [`ScimCatalog`] on PostgreSQL: `scim_tokens`, `scim_users` and `scim_groups` (migration 10).
//! Each write is one transaction with its audit events, and every write about people or groups
//! first locks the org row — the lock a membership change takes — so a deactivation, a
//! reactivation or a group change never interleaves with another membership change of the org.
//! A deactivation ends the membership through the same function as removing a member
//! (`identity::end_membership`).

use super::access::{insert_group, put_group_member};
use super::identity::{end_membership, lock_org};
use super::rows::{self, get};
use super::tx::{self, Fail, Q, in_tx};
use super::{PostgresCatalog, reads, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    CatalogError, GroupRecord, ScimCatalog, ScimGroupRecord, ScimMembership, ScimTokenRecord,
    ScimUserRecord, UserRecord,
};
use crate::domain::{
    GroupId, GroupName, IdentityKind, OrgId, Role, ScimTokenId, Timestamp, UserId,
};
use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

type R<T> = Result<T, CatalogError>;

macro_rules! token_cols {
    () => {
        "id, hash, org_id, name, created_at, created_by, revoked_at"
    };
}

macro_rules! user_cols {
    () => {
        "org_id, user_id, external_id, display_name, active, provisioned"
    };
}

fn token_row(r: &PgRow) -> R<ScimTokenRecord> {
    Ok(ScimTokenRecord {
        id: ScimTokenId::from_uuid(get(r, 0)?),
        hash: get(r, 1)?,
        org: OrgId::from_uuid(get(r, 2)?),
        name: get(r, 3)?,
        created_at: rows::ts(r, 4)?,
        created_by: get(r, 5)?,
        revoked_at: rows::opt_ts(r, 6)?,
    })
}

async fn create_token(c: &mut PgConnection, t: &ScimTokenRecord, a: &AuditDraft) -> Q<()> {
    sqlx::query(concat!(
        "INSERT INTO scim_tokens (",
        token_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, NULL)"
    ))
    .bind(t.id.as_uuid())
    .bind(&t.hash[..])
    .bind(t.org.as_uuid())
    .bind(&t.name)
    .bind(t.created_at.millis())
    .bind(&t.created_by)
    .execute(&mut *c)
    .await?;
    writes::append_audit(c, a).await
}

async fn token_by_hash(c: &mut PgConnection, hash: &[u8; 32]) -> Q<Option<ScimTokenRecord>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        token_cols!(),
        " FROM scim_tokens WHERE hash = $1"
    ))
    .bind(&hash[..])
    .fetch_optional(c)
    .await?;
    Ok(row.as_ref().map(token_row).transpose()?)
}

async fn tokens(c: &mut PgConnection, org: OrgId) -> Q<Vec<ScimTokenRecord>> {
    let list = sqlx::query(concat!(
        "SELECT ",
        token_cols!(),
        " FROM scim_tokens WHERE org_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(org.as_uuid())
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, token_row)?)
}

async fn revoke_token(
    c: &mut PgConnection,
    org: OrgId,
    id: ScimTokenId,
    at: Timestamp,
    a: &AuditDraft,
) -> Q<ScimTokenRecord> {
    // The row lock makes the first of two racing revocations the one that writes its event.
    let row = sqlx::query(concat!(
        "SELECT ",
        token_cols!(),
        " FROM scim_tokens WHERE id = $1 AND org_id = $2 FOR UPDATE"
    ))
    .bind(id.as_uuid())
    .bind(org.as_uuid())
    .fetch_one(&mut *c)
    .await?;
    let mut token = token_row(&row)?;
    if token.revoked_at.is_none() {
        sqlx::query("UPDATE scim_tokens SET revoked_at = $2 WHERE id = $1")
            .bind(id.as_uuid())
            .bind(at.millis())
            .execute(&mut *c)
            .await?;
        writes::append_audit(c, a).await?;
        token.revoked_at = Some(at);
    }
    Ok(token)
}

fn user_row(r: &PgRow) -> R<ScimUserRecord> {
    Ok(ScimUserRecord {
        org: OrgId::from_uuid(get(r, 0)?),
        user: UserId::from_uuid(get(r, 1)?),
        external_id: get(r, 2)?,
        display_name: get(r, 3)?,
        active: get(r, 4)?,
        provisioned: get(r, 5)?,
    })
}

async fn users(c: &mut PgConnection, org: OrgId) -> Q<Vec<ScimUserRecord>> {
    let list = sqlx::query(concat!(
        "SELECT ",
        user_cols!(),
        " FROM scim_users WHERE org_id = $1 ORDER BY user_id"
    ))
    .bind(org.as_uuid())
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, user_row)?)
}

async fn user(c: &mut PgConnection, org: OrgId, u: UserId) -> Q<Option<ScimUserRecord>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        user_cols!(),
        " FROM scim_users WHERE org_id = $1 AND user_id = $2"
    ))
    .bind(org.as_uuid())
    .bind(u.as_uuid())
    .fetch_optional(c)
    .await?;
    Ok(row.as_ref().map(user_row).transpose()?)
}

/// Writes `r` (replacing the org's row for the person) with `provisioned` as given.
async fn store_user(c: &mut PgConnection, r: &ScimUserRecord, provisioned: bool) -> Q<()> {
    sqlx::query(concat!(
        "INSERT INTO scim_users (",
        user_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, user_id) DO UPDATE SET \
         external_id = excluded.external_id, display_name = excluded.display_name, \
         active = excluded.active, provisioned = excluded.provisioned"
    ))
    .bind(r.org.as_uuid())
    .bind(r.user.as_uuid())
    .bind(r.external_id.as_deref())
    .bind(r.display_name.as_deref())
    .bind(r.active)
    .bind(provisioned)
    .execute(c)
    .await?;
    Ok(())
}

async fn is_member(c: &mut PgConnection, org: OrgId, u: UserId) -> Q<bool> {
    match reads::member(c, org, u).await {
        Ok(_) => Ok(true),
        Err(Fail::Final(CatalogError::NotFound)) => Ok(false),
        Err(other) => Err(other),
    }
}

async fn provision_person(
    c: &mut PgConnection,
    u: &UserRecord,
    r: &ScimUserRecord,
    role: Role,
    audit: &[AuditDraft],
) -> Q<()> {
    if u.kind != IdentityKind::Person || r.user != u.id || !r.provisioned {
        return Err(CatalogError::Refused(
            "SCIM provisions new people, with a record of their own".into(),
        )
        .into());
    }
    lock_org(c, r.org).await?;
    writes::insert_user(c, u).await?;
    store_user(c, r, true).await?;
    if r.active != Some(false) {
        writes::insert_member(c, r.org, u.id, role).await?;
    }
    for a in audit {
        writes::append_audit(c, a).await?;
    }
    Ok(())
}

async fn put_user(
    c: &mut PgConnection,
    r: &ScimUserRecord,
    membership: ScimMembership,
    at: Timestamp,
    audit: &[AuditDraft],
) -> Q<()> {
    lock_org(c, r.org).await?;
    let member = is_member(c, r.org, r.user).await?;
    let old = user(c, r.org, r.user).await?;
    if !member && old.is_none() {
        return Err(CatalogError::NotFound.into());
    }
    let provisioned = old.as_ref().is_some_and(|o| o.provisioned);
    match membership {
        ScimMembership::Keep => {}
        ScimMembership::End if member => {
            if end_membership(c, r.org, r.user, at).await? == Role::Owner {
                // Checked here, in the transaction that ends it, not only before: a promotion
                // between the service's check and this write must not let SCIM remove an owner.
                return Err(CatalogError::Refused("SCIM never removes an owner".into()).into());
            }
        }
        ScimMembership::End => {
            return Err(CatalogError::Refused("the person is not a member".into()).into());
        }
        ScimMembership::Restore(role) => {
            let deactivated = old.as_ref().is_some_and(|o| o.active == Some(false));
            if member || !deactivated {
                return Err(CatalogError::Refused(
                    "SCIM brings back only people it deactivated in this org".into(),
                )
                .into());
            }
            writes::insert_member(c, r.org, r.user, role).await?;
        }
    }
    store_user(c, r, provisioned).await?;
    for a in audit {
        writes::append_audit(c, a).await?;
    }
    Ok(())
}

async fn delete_user(
    c: &mut PgConnection,
    org: OrgId,
    u: UserId,
    at: Timestamp,
    audit: &[AuditDraft],
) -> Q<()> {
    lock_org(c, org).await?;
    let member = is_member(c, org, u).await?;
    // Checked here, in the transaction that ends it, not only before: a promotion between the
    // service's check and this write must not let SCIM remove an owner.
    if member && end_membership(c, org, u, at).await? == Role::Owner {
        return Err(CatalogError::Refused("SCIM never removes an owner".into()).into());
    }
    let forgotten = sqlx::query("DELETE FROM scim_users WHERE org_id = $1 AND user_id = $2")
        .bind(org.as_uuid())
        .bind(u.as_uuid())
        .execute(&mut *c)
        .await?
        .rows_affected();
    if !member && forgotten == 0 {
        return Err(CatalogError::NotFound.into());
    }
    for a in audit {
        writes::append_audit(c, a).await?;
    }
    Ok(())
}

async fn groups(c: &mut PgConnection, org: OrgId) -> Q<Vec<ScimGroupRecord>> {
    let list = sqlx::query(
        "SELECT s.group_id, g.org_id, s.display_name, s.external_id FROM scim_groups s \
         JOIN groups g ON g.id = s.group_id WHERE g.org_id = $1 ORDER BY s.group_id",
    )
    .bind(org.as_uuid())
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, |r| {
        Ok(ScimGroupRecord {
            group: GroupId::from_uuid(get(r, 0)?),
            org: OrgId::from_uuid(get(r, 1)?),
            display_name: get(r, 2)?,
            external_id: get(r, 3)?,
        })
    })?)
}

async fn store_group(c: &mut PgConnection, r: &ScimGroupRecord) -> Q<()> {
    sqlx::query(
        "INSERT INTO scim_groups (group_id, display_name, external_id) VALUES ($1, $2, $3) \
         ON CONFLICT (group_id) DO UPDATE SET display_name = excluded.display_name, \
         external_id = excluded.external_id",
    )
    .bind(r.group.as_uuid())
    .bind(&r.display_name)
    .bind(r.external_id.as_deref())
    .execute(c)
    .await?;
    Ok(())
}

async fn create_group(
    c: &mut PgConnection,
    g: &GroupRecord,
    r: &ScimGroupRecord,
    audit: &[AuditDraft],
) -> Q<()> {
    if r.group != g.id || r.org != g.org {
        return Err(CatalogError::Refused("the SCIM record is another group's".into()).into());
    }
    lock_org(c, g.org).await?;
    insert_group(c, g).await?;
    store_group(c, r).await?;
    for u in &g.members {
        put_group_member(c, g.org, g.id, *u, true).await?;
    }
    for a in audit {
        writes::append_audit(c, a).await?;
    }
    Ok(())
}

async fn put_group(
    c: &mut PgConnection,
    r: &ScimGroupRecord,
    name: &GroupName,
    add: &[UserId],
    remove: &[UserId],
    audit: &[AuditDraft],
) -> Q<()> {
    lock_org(c, r.org).await?;
    let n = sqlx::query("UPDATE groups SET name = $3 WHERE id = $1 AND org_id = $2")
        .bind(r.group.as_uuid())
        .bind(r.org.as_uuid())
        .bind(name.as_str())
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(CatalogError::NotFound.into());
    }
    store_group(c, r).await?;
    for u in remove {
        put_group_member(c, r.org, r.group, *u, false).await?;
    }
    for u in add {
        put_group_member(c, r.org, r.group, *u, true).await?;
    }
    for a in audit {
        writes::append_audit(c, a).await?;
    }
    Ok(())
}

/// Forgets `user`'s SCIM record in `org`. Part of ending a membership, in the same transaction
/// (a deactivation writes its record again after it).
pub(super) async fn forget_member(c: &mut PgConnection, org: OrgId, u: UserId) -> Q<()> {
    sqlx::query("DELETE FROM scim_users WHERE org_id = $1 AND user_id = $2")
        .bind(org.as_uuid())
        .bind(u.as_uuid())
        .execute(c)
        .await?;
    Ok(())
}

#[async_trait]
impl ScimCatalog for PostgresCatalog {
    async fn create_scim_token(&self, t: ScimTokenRecord, a: AuditDraft) -> R<()> {
        in_tx!(self, |c| create_token(c, &t, &a).await)
    }
    async fn scim_token(&self, hash: &[u8; 32]) -> R<Option<ScimTokenRecord>> {
        self.read(async |c| token_by_hash(c, hash).await).await
    }
    async fn scim_tokens(&self, org: OrgId) -> R<Vec<ScimTokenRecord>> {
        self.read(async |c| tokens(c, org).await).await
    }
    async fn revoke_scim_token(
        &self,
        org: OrgId,
        id: ScimTokenId,
        at: Timestamp,
        a: AuditDraft,
    ) -> R<ScimTokenRecord> {
        in_tx!(self, |c| revoke_token(c, org, id, at, &a).await)
    }
    async fn scim_users(&self, org: OrgId) -> R<Vec<ScimUserRecord>> {
        self.read(async |c| users(c, org).await).await
    }
    async fn scim_user(&self, org: OrgId, u: UserId) -> R<Option<ScimUserRecord>> {
        self.read(async |c| user(c, org, u).await).await
    }
    async fn provision_person(
        &self,
        u: UserRecord,
        r: ScimUserRecord,
        role: Role,
        audit: Vec<AuditDraft>,
    ) -> R<()> {
        in_tx!(self, |c| provision_person(c, &u, &r, role, &audit).await)
    }
    async fn put_scim_user(
        &self,
        r: ScimUserRecord,
        membership: ScimMembership,
        at: Timestamp,
        audit: Vec<AuditDraft>,
    ) -> R<()> {
        in_tx!(self, |c| put_user(c, &r, membership, at, &audit).await)
    }
    async fn delete_scim_user(
        &self,
        org: OrgId,
        u: UserId,
        at: Timestamp,
        audit: Vec<AuditDraft>,
    ) -> R<()> {
        in_tx!(self, |c| delete_user(c, org, u, at, &audit).await)
    }
    async fn scim_groups(&self, org: OrgId) -> R<Vec<ScimGroupRecord>> {
        self.read(async |c| groups(c, org).await).await
    }
    async fn create_scim_group(
        &self,
        g: GroupRecord,
        r: ScimGroupRecord,
        audit: Vec<AuditDraft>,
    ) -> R<()> {
        in_tx!(self, |c| create_group(c, &g, &r, &audit).await)
    }
    async fn put_scim_group(
        &self,
        r: ScimGroupRecord,
        name: GroupName,
        add: Vec<UserId>,
        remove: Vec<UserId>,
        audit: Vec<AuditDraft>,
    ) -> R<()> {
        in_tx!(self, |c| put_group(c, &r, &name, &add, &remove, &audit)
            .await)
    }
}
