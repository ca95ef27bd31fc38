//! [`AccessCatalog`] on SQLite: `groups`, `group_members`, `grants`, `shares` and
//! `secrets.restricted` (migration 8). Reads run on the read pool; every write is one request to
//! the group-commit writer, atomic with its audit event (and it invalidates the read cache, so a
//! changed restriction is seen by the next reveal).

use super::tx::Tx;
use super::{SqliteCatalog, map_err as e, rows, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    AccessCatalog, CatalogError, GrantRecord, GroupRecord, PrincipalId, ShareRecord,
};
use crate::domain::policy::{AccessSet, HeldGrant, HeldShare};
use crate::domain::{
    AccessLevel, GrantId, GrantScope, GroupId, GroupName, OrgId, SecretId, Timestamp, UserId,
};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::BTreeMap;

type R<T> = Result<T, CatalogError>;

fn level_at(row: &Row, col: usize) -> rusqlite::Result<AccessLevel> {
    rows::parse_at(row, col, |s| s.parse().ok())
}

/// The two principal columns (`user_id`, `group_id`) of a principal.
fn columns(p: PrincipalId) -> (Option<[u8; 16]>, Option<[u8; 16]>) {
    match p {
        PrincipalId::User(u) => (Some(u.to_bytes()), None),
        PrincipalId::Group(g) => (None, Some(g.to_bytes())),
    }
}

fn principal_at(row: &Row, col: usize) -> rusqlite::Result<PrincipalId> {
    match (
        rows::opt_uuid_at(row, col)?,
        rows::opt_uuid_at(row, col + 1)?,
    ) {
        (Some(u), None) => Ok(PrincipalId::User(UserId::from_uuid(u))),
        (None, Some(g)) => Ok(PrincipalId::Group(GroupId::from_uuid(g))),
        _ => Err(rows::bad(
            col,
            "a grant or share names exactly one principal",
        )),
    }
}

/// Whether `p` is a member or a group of `org`.
fn belongs(conn: &Connection, org: OrgId, p: PrincipalId) -> R<bool> {
    let (sql, id) = match p {
        PrincipalId::User(u) => (
            "SELECT 1 FROM memberships WHERE org_id = ?1 AND user_id = ?2",
            u.to_bytes(),
        ),
        PrincipalId::Group(g) => (
            "SELECT 1 FROM groups WHERE org_id = ?1 AND id = ?2",
            g.to_bytes(),
        ),
    };
    conn.query_row(sql, params![org.to_bytes(), id], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
        .map_err(e)
}

fn must_belong(conn: &Connection, org: OrgId, p: PrincipalId) -> R<()> {
    if belongs(conn, org, p)? {
        Ok(())
    } else {
        Err(CatalogError::Refused(
            "the principal is not a member or group of this org".into(),
        ))
    }
}

fn group_org(conn: &Connection, id: GroupId) -> R<Option<OrgId>> {
    conn.query_row(
        "SELECT org_id FROM groups WHERE id = ?1",
        [id.to_bytes()],
        |r| rows::uuid_at(r, 0),
    )
    .optional()
    .map(|o| o.map(OrgId::from_uuid))
    .map_err(e)
}

/// The org of a live secret, or `NotFound`.
fn secret_org(conn: &Connection, secret: SecretId) -> R<OrgId> {
    conn.query_row(
        "SELECT org_id FROM secrets WHERE id = ?1 AND destroyed = 0",
        [secret.to_bytes()],
        |r| rows::uuid_at(r, 0),
    )
    .map(OrgId::from_uuid)
    .map_err(e)
}

/// Stores the group row (without members or audit); creating a group here and through SCIM.
pub(super) fn insert_group(conn: &Connection, g: &GroupRecord) -> R<()> {
    conn.execute(
        "INSERT INTO groups (id, org_id, name, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            g.id.to_bytes(),
            g.org.to_bytes(),
            g.name.as_str(),
            g.created_at.millis(),
            g.created_by
        ],
    )
    .map(drop)
    .map_err(e)
}

fn create_group(conn: &Tx, g: &GroupRecord, a: &AuditDraft) -> R<()> {
    insert_group(conn, g)?;
    writes::append_audit(conn, a)
}

/// Adds `user` to group `id` (`Refused` unless a member of `org`) or removes them, without audit;
/// answers whether it changed anything. Here and in SCIM's group writes.
pub(super) fn put_group_member(
    conn: &Connection,
    org: OrgId,
    id: GroupId,
    user: UserId,
    member: bool,
) -> R<bool> {
    let changed = if member {
        must_belong(conn, org, PrincipalId::User(user))?;
        conn.execute(
            "INSERT INTO group_members (group_id, user_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![id.to_bytes(), user.to_bytes()],
        )
    } else {
        conn.execute(
            "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
            params![id.to_bytes(), user.to_bytes()],
        )
    }
    .map_err(e)?;
    Ok(changed > 0)
}

fn delete_group(conn: &Tx, org: OrgId, id: GroupId, a: &AuditDraft) -> R<()> {
    if group_org(conn, id)? != Some(org) {
        return Err(CatalogError::NotFound);
    }
    // The cascades delete its memberships, grants and shares.
    conn.execute("DELETE FROM groups WHERE id = ?1", [id.to_bytes()])
        .map_err(e)?;
    writes::append_audit(conn, a)
}

fn groups(conn: &Connection, org: OrgId) -> R<Vec<GroupRecord>> {
    let mut members: BTreeMap<[u8; 16], Vec<UserId>> = BTreeMap::new();
    let mut s = conn
        .prepare_cached(
            "SELECT gm.group_id, gm.user_id FROM group_members gm JOIN groups g ON g.id = gm.group_id \
             WHERE g.org_id = ?1 ORDER BY gm.group_id, gm.user_id",
        )
        .map_err(e)?;
    let pairs = s
        .query_map([org.to_bytes()], |r| {
            Ok((r.get::<_, [u8; 16]>(0)?, rows::uuid_at(r, 1)?))
        })
        .map_err(e)?;
    for pair in pairs {
        let (g, u) = pair.map_err(e)?;
        members.entry(g).or_default().push(UserId::from_uuid(u));
    }
    let mut s = conn
        .prepare_cached(
            "SELECT id, org_id, name, created_at, created_by FROM groups WHERE org_id = ?1 ORDER BY name",
        )
        .map_err(e)?;
    s.query_map([org.to_bytes()], |r| {
        let id: [u8; 16] = r.get(0)?;
        Ok(GroupRecord {
            id: GroupId::from_uuid(uuid::Uuid::from_bytes(id)),
            org: OrgId::from_uuid(rows::uuid_at(r, 1)?),
            name: rows::parse_at(r, 2, |s| GroupName::parse(s).ok())?,
            created_at: Timestamp::from_millis(r.get(3)?),
            created_by: r.get(4)?,
            members: members.get(&id).cloned().unwrap_or_default(),
        })
    })
    .map_err(e)?
    .collect::<rusqlite::Result<_>>()
    .map_err(e)
}

fn set_group_member(
    conn: &Tx,
    org: OrgId,
    id: GroupId,
    user: UserId,
    member: bool,
    a: &AuditDraft,
) -> R<bool> {
    if group_org(conn, id)? != Some(org) {
        return Err(CatalogError::NotFound);
    }
    let changed = put_group_member(conn, org, id, user, member)?;
    if changed {
        writes::append_audit(conn, a)?;
    }
    Ok(changed)
}

const GRANT_COLS: &str =
    "id, org_id, project, issue, user_id, group_id, level, created_at, created_by";

fn grant_row(r: &Row) -> rusqlite::Result<GrantRecord> {
    let project: Option<String> = r.get(2)?;
    Ok(GrantRecord {
        id: GrantId::from_uuid(rows::uuid_at(r, 0)?),
        org: OrgId::from_uuid(rows::uuid_at(r, 1)?),
        scope: GrantScope::from_parts(project.as_deref(), r.get(3)?)
            .map_err(|x| rows::bad(2, x.to_string()))?,
        principal: principal_at(r, 4)?,
        level: level_at(r, 6)?,
        created_at: Timestamp::from_millis(r.get(7)?),
        created_by: r.get(8)?,
    })
}

fn put_grant(conn: &Tx, g: &GrantRecord, a: &AuditDraft) -> R<GrantRecord> {
    must_belong(conn, g.org, g.principal)?;
    let (user, group) = columns(g.principal);
    let project = g.scope.project().map(|p| p.as_str().to_owned());
    conn.execute(
        "INSERT INTO grants (id, org_id, project, issue, user_id, group_id, level, created_at, created_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT (org_id, coalesce(project, ''), issue, coalesce(user_id, group_id)) \
         DO UPDATE SET level = excluded.level, created_at = excluded.created_at, created_by = excluded.created_by",
        params![
            g.id.to_bytes(), g.org.to_bytes(), project, g.scope.issue_number(), user, group,
            g.level.as_str(), g.created_at.millis(), g.created_by
        ],
    )
    .map_err(e)?;
    writes::append_audit(conn, a)?;
    conn.query_row(
        &format!(
            "SELECT {GRANT_COLS} FROM grants WHERE org_id = ?1 AND coalesce(project, '') = coalesce(?2, '') \
             AND issue = ?3 AND coalesce(user_id, group_id) = ?4"
        ),
        params![g.org.to_bytes(), project, g.scope.issue_number(), user.or(group)],
        grant_row,
    )
    .map_err(e)
}

fn delete_grant(conn: &Tx, org: OrgId, id: GrantId, a: &AuditDraft) -> R<GrantRecord> {
    let grant = conn
        .query_row(
            &format!("SELECT {GRANT_COLS} FROM grants WHERE id = ?1 AND org_id = ?2"),
            params![id.to_bytes(), org.to_bytes()],
            grant_row,
        )
        .map_err(e)?;
    conn.execute("DELETE FROM grants WHERE id = ?1", [id.to_bytes()])
        .map_err(e)?;
    writes::append_audit(conn, a)?;
    Ok(grant)
}

fn grants(conn: &Connection, org: OrgId) -> R<Vec<GrantRecord>> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {GRANT_COLS} FROM grants WHERE org_id = ?1 ORDER BY coalesce(project, ''), issue, created_at"
        ))
        .map_err(e)?;
    s.query_map([org.to_bytes()], grant_row)
        .map_err(e)?
        .collect::<rusqlite::Result<_>>()
        .map_err(e)
}

fn share_row(r: &Row) -> rusqlite::Result<ShareRecord> {
    Ok(ShareRecord {
        secret: SecretId::from_uuid(rows::uuid_at(r, 0)?),
        principal: principal_at(r, 1)?,
        level: level_at(r, 3)?,
        created_at: Timestamp::from_millis(r.get(4)?),
        created_by: r.get(5)?,
    })
}

fn put_share(conn: &Tx, sh: &ShareRecord, a: &AuditDraft) -> R<()> {
    let org = secret_org(conn, sh.secret)?;
    must_belong(conn, org, sh.principal)?;
    let (user, group) = columns(sh.principal);
    conn.execute(
        "INSERT INTO shares (secret_id, user_id, group_id, level, created_at, created_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (secret_id, coalesce(user_id, group_id)) \
         DO UPDATE SET level = excluded.level, created_at = excluded.created_at, created_by = excluded.created_by",
        params![sh.secret.to_bytes(), user, group, sh.level.as_str(), sh.created_at.millis(), sh.created_by],
    )
    .map_err(e)?;
    writes::append_audit(conn, a)
}

fn delete_share(conn: &Tx, secret: SecretId, p: PrincipalId, a: &AuditDraft) -> R<bool> {
    let (user, group) = columns(p);
    let n = conn
        .execute(
            "DELETE FROM shares WHERE secret_id = ?1 AND coalesce(user_id, group_id) = ?2",
            params![secret.to_bytes(), user.or(group)],
        )
        .map_err(e)?;
    if n > 0 {
        writes::append_audit(conn, a)?;
    }
    Ok(n > 0)
}

fn shares(conn: &Connection, secret: SecretId) -> R<Vec<ShareRecord>> {
    let mut s = conn
        .prepare_cached(
            "SELECT secret_id, user_id, group_id, level, created_at, created_by FROM shares \
             WHERE secret_id = ?1 ORDER BY created_at",
        )
        .map_err(e)?;
    s.query_map([secret.to_bytes()], share_row)
        .map_err(e)?
        .collect::<rusqlite::Result<_>>()
        .map_err(e)
}

fn set_restricted(conn: &Tx, secret: SecretId, restricted: bool, a: &AuditDraft) -> R<bool> {
    secret_org(conn, secret)?;
    let n = conn
        .execute(
            "UPDATE secrets SET restricted = ?2 WHERE id = ?1 AND restricted <> ?2",
            params![secret.to_bytes(), restricted],
        )
        .map_err(e)?;
    if n > 0 {
        writes::append_audit(conn, a)?;
    }
    Ok(n > 0)
}

fn access_set(conn: &Connection, org: OrgId, user: UserId) -> R<AccessSet> {
    // The principal columns name the user itself or one of its groups in the org; `via` is the
    // group's name, NULL for the user's own.
    let mut s = conn
        .prepare_cached(
            "SELECT gr.project, gr.issue, gr.level, g.name FROM grants gr LEFT JOIN groups g ON g.id = gr.group_id \
             WHERE gr.org_id = ?1 AND (gr.user_id = ?2 OR gr.group_id IN \
               (SELECT gm.group_id FROM group_members gm JOIN groups g2 ON g2.id = gm.group_id \
                WHERE gm.user_id = ?2 AND g2.org_id = ?1))",
        )
        .map_err(e)?;
    let grants = s
        .query_map(params![org.to_bytes(), user.to_bytes()], |r| {
            let project: Option<String> = r.get(0)?;
            Ok(HeldGrant {
                scope: GrantScope::from_parts(project.as_deref(), r.get(1)?)
                    .map_err(|x| rows::bad(0, x.to_string()))?,
                level: level_at(r, 2)?,
                via: r
                    .get::<_, Option<String>>(3)?
                    .map(|n| GroupName::parse(&n).map_err(|x| rows::bad(3, x.to_string())))
                    .transpose()?,
            })
        })
        .map_err(e)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(e)?;
    let mut s = conn
        .prepare_cached(
            "SELECT sh.secret_id, sh.level, g.name FROM shares sh JOIN secrets s ON s.id = sh.secret_id \
             LEFT JOIN groups g ON g.id = sh.group_id \
             WHERE s.org_id = ?1 AND (sh.user_id = ?2 OR sh.group_id IN \
               (SELECT gm.group_id FROM group_members gm JOIN groups g2 ON g2.id = gm.group_id \
                WHERE gm.user_id = ?2 AND g2.org_id = ?1))",
        )
        .map_err(e)?;
    let shares = s
        .query_map(params![org.to_bytes(), user.to_bytes()], |r| {
            Ok(HeldShare {
                secret: SecretId::from_uuid(rows::uuid_at(r, 0)?),
                level: level_at(r, 1)?,
                via: r
                    .get::<_, Option<String>>(2)?
                    .map(|n| GroupName::parse(&n).map_err(|x| rows::bad(2, x.to_string())))
                    .transpose()?,
            })
        })
        .map_err(e)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(e)?;
    Ok(AccessSet { grants, shares })
}

/// Deletes what `user` holds in `org`: its group memberships, grants and shares. Part of removing
/// a member (`identity::remove_member`), in the same transaction.
pub(super) fn forget_member(conn: &Connection, org: OrgId, user: UserId) -> R<()> {
    let (o, u) = (org.to_bytes(), user.to_bytes());
    conn.execute(
        "DELETE FROM group_members WHERE user_id = ?2 AND group_id IN (SELECT id FROM groups WHERE org_id = ?1)",
        params![o, u],
    )
    .map_err(e)?;
    conn.execute(
        "DELETE FROM grants WHERE org_id = ?1 AND user_id = ?2",
        params![o, u],
    )
    .map_err(e)?;
    conn.execute(
        "DELETE FROM shares WHERE user_id = ?2 AND secret_id IN (SELECT id FROM secrets WHERE org_id = ?1)",
        params![o, u],
    )
    .map_err(e)?;
    Ok(())
}

#[async_trait]
impl AccessCatalog for SqliteCatalog {
    async fn create_group(&self, group: GroupRecord, a: AuditDraft) -> R<()> {
        self.writer
            .write(move |c| create_group(c, &group, &a))
            .await
    }
    async fn delete_group(&self, org: OrgId, id: GroupId, a: AuditDraft) -> R<()> {
        self.writer
            .write(move |c| delete_group(c, org, id, &a))
            .await
    }
    async fn groups(&self, org: OrgId) -> R<Vec<GroupRecord>> {
        self.read(move |c| groups(c, org)).await
    }
    async fn set_group_member(
        &self,
        org: OrgId,
        id: GroupId,
        user: UserId,
        member: bool,
        a: AuditDraft,
    ) -> R<bool> {
        self.writer
            .write(move |c| set_group_member(c, org, id, user, member, &a))
            .await
    }
    async fn put_grant(&self, grant: GrantRecord, a: AuditDraft) -> R<GrantRecord> {
        self.writer.write(move |c| put_grant(c, &grant, &a)).await
    }
    async fn delete_grant(&self, org: OrgId, id: GrantId, a: AuditDraft) -> R<GrantRecord> {
        self.writer
            .write(move |c| delete_grant(c, org, id, &a))
            .await
    }
    async fn grants(&self, org: OrgId) -> R<Vec<GrantRecord>> {
        self.read(move |c| grants(c, org)).await
    }
    async fn put_share(&self, share: ShareRecord, a: AuditDraft) -> R<()> {
        self.writer.write(move |c| put_share(c, &share, &a)).await
    }
    async fn delete_share(&self, secret: SecretId, p: PrincipalId, a: AuditDraft) -> R<bool> {
        self.writer
            .write(move |c| delete_share(c, secret, p, &a))
            .await
    }
    async fn shares(&self, secret: SecretId) -> R<Vec<ShareRecord>> {
        self.read(move |c| shares(c, secret)).await
    }
    async fn set_restricted(&self, secret: SecretId, restricted: bool, a: AuditDraft) -> R<bool> {
        self.writer
            .write(move |c| set_restricted(c, secret, restricted, &a))
            .await
    }
    async fn access_set(&self, org: OrgId, user: UserId) -> R<AccessSet> {
        self.read(move |c| access_set(c, org, user)).await
    }
}
