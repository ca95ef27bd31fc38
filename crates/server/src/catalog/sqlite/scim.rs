//! [`ScimCatalog`] on SQLite: `scim_tokens`, `scim_users` and `scim_groups` (migration 10).
//! Reads run on the read pool; every write is one request to the group-commit writer, atomic
//! with its audit events. A deactivation ends the membership through the same function as
//! removing a member (`identity::end_membership`), so the two cannot differ.

use super::access::{insert_group, put_group_member};
use super::identity::end_membership;
use super::tx::Tx;
use super::{SqliteCatalog, map_err as e, reads, rows, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    CatalogError, GroupRecord, ScimCatalog, ScimGroupRecord, ScimMembership, ScimTokenRecord,
    ScimUserRecord, UserRecord,
};
use crate::domain::{
    GroupId, GroupName, IdentityKind, OrgId, Role, ScimTokenId, Timestamp, UserId,
};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

type R<T> = Result<T, CatalogError>;

const TOKEN_COLS: &str = "id, hash, org_id, name, created_at, created_by, revoked_at";

fn token_row(r: &Row) -> rusqlite::Result<ScimTokenRecord> {
    Ok(ScimTokenRecord {
        id: ScimTokenId::from_uuid(rows::uuid_at(r, 0)?),
        hash: r.get(1)?,
        org: OrgId::from_uuid(rows::uuid_at(r, 2)?),
        name: r.get(3)?,
        created_at: Timestamp::from_millis(r.get(4)?),
        created_by: r.get(5)?,
        revoked_at: rows::opt_ts(r, 6)?,
    })
}

fn create_token(conn: &Tx, t: &ScimTokenRecord, a: &AuditDraft) -> R<()> {
    conn.execute(
        &format!("INSERT INTO scim_tokens ({TOKEN_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)"),
        params![
            t.id.to_bytes(),
            t.hash,
            t.org.to_bytes(),
            t.name,
            t.created_at.millis(),
            t.created_by
        ],
    )
    .map_err(e)?;
    writes::append_audit(conn, a)
}

fn token_by_hash(conn: &Connection, hash: &[u8; 32]) -> R<Option<ScimTokenRecord>> {
    conn.query_row(
        &format!("SELECT {TOKEN_COLS} FROM scim_tokens WHERE hash = ?1"),
        [hash],
        token_row,
    )
    .optional()
    .map_err(e)
}

fn tokens(conn: &Connection, org: OrgId) -> R<Vec<ScimTokenRecord>> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLS} FROM scim_tokens WHERE org_id = ?1 ORDER BY created_at DESC, id DESC"
        ))
        .map_err(e)?;
    s.query_map([org.to_bytes()], token_row)
        .and_then(|it| it.collect())
        .map_err(e)
}

fn token_in(conn: &Connection, org: OrgId, id: ScimTokenId) -> R<ScimTokenRecord> {
    conn.query_row(
        &format!("SELECT {TOKEN_COLS} FROM scim_tokens WHERE id = ?1 AND org_id = ?2"),
        params![id.to_bytes(), org.to_bytes()],
        token_row,
    )
    .map_err(e)
}

fn revoke_token(
    conn: &Tx,
    org: OrgId,
    id: ScimTokenId,
    at: Timestamp,
    a: &AuditDraft,
) -> R<ScimTokenRecord> {
    if token_in(conn, org, id)?.revoked_at.is_none() {
        conn.execute(
            "UPDATE scim_tokens SET revoked_at = ?2 WHERE id = ?1",
            params![id.to_bytes(), at.millis()],
        )
        .map_err(e)?;
        writes::append_audit(conn, a)?;
    }
    token_in(conn, org, id)
}

const USER_COLS: &str = "org_id, user_id, external_id, display_name, active, provisioned";

fn user_row(r: &Row) -> rusqlite::Result<ScimUserRecord> {
    Ok(ScimUserRecord {
        org: OrgId::from_uuid(rows::uuid_at(r, 0)?),
        user: UserId::from_uuid(rows::uuid_at(r, 1)?),
        external_id: r.get(2)?,
        display_name: r.get(3)?,
        active: r.get(4)?,
        provisioned: r.get(5)?,
    })
}

fn users(conn: &Connection, org: OrgId) -> R<Vec<ScimUserRecord>> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {USER_COLS} FROM scim_users WHERE org_id = ?1 ORDER BY user_id"
        ))
        .map_err(e)?;
    s.query_map([org.to_bytes()], user_row)
        .and_then(|it| it.collect())
        .map_err(e)
}

fn user(conn: &Connection, org: OrgId, user: UserId) -> R<Option<ScimUserRecord>> {
    conn.query_row(
        &format!("SELECT {USER_COLS} FROM scim_users WHERE org_id = ?1 AND user_id = ?2"),
        params![org.to_bytes(), user.to_bytes()],
        user_row,
    )
    .optional()
    .map_err(e)
}

/// Writes `r` (replacing the org's row for the person) with `provisioned` as given.
fn store_user(conn: &Connection, r: &ScimUserRecord, provisioned: bool) -> R<()> {
    conn.execute(
        &format!("INSERT OR REPLACE INTO scim_users ({USER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            r.org.to_bytes(),
            r.user.to_bytes(),
            r.external_id,
            r.display_name,
            r.active,
            provisioned
        ],
    )
    .map(drop)
    .map_err(e)
}

fn is_member(conn: &Connection, org: OrgId, user: UserId) -> R<bool> {
    match reads::member(conn, org, user) {
        Ok(_) => Ok(true),
        Err(CatalogError::NotFound) => Ok(false),
        Err(other) => Err(other),
    }
}

fn provision_person(
    conn: &Tx,
    u: &UserRecord,
    r: &ScimUserRecord,
    role: Role,
    audit: &[AuditDraft],
) -> R<()> {
    if u.kind != IdentityKind::Person || r.user != u.id || !r.provisioned {
        return Err(CatalogError::Refused(
            "SCIM provisions new people, with a record of their own".into(),
        ));
    }
    reads::org_by_id(conn, r.org)?;
    writes::insert_user(conn, u)?;
    store_user(conn, r, true)?;
    if r.active != Some(false) {
        writes::insert_member(conn, r.org, u.id, role)?;
    }
    audit.iter().try_for_each(|a| writes::append_audit(conn, a))
}

fn put_user(
    conn: &Tx,
    r: &ScimUserRecord,
    membership: ScimMembership,
    at: Timestamp,
    audit: &[AuditDraft],
) -> R<()> {
    let member = is_member(conn, r.org, r.user)?;
    let old = user(conn, r.org, r.user)?;
    if !member && old.is_none() {
        return Err(CatalogError::NotFound);
    }
    let provisioned = old.as_ref().is_some_and(|o| o.provisioned);
    match membership {
        ScimMembership::Keep => {}
        ScimMembership::End if member => {
            if end_membership(conn, r.org, r.user, at)? == Role::Owner {
                // Checked here, in the transaction that ends it, not only before: a promotion
                // between the service's check and this write must not let SCIM remove an owner.
                return Err(CatalogError::Refused("SCIM never removes an owner".into()));
            }
        }
        ScimMembership::End => {
            return Err(CatalogError::Refused("the person is not a member".into()));
        }
        ScimMembership::Restore(role) => {
            let deactivated = old.as_ref().is_some_and(|o| o.active == Some(false));
            if member || !deactivated {
                return Err(CatalogError::Refused(
                    "SCIM brings back only people it deactivated in this org".into(),
                ));
            }
            writes::insert_member(conn, r.org, r.user, role)?;
        }
    }
    store_user(conn, r, provisioned)?;
    audit.iter().try_for_each(|a| writes::append_audit(conn, a))
}

fn delete_user(conn: &Tx, org: OrgId, u: UserId, at: Timestamp, audit: &[AuditDraft]) -> R<()> {
    let member = is_member(conn, org, u)?;
    // Checked here, in the transaction that ends it, not only before: a promotion between the
    // service's check and this write must not let SCIM remove an owner.
    if member && end_membership(conn, org, u, at)? == Role::Owner {
        return Err(CatalogError::Refused("SCIM never removes an owner".into()));
    }
    let forgotten = conn
        .execute(
            "DELETE FROM scim_users WHERE org_id = ?1 AND user_id = ?2",
            params![org.to_bytes(), u.to_bytes()],
        )
        .map_err(e)?;
    if !member && forgotten == 0 {
        return Err(CatalogError::NotFound);
    }
    audit.iter().try_for_each(|a| writes::append_audit(conn, a))
}

fn groups(conn: &Connection, org: OrgId) -> R<Vec<ScimGroupRecord>> {
    let mut s = conn
        .prepare_cached(
            "SELECT s.group_id, g.org_id, s.display_name, s.external_id FROM scim_groups s \
             JOIN groups g ON g.id = s.group_id WHERE g.org_id = ?1 ORDER BY s.group_id",
        )
        .map_err(e)?;
    s.query_map([org.to_bytes()], |r| {
        Ok(ScimGroupRecord {
            group: GroupId::from_uuid(rows::uuid_at(r, 0)?),
            org: OrgId::from_uuid(rows::uuid_at(r, 1)?),
            display_name: r.get(2)?,
            external_id: r.get(3)?,
        })
    })
    .and_then(|it| it.collect())
    .map_err(e)
}

fn store_group(conn: &Connection, r: &ScimGroupRecord) -> R<()> {
    conn.execute(
        "INSERT OR REPLACE INTO scim_groups (group_id, display_name, external_id) VALUES (?1, ?2, ?3)",
        params![r.group.to_bytes(), r.display_name, r.external_id],
    )
    .map(drop)
    .map_err(e)
}

fn create_group(conn: &Tx, g: &GroupRecord, r: &ScimGroupRecord, audit: &[AuditDraft]) -> R<()> {
    if r.group != g.id || r.org != g.org {
        return Err(CatalogError::Refused(
            "the SCIM record is another group's".into(),
        ));
    }
    insert_group(conn, g)?;
    store_group(conn, r)?;
    for u in &g.members {
        put_group_member(conn, g.org, g.id, *u, true)?;
    }
    audit.iter().try_for_each(|a| writes::append_audit(conn, a))
}

fn put_group(
    conn: &Tx,
    r: &ScimGroupRecord,
    name: &GroupName,
    add: &[UserId],
    remove: &[UserId],
    audit: &[AuditDraft],
) -> R<()> {
    let n = conn
        .execute(
            "UPDATE groups SET name = ?3 WHERE id = ?1 AND org_id = ?2",
            params![r.group.to_bytes(), r.org.to_bytes(), name.as_str()],
        )
        .map_err(e)?;
    if n == 0 {
        return Err(CatalogError::NotFound);
    }
    store_group(conn, r)?;
    for u in remove {
        put_group_member(conn, r.org, r.group, *u, false)?;
    }
    for u in add {
        put_group_member(conn, r.org, r.group, *u, true)?;
    }
    audit.iter().try_for_each(|a| writes::append_audit(conn, a))
}

/// Forgets `user`'s SCIM record in `org`. Part of ending a membership, in the same transaction
/// (a deactivation writes its record again after it).
pub(super) fn forget_member(conn: &Connection, org: OrgId, user: UserId) -> R<()> {
    conn.execute(
        "DELETE FROM scim_users WHERE org_id = ?1 AND user_id = ?2",
        params![org.to_bytes(), user.to_bytes()],
    )
    .map(drop)
    .map_err(e)
}

#[async_trait]
impl ScimCatalog for SqliteCatalog {
    async fn create_scim_token(&self, t: ScimTokenRecord, a: AuditDraft) -> R<()> {
        self.writer.write(move |c| create_token(c, &t, &a)).await
    }
    async fn scim_token(&self, hash: &[u8; 32]) -> R<Option<ScimTokenRecord>> {
        let hash = *hash;
        self.point_read(move |c| token_by_hash(c, &hash)).await
    }
    async fn scim_tokens(&self, org: OrgId) -> R<Vec<ScimTokenRecord>> {
        self.read(move |c| tokens(c, org)).await
    }
    async fn revoke_scim_token(
        &self,
        org: OrgId,
        id: ScimTokenId,
        at: Timestamp,
        a: AuditDraft,
    ) -> R<ScimTokenRecord> {
        self.writer
            .write(move |c| revoke_token(c, org, id, at, &a))
            .await
    }
    async fn scim_users(&self, org: OrgId) -> R<Vec<ScimUserRecord>> {
        self.read(move |c| users(c, org)).await
    }
    async fn scim_user(&self, org: OrgId, u: UserId) -> R<Option<ScimUserRecord>> {
        self.point_read(move |c| user(c, org, u)).await
    }
    async fn provision_person(
        &self,
        u: UserRecord,
        r: ScimUserRecord,
        role: Role,
        audit: Vec<AuditDraft>,
    ) -> R<()> {
        self.writer
            .write(move |c| provision_person(c, &u, &r, role, &audit))
            .await
    }
    async fn put_scim_user(
        &self,
        r: ScimUserRecord,
        membership: ScimMembership,
        at: Timestamp,
        audit: Vec<AuditDraft>,
    ) -> R<()> {
        self.writer
            .write(move |c| put_user(c, &r, membership, at, &audit))
            .await
    }
    async fn delete_scim_user(
        &self,
        org: OrgId,
        u: UserId,
        at: Timestamp,
        audit: Vec<AuditDraft>,
    ) -> R<()> {
        self.writer
            .write(move |c| delete_user(c, org, u, at, &audit))
            .await
    }
    async fn scim_groups(&self, org: OrgId) -> R<Vec<ScimGroupRecord>> {
        self.read(move |c| groups(c, org)).await
    }
    async fn create_scim_group(
        &self,
        g: GroupRecord,
        r: ScimGroupRecord,
        audit: Vec<AuditDraft>,
    ) -> R<()> {
        self.writer
            .write(move |c| create_group(c, &g, &r, &audit))
            .await
    }
    async fn put_scim_group(
        &self,
        r: ScimGroupRecord,
        name: GroupName,
        add: Vec<UserId>,
        remove: Vec<UserId>,
        audit: Vec<AuditDraft>,
    ) -> R<()> {
        self.writer
            .write(move |c| put_group(c, &r, &name, &add, &remove, &audit))
            .await
    }
}
