//! [`AccessCatalog`] on PostgreSQL: `groups`, `group_members`, `grants`, `shares` and
//! `secrets.restricted` (migration 8). Each write is one transaction with its audit event, and
//! first locks the org row — the lock a membership change takes — so a grant or share can never
//! be stored for someone whose removal from the org committed meanwhile.

use super::identity::lock_org;
use super::rows::{self, get};
use super::tx::{self, Q, in_tx};
use super::{PostgresCatalog, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    AccessCatalog, CatalogError, GrantRecord, GroupRecord, PrincipalId, ShareRecord,
};
use crate::domain::policy::{AccessSet, HeldGrant, HeldShare};
use crate::domain::{
    AccessLevel, GrantId, GrantScope, GroupId, GroupName, OrgId, SecretId, UserId,
};
use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use std::collections::BTreeMap;
use uuid::Uuid;

type R<T> = Result<T, CatalogError>;

fn level_at(row: &PgRow, col: usize) -> Result<AccessLevel, CatalogError> {
    rows::parse(row, col, |s| s.parse().ok())
}

/// The two principal columns (`user_id`, `group_id`) of a principal.
fn columns(p: PrincipalId) -> (Option<Uuid>, Option<Uuid>) {
    match p {
        PrincipalId::User(u) => (Some(u.as_uuid()), None),
        PrincipalId::Group(g) => (None, Some(g.as_uuid())),
    }
}

fn principal_at(row: &PgRow, col: usize) -> Result<PrincipalId, CatalogError> {
    match (
        get::<Option<Uuid>>(row, col)?,
        get::<Option<Uuid>>(row, col + 1)?,
    ) {
        (Some(u), None) => Ok(PrincipalId::User(UserId::from_uuid(u))),
        (None, Some(g)) => Ok(PrincipalId::Group(GroupId::from_uuid(g))),
        _ => Err(rows::corrupt(
            col,
            "a grant or share names exactly one principal",
        )),
    }
}

fn via_at(row: &PgRow, col: usize) -> Result<Option<GroupName>, CatalogError> {
    get::<Option<String>>(row, col)?
        .map(|n| GroupName::parse(&n).map_err(|x| rows::corrupt(col, x)))
        .transpose()
}

async fn must_belong(c: &mut PgConnection, org: OrgId, p: PrincipalId) -> Q<()> {
    let sql = match p {
        PrincipalId::User(_) => "SELECT 1 FROM memberships WHERE org_id = $1 AND user_id = $2",
        PrincipalId::Group(_) => "SELECT 1 FROM groups WHERE org_id = $1 AND id = $2",
    };
    let (user, group) = columns(p);
    let found = sqlx::query(sql)
        .bind(org.as_uuid())
        .bind(user.or(group))
        .fetch_optional(c)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(CatalogError::Refused(
            "the principal is not a member or group of this org".into(),
        )
        .into()),
    }
}

async fn group_in(c: &mut PgConnection, org: OrgId, id: GroupId) -> Q<()> {
    sqlx::query("SELECT 1 FROM groups WHERE id = $1 AND org_id = $2")
        .bind(id.as_uuid())
        .bind(org.as_uuid())
        .fetch_one(c)
        .await?;
    Ok(())
}

/// The org of a live secret, or `NotFound`.
async fn secret_org(c: &mut PgConnection, secret: SecretId) -> Q<OrgId> {
    let org: Uuid =
        sqlx::query_scalar("SELECT org_id FROM secrets WHERE id = $1 AND NOT destroyed")
            .bind(secret.as_uuid())
            .fetch_one(c)
            .await?;
    Ok(OrgId::from_uuid(org))
}

/// Stores the group row (without members or audit; the org row locked by the caller); creating
/// a group here and through SCIM.
pub(super) async fn insert_group(c: &mut PgConnection, g: &GroupRecord) -> Q<()> {
    sqlx::query(
        "INSERT INTO groups (id, org_id, name, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(g.id.as_uuid())
    .bind(g.org.as_uuid())
    .bind(g.name.as_str())
    .bind(g.created_at.millis())
    .bind(&g.created_by)
    .execute(c)
    .await?;
    Ok(())
}

async fn create_group(c: &mut PgConnection, g: &GroupRecord, a: &AuditDraft) -> Q<()> {
    lock_org(c, g.org).await?;
    insert_group(c, g).await?;
    writes::append_audit(c, a).await
}

/// Adds `user` to group `id` (`Refused` unless a member of `org`) or removes them, without audit
/// (the org row locked by the caller); answers whether it changed anything. Here and in SCIM's
/// group writes.
pub(super) async fn put_group_member(
    c: &mut PgConnection,
    org: OrgId,
    id: GroupId,
    user: UserId,
    member: bool,
) -> Q<bool> {
    let changed = if member {
        must_belong(c, org, PrincipalId::User(user)).await?;
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
    } else {
        sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
    }
    .bind(id.as_uuid())
    .bind(user.as_uuid())
    .execute(c)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

async fn delete_group(c: &mut PgConnection, org: OrgId, id: GroupId, a: &AuditDraft) -> Q<()> {
    lock_org(c, org).await?;
    group_in(c, org, id).await?;
    // The cascades delete its memberships, grants and shares.
    sqlx::query("DELETE FROM groups WHERE id = $1")
        .bind(id.as_uuid())
        .execute(&mut *c)
        .await?;
    writes::append_audit(c, a).await
}

async fn groups(c: &mut PgConnection, org: OrgId) -> Q<Vec<GroupRecord>> {
    let pairs = sqlx::query(
        "SELECT gm.group_id, gm.user_id FROM group_members gm JOIN groups g ON g.id = gm.group_id \
         WHERE g.org_id = $1 ORDER BY gm.group_id, gm.user_id",
    )
    .bind(org.as_uuid())
    .fetch_all(&mut *c)
    .await?;
    let mut members: BTreeMap<Uuid, Vec<UserId>> = BTreeMap::new();
    for r in &pairs {
        members
            .entry(get(r, 0)?)
            .or_default()
            .push(UserId::from_uuid(get(r, 1)?));
    }
    let list = sqlx::query(
        "SELECT id, org_id, name, created_at, created_by FROM groups WHERE org_id = $1 ORDER BY name",
    )
    .bind(org.as_uuid())
    .fetch_all(&mut *c)
    .await?;
    Ok(rows::all(&list, |r| {
        let id: Uuid = get(r, 0)?;
        Ok(GroupRecord {
            id: GroupId::from_uuid(id),
            org: OrgId::from_uuid(get(r, 1)?),
            name: rows::parse(r, 2, |s| GroupName::parse(s).ok())?,
            created_at: rows::ts(r, 3)?,
            created_by: get(r, 4)?,
            members: members.get(&id).cloned().unwrap_or_default(),
        })
    })?)
}

async fn set_group_member(
    c: &mut PgConnection,
    org: OrgId,
    id: GroupId,
    user: UserId,
    member: bool,
    a: &AuditDraft,
) -> Q<bool> {
    lock_org(c, org).await?;
    group_in(c, org, id).await?;
    let changed = put_group_member(c, org, id, user, member).await?;
    if changed {
        writes::append_audit(c, a).await?;
    }
    Ok(changed)
}

macro_rules! grant_cols {
    () => {
        "id, org_id, project, issue, user_id, group_id, level, created_at, created_by"
    };
}

fn grant_row(r: &PgRow) -> Result<GrantRecord, CatalogError> {
    let project: Option<String> = get(r, 2)?;
    Ok(GrantRecord {
        id: GrantId::from_uuid(get(r, 0)?),
        org: OrgId::from_uuid(get(r, 1)?),
        scope: GrantScope::from_parts(project.as_deref(), rows::u32_at(r, 3)?)
            .map_err(|x| rows::corrupt(2, x))?,
        principal: principal_at(r, 4)?,
        level: level_at(r, 6)?,
        created_at: rows::ts(r, 7)?,
        created_by: get(r, 8)?,
    })
}

async fn put_grant(c: &mut PgConnection, g: &GrantRecord, a: &AuditDraft) -> Q<GrantRecord> {
    lock_org(c, g.org).await?;
    must_belong(c, g.org, g.principal).await?;
    let (user, group) = columns(g.principal);
    let row = sqlx::query(concat!(
        "INSERT INTO grants (",
        grant_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (org_id, coalesce(project, ''), issue, coalesce(user_id, group_id)) \
         DO UPDATE SET level = excluded.level, created_at = excluded.created_at, created_by = excluded.created_by \
         RETURNING ",
        grant_cols!()
    ))
    .bind(g.id.as_uuid())
    .bind(g.org.as_uuid())
    .bind(g.scope.project().map(|p| p.as_str()))
    .bind(i64::from(g.scope.issue_number()))
    .bind(user)
    .bind(group)
    .bind(g.level.as_str())
    .bind(g.created_at.millis())
    .bind(&g.created_by)
    .fetch_one(&mut *c)
    .await?;
    writes::append_audit(c, a).await?;
    Ok(grant_row(&row)?)
}

async fn delete_grant(
    c: &mut PgConnection,
    org: OrgId,
    id: GrantId,
    a: &AuditDraft,
) -> Q<GrantRecord> {
    lock_org(c, org).await?;
    let row = sqlx::query(concat!(
        "DELETE FROM grants WHERE id = $1 AND org_id = $2 RETURNING ",
        grant_cols!()
    ))
    .bind(id.as_uuid())
    .bind(org.as_uuid())
    .fetch_one(&mut *c)
    .await?;
    writes::append_audit(c, a).await?;
    Ok(grant_row(&row)?)
}

async fn grants(c: &mut PgConnection, org: OrgId) -> Q<Vec<GrantRecord>> {
    let list = sqlx::query(concat!(
        "SELECT ",
        grant_cols!(),
        " FROM grants WHERE org_id = $1 ORDER BY coalesce(project, ''), issue, created_at"
    ))
    .bind(org.as_uuid())
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, grant_row)?)
}

fn share_row(r: &PgRow) -> Result<ShareRecord, CatalogError> {
    Ok(ShareRecord {
        secret: SecretId::from_uuid(get(r, 0)?),
        principal: principal_at(r, 1)?,
        level: level_at(r, 3)?,
        created_at: rows::ts(r, 4)?,
        created_by: get(r, 5)?,
    })
}

async fn put_share(c: &mut PgConnection, sh: &ShareRecord, a: &AuditDraft) -> Q<()> {
    let org = secret_org(c, sh.secret).await?;
    lock_org(c, org).await?;
    must_belong(c, org, sh.principal).await?;
    let (user, group) = columns(sh.principal);
    sqlx::query(
        "INSERT INTO shares (secret_id, user_id, group_id, level, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (secret_id, coalesce(user_id, group_id)) \
         DO UPDATE SET level = excluded.level, created_at = excluded.created_at, created_by = excluded.created_by",
    )
    .bind(sh.secret.as_uuid())
    .bind(user)
    .bind(group)
    .bind(sh.level.as_str())
    .bind(sh.created_at.millis())
    .bind(&sh.created_by)
    .execute(&mut *c)
    .await?;
    writes::append_audit(c, a).await
}

async fn delete_share(
    c: &mut PgConnection,
    secret: SecretId,
    p: PrincipalId,
    a: &AuditDraft,
) -> Q<bool> {
    let (user, group) = columns(p);
    let n =
        sqlx::query("DELETE FROM shares WHERE secret_id = $1 AND coalesce(user_id, group_id) = $2")
            .bind(secret.as_uuid())
            .bind(user.or(group))
            .execute(&mut *c)
            .await?
            .rows_affected();
    if n > 0 {
        writes::append_audit(c, a).await?;
    }
    Ok(n > 0)
}

async fn shares(c: &mut PgConnection, secret: SecretId) -> Q<Vec<ShareRecord>> {
    let list = sqlx::query(
        "SELECT secret_id, user_id, group_id, level, created_at, created_by FROM shares \
         WHERE secret_id = $1 ORDER BY created_at",
    )
    .bind(secret.as_uuid())
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, share_row)?)
}

async fn set_restricted(
    c: &mut PgConnection,
    secret: SecretId,
    restricted: bool,
    a: &AuditDraft,
) -> Q<bool> {
    secret_org(c, secret).await?;
    let n = sqlx::query("UPDATE secrets SET restricted = $2 WHERE id = $1 AND restricted <> $2")
        .bind(secret.as_uuid())
        .bind(restricted)
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n > 0 {
        writes::append_audit(c, a).await?;
    }
    Ok(n > 0)
}

async fn access_set(c: &mut PgConnection, org: OrgId, user: UserId) -> Q<AccessSet> {
    // The principal columns name the user itself or one of its groups in the org; `via` is the
    // group's name, NULL for the user's own.
    let list = sqlx::query(
        "SELECT gr.project, gr.issue, gr.level, g.name FROM grants gr LEFT JOIN groups g ON g.id = gr.group_id \
         WHERE gr.org_id = $1 AND (gr.user_id = $2 OR gr.group_id IN \
           (SELECT gm.group_id FROM group_members gm JOIN groups g2 ON g2.id = gm.group_id \
            WHERE gm.user_id = $2 AND g2.org_id = $1))",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .fetch_all(&mut *c)
    .await?;
    let grants = rows::all(&list, |r| {
        let project: Option<String> = get(r, 0)?;
        Ok(HeldGrant {
            scope: GrantScope::from_parts(project.as_deref(), rows::u32_at(r, 1)?)
                .map_err(|x| rows::corrupt(0, x))?,
            level: level_at(r, 2)?,
            via: via_at(r, 3)?,
        })
    })?;
    let list = sqlx::query(
        "SELECT sh.secret_id, sh.level, g.name FROM shares sh JOIN secrets s ON s.id = sh.secret_id \
         LEFT JOIN groups g ON g.id = sh.group_id \
         WHERE s.org_id = $1 AND (sh.user_id = $2 OR sh.group_id IN \
           (SELECT gm.group_id FROM group_members gm JOIN groups g2 ON g2.id = gm.group_id \
            WHERE gm.user_id = $2 AND g2.org_id = $1))",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .fetch_all(&mut *c)
    .await?;
    let shares = rows::all(&list, |r| {
        Ok(HeldShare {
            secret: SecretId::from_uuid(get(r, 0)?),
            level: level_at(r, 1)?,
            via: via_at(r, 2)?,
        })
    })?;
    Ok(AccessSet { grants, shares })
}

/// Deletes what `user` holds in `org`: its group memberships, grants and shares. Part of removing
/// a member (`identity::remove_member`), in the same transaction.
pub(super) async fn forget_member(c: &mut PgConnection, org: OrgId, user: UserId) -> Q<()> {
    for sql in [
        "DELETE FROM group_members WHERE user_id = $2 AND group_id IN (SELECT id FROM groups WHERE org_id = $1)",
        "DELETE FROM grants WHERE org_id = $1 AND user_id = $2",
        "DELETE FROM shares WHERE user_id = $2 AND secret_id IN (SELECT id FROM secrets WHERE org_id = $1)",
    ] {
        sqlx::query(sql)
            .bind(org.as_uuid())
            .bind(user.as_uuid())
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl AccessCatalog for PostgresCatalog {
    async fn create_group(&self, group: GroupRecord, a: AuditDraft) -> R<()> {
        in_tx!(self, |c| create_group(c, &group, &a).await)
    }
    async fn delete_group(&self, org: OrgId, id: GroupId, a: AuditDraft) -> R<()> {
        in_tx!(self, |c| delete_group(c, org, id, &a).await)
    }
    async fn groups(&self, org: OrgId) -> R<Vec<GroupRecord>> {
        self.read(async |c| groups(c, org).await).await
    }
    async fn set_group_member(
        &self,
        org: OrgId,
        id: GroupId,
        user: UserId,
        member: bool,
        a: AuditDraft,
    ) -> R<bool> {
        in_tx!(self, |c| set_group_member(c, org, id, user, member, &a)
            .await)
    }
    async fn put_grant(&self, grant: GrantRecord, a: AuditDraft) -> R<GrantRecord> {
        in_tx!(self, |c| put_grant(c, &grant, &a).await)
    }
    async fn delete_grant(&self, org: OrgId, id: GrantId, a: AuditDraft) -> R<GrantRecord> {
        in_tx!(self, |c| delete_grant(c, org, id, &a).await)
    }
    async fn grants(&self, org: OrgId) -> R<Vec<GrantRecord>> {
        self.read(async |c| grants(c, org).await).await
    }
    async fn put_share(&self, share: ShareRecord, a: AuditDraft) -> R<()> {
        in_tx!(self, |c| put_share(c, &share, &a).await)
    }
    async fn delete_share(&self, secret: SecretId, p: PrincipalId, a: AuditDraft) -> R<bool> {
        in_tx!(self, |c| delete_share(c, secret, p, &a).await)
    }
    async fn shares(&self, secret: SecretId) -> R<Vec<ShareRecord>> {
        self.read(async |c| shares(c, secret).await).await
    }
    async fn set_restricted(&self, secret: SecretId, restricted: bool, a: AuditDraft) -> R<bool> {
        in_tx!(self, |c| set_restricted(c, secret, restricted, &a).await)
    }
    async fn access_set(&self, org: OrgId, user: UserId) -> R<AccessSet> {
        self.read(async |c| access_set(c, org, user).await).await
    }
}
