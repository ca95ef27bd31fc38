//! [`JiraCatalog`] on SQLite: `jira_sites`, `jira_accounts`, `jira_pending`, `jira_refs` and
//! `jira_tombstones` (migration 13). Reads run on the read pool; every write (taking a pending
//! row too, so it is handed out once) is one request to the group-commit writer, atomic with its
//! audit events.

use super::tx::Tx;
use super::{SqliteCatalog, map_err as e, reads, rows, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    CatalogError, ForgeLink, JiraAccount, JiraCatalog, JiraPending, JiraSite, JiraTombstone,
    SealedValue, StoredBlob,
};
use crate::domain::{IdentityKind, IssueKey, OrgId, SecretId, Timestamp, UserId};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

type R<T> = Result<T, CatalogError>;

const SITE_COLS: &str = "org_id, kind, site_url, cloud_id, client_id, secret_id, \
     secret_key_version, secret_envelope, hook_id, hook_key_version, hook_envelope, expose_names, \
     retention_days, generation, updated_at, updated_by";

const ACCOUNT_COLS: &str = "org_id, user_id, account_id, display_name, token_id, \
     token_key_version, token_envelope, linked_at, refreshed_at";

fn sealed(r: &Row, at: usize) -> rusqlite::Result<SealedValue> {
    Ok(SealedValue {
        id: SecretId::from_uuid(rows::uuid_at(r, at)?),
        key_version: r.get(at + 1)?,
        envelope: r.get(at + 2)?,
    })
}

fn site_row(r: &Row) -> rusqlite::Result<JiraSite> {
    let kind: String = r.get(1)?;
    Ok(JiraSite {
        org: OrgId::from_uuid(rows::uuid_at(r, 0)?),
        kind: kind.parse().map_err(|m: String| rows::bad(1, m))?,
        site_url: r.get(2)?,
        cloud_id: r.get(3)?,
        client_id: r.get(4)?,
        client_secret: sealed(r, 5)?,
        webhook_secret: sealed(r, 8)?,
        expose_names: r.get(11)?,
        retention_days: r.get(12)?,
        generation: r.get::<_, i64>(13)? as u64,
        updated_at: Timestamp::from_millis(r.get(14)?),
        updated_by: r.get(15)?,
    })
}

fn account_row(r: &Row) -> rusqlite::Result<JiraAccount> {
    Ok(JiraAccount {
        org: OrgId::from_uuid(rows::uuid_at(r, 0)?),
        user: UserId::from_uuid(rows::uuid_at(r, 1)?),
        account_id: r.get(2)?,
        display_name: r.get(3)?,
        tokens: sealed(r, 4)?,
        linked_at: Timestamp::from_millis(r.get(7)?),
        refreshed_at: Timestamp::from_millis(r.get(8)?),
    })
}

pub(super) fn site(conn: &Connection, org: OrgId) -> R<Option<JiraSite>> {
    conn.query_row(
        &format!("SELECT {SITE_COLS} FROM jira_sites WHERE org_id = ?1"),
        [org.to_bytes()],
        site_row,
    )
    .optional()
    .map_err(e)
}

/// Forgets what belongs to the org's site: account links, pending consents, issue ids.
fn forget_site_state(conn: &Connection, org: OrgId) -> R<()> {
    for table in ["jira_accounts", "jira_pending", "jira_refs", "jira_forge"] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE org_id = ?1"),
            [org.to_bytes()],
        )
        .map_err(e)?;
    }
    Ok(())
}

fn put_site(conn: &Tx, s: &JiraSite, a: &AuditDraft) -> R<()> {
    reads::org_by_id(conn, s.org)?;
    let old = site(conn, s.org)?;
    if old
        .as_ref()
        .is_some_and(|o| o.site_url != s.site_url || o.kind != s.kind)
    {
        forget_site_state(conn, s.org)?;
    }
    let generation = old.map_or(1, |o| o.generation + 1) as i64;
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO jira_sites ({SITE_COLS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
        ),
        params![
            s.org.to_bytes(),
            s.kind.as_str(),
            s.site_url,
            s.cloud_id,
            s.client_id,
            s.client_secret.id.to_bytes(),
            s.client_secret.key_version,
            s.client_secret.envelope,
            s.webhook_secret.id.to_bytes(),
            s.webhook_secret.key_version,
            s.webhook_secret.envelope,
            s.expose_names,
            s.retention_days,
            generation,
            s.updated_at.millis(),
            s.updated_by,
        ],
    )
    .map_err(e)?;
    writes::append_audit(conn, a)
}

fn delete_site(conn: &Tx, org: OrgId, a: &AuditDraft) -> R<bool> {
    let n = conn
        .execute("DELETE FROM jira_sites WHERE org_id = ?1", [org.to_bytes()])
        .map_err(e)?;
    if n == 0 {
        return Ok(false);
    }
    forget_site_state(conn, org)?;
    writes::append_audit(conn, a)?;
    Ok(true)
}

fn bump(conn: &Tx, org: OrgId) -> R<Option<u64>> {
    conn.query_row(
        "UPDATE jira_sites SET generation = generation + 1 WHERE org_id = ?1 RETURNING generation",
        [org.to_bytes()],
        |r| r.get::<_, i64>(0),
    )
    .optional()
    .map(|g| g.map(|g| g as u64))
    .map_err(e)
}

fn put_pending(conn: &Tx, p: &JiraPending, now: Timestamp) -> R<()> {
    conn.execute(
        "DELETE FROM jira_pending WHERE expires_at < ?1",
        [now.millis()],
    )
    .map_err(e)?;
    conn.execute(
        "INSERT INTO jira_pending (hash, org_id, user_id, verifier, browser, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            p.hash,
            p.org.to_bytes(),
            p.user.to_bytes(),
            p.verifier,
            p.browser,
            p.expires_at.millis()
        ],
    )
    .map(drop)
    .map_err(e)
}

fn take_pending(conn: &Tx, hash: &[u8; 32], now: Timestamp) -> R<Option<JiraPending>> {
    let row = conn
        .query_row(
            "DELETE FROM jira_pending WHERE hash = ?1 \
             RETURNING hash, org_id, user_id, verifier, browser, expires_at",
            [hash],
            |r| {
                Ok(JiraPending {
                    hash: r.get(0)?,
                    org: OrgId::from_uuid(rows::uuid_at(r, 1)?),
                    user: UserId::from_uuid(rows::uuid_at(r, 2)?),
                    verifier: r.get(3)?,
                    browser: r.get(4)?,
                    expires_at: Timestamp::from_millis(r.get(5)?),
                })
            },
        )
        .optional()
        .map_err(e)?;
    // Refused only after its expiry (`expires_at < now`), the rows `put_pending` sweeps.
    Ok(row.filter(|p| p.expires_at >= now))
}

fn put_account(conn: &Tx, a: &JiraAccount, audit: Option<&AuditDraft>) -> R<()> {
    if site(conn, a.org)?.is_none() {
        return Err(CatalogError::Refused(
            "the org is not linked to a Jira site".into(),
        ));
    }
    match reads::member(conn, a.org, a.user) {
        Ok(m) if m.user.kind == IdentityKind::Person => {}
        Ok(_) | Err(CatalogError::NotFound) => {
            return Err(CatalogError::Refused(
                "only a person who is a member of the org can link a Jira account".into(),
            ));
        }
        Err(other) => return Err(other),
    }
    let taken: Option<[u8; 16]> = conn
        .query_row(
            "SELECT user_id FROM jira_accounts WHERE org_id = ?1 AND account_id = ?2",
            params![a.org.to_bytes(), a.account_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(e)?;
    if taken.is_some_and(|u| u != a.user.to_bytes()) {
        return Err(CatalogError::AlreadyExists);
    }
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO jira_accounts ({ACCOUNT_COLS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ),
        params![
            a.org.to_bytes(),
            a.user.to_bytes(),
            a.account_id,
            a.display_name,
            a.tokens.id.to_bytes(),
            a.tokens.key_version,
            a.tokens.envelope,
            a.linked_at.millis(),
            a.refreshed_at.millis(),
        ],
    )
    .map_err(e)?;
    match audit {
        Some(a) => writes::append_audit(conn, a),
        None => Ok(()),
    }
}

fn refresh_tokens(
    conn: &Tx,
    org: OrgId,
    user: UserId,
    expected: SecretId,
    t: &SealedValue,
    at: Timestamp,
) -> R<bool> {
    let n = conn
        .execute(
            "UPDATE jira_accounts SET token_id = ?4, token_key_version = ?5, token_envelope = ?6, \
             refreshed_at = ?7 WHERE org_id = ?1 AND user_id = ?2 AND token_id = ?3",
            params![
                org.to_bytes(),
                user.to_bytes(),
                expected.to_bytes(),
                t.id.to_bytes(),
                t.key_version,
                t.envelope,
                at.millis()
            ],
        )
        .map_err(e)?;
    Ok(n == 1)
}

fn account(conn: &Connection, org: OrgId, user: UserId) -> R<Option<JiraAccount>> {
    conn.query_row(
        &format!("SELECT {ACCOUNT_COLS} FROM jira_accounts WHERE org_id = ?1 AND user_id = ?2"),
        params![org.to_bytes(), user.to_bytes()],
        account_row,
    )
    .optional()
    .map_err(e)
}

fn delete_account(conn: &Tx, org: OrgId, user: UserId, a: &AuditDraft) -> R<bool> {
    let n = conn
        .execute(
            "DELETE FROM jira_accounts WHERE org_id = ?1 AND user_id = ?2",
            params![org.to_bytes(), user.to_bytes()],
        )
        .map_err(e)?;
    if n == 0 {
        return Ok(false);
    }
    writes::append_audit(conn, a)?;
    Ok(true)
}

fn put_refs(conn: &Tx, org: OrgId, refs: &[(String, String)]) -> R<()> {
    if site(conn, org)?.is_none() {
        return Ok(());
    }
    let mut s = conn
        .prepare_cached(
            "INSERT OR REPLACE INTO jira_refs (org_id, key, jira_id) VALUES (?1, ?2, ?3)",
        )
        .map_err(e)?;
    for (key, id) in refs {
        s.execute(params![org.to_bytes(), key, id]).map_err(e)?;
    }
    Ok(())
}

fn refs(conn: &Connection, org: OrgId, keys: &[String]) -> R<Vec<(String, String)>> {
    let mut s = conn
        .prepare_cached("SELECT jira_id FROM jira_refs WHERE org_id = ?1 AND key = ?2")
        .map_err(e)?;
    let mut out = Vec::new();
    for key in keys {
        if let Some(id) = s
            .query_row(params![org.to_bytes(), key], |r| r.get::<_, String>(0))
            .optional()
            .map_err(e)?
        {
            out.push((key.clone(), id));
        }
    }
    Ok(out)
}

fn bury(
    conn: &Tx,
    org: OrgId,
    secrets: &[(SecretId, AuditDraft)],
    at: Timestamp,
) -> R<Vec<SecretId>> {
    let mut done = Vec::new();
    for (secret, audit) in secrets {
        let n = conn
            .execute(
                "UPDATE secrets SET deleted_at = ?3 \
                 WHERE id = ?1 AND org_id = ?2 AND destroyed = 0 AND deleted_at IS NULL",
                params![secret.to_bytes(), org.to_bytes(), at.millis()],
            )
            .map_err(e)?;
        if n == 0 {
            continue;
        }
        conn.execute(
            "INSERT OR REPLACE INTO jira_tombstones (secret_id, org_id, deleted_at) VALUES (?1, ?2, ?3)",
            params![secret.to_bytes(), org.to_bytes(), at.millis()],
        )
        .map_err(e)?;
        writes::append_audit(conn, audit)?;
        done.push(*secret);
    }
    Ok(done)
}

fn rekey(conn: &Tx, org: OrgId, from: &IssueKey, to: &IssueKey, a: &AuditDraft) -> R<u64> {
    let (fp, fi) = (from.project().as_str(), from.number());
    let (tp, ti) = (to.project().as_str(), to.number());
    let moved = conn
        .execute(
            "UPDATE secrets SET project = ?4, issue = ?5, \
             restricted = CASE WHEN ?2 <> ?4 THEN 1 ELSE restricted END \
             WHERE org_id = ?1 AND project = ?2 AND issue = ?3 AND destroyed = 0 \
             AND NOT EXISTS (SELECT 1 FROM secrets t WHERE t.org_id = ?1 AND t.project = ?4 \
                             AND t.issue = ?5 AND t.name = secrets.name AND t.destroyed = 0)",
            params![org.to_bytes(), fp, fi, tp, ti],
        )
        .map_err(e)?;
    // A grant on the old key follows the issue unless the principal already has one on the new.
    let grants = conn.execute(
        "UPDATE grants SET project = ?4, issue = ?5 \
         WHERE org_id = ?1 AND project = ?2 AND issue = ?3 \
         AND NOT EXISTS (SELECT 1 FROM grants t WHERE t.org_id = ?1 AND t.project = ?4 \
                         AND t.issue = ?5 AND coalesce(t.user_id, t.group_id) = coalesce(grants.user_id, grants.group_id))",
        params![org.to_bytes(), fp, fi, tp, ti],
    )
    .map_err(e)?;
    // Anything moved (a grant alone too) is written.
    if moved > 0 || grants > 0 {
        writes::append_audit(conn, a)?;
    }
    Ok(moved as u64)
}

fn due_tombstones(conn: &Connection, now: Timestamp, limit: u32) -> R<Vec<JiraTombstone>> {
    let mut s = conn
        .prepare_cached(
            "SELECT t.secret_id, t.org_id, t.deleted_at FROM jira_tombstones t \
             LEFT JOIN jira_sites s ON s.org_id = t.org_id \
             WHERE t.deleted_at + coalesce(s.retention_days, 30) * 86400000 <= ?1 \
             ORDER BY t.deleted_at LIMIT ?2",
        )
        .map_err(e)?;
    s.query_map(params![now.millis(), limit], |r| {
        Ok(JiraTombstone {
            secret: SecretId::from_uuid(rows::uuid_at(r, 0)?),
            org: OrgId::from_uuid(rows::uuid_at(r, 1)?),
            deleted_at: Timestamp::from_millis(r.get(2)?),
        })
    })
    .map_err(e)?
    .collect::<rusqlite::Result<Vec<_>>>()
    .map_err(e)
}

fn destroy_buried(conn: &Tx, secret: SecretId, a: &AuditDraft) -> R<Option<Vec<StoredBlob>>> {
    // Still deleted by the event itself: a secret restored and deleted again by a person since
    // has another deletion time, and stays restorable.
    let buried: Option<bool> = conn
        .query_row(
            "SELECT s.deleted_at IS NOT NULL AND s.deleted_at = t.deleted_at \
             FROM jira_tombstones t JOIN secrets s ON s.id = t.secret_id AND s.org_id = t.org_id \
             WHERE t.secret_id = ?1 AND s.destroyed = 0",
            [secret.to_bytes()],
            |r| r.get(0),
        )
        .optional()
        .map_err(e)?;
    conn.execute(
        "DELETE FROM jira_tombstones WHERE secret_id = ?1",
        [secret.to_bytes()],
    )
    .map_err(e)?;
    if buried != Some(true) {
        return Ok(None);
    }
    writes::destroy(conn, secret, a).map(Some)
}

const FORGE_COLS: &str = "org_id, app_id, installation_id, linked_at, linked_by";

fn forge_row(r: &Row) -> rusqlite::Result<ForgeLink> {
    Ok(ForgeLink {
        org: OrgId::from_uuid(rows::uuid_at(r, 0)?),
        app_id: r.get(1)?,
        installation_id: r.get(2)?,
        linked_at: Timestamp::from_millis(r.get(3)?),
        linked_by: r.get(4)?,
    })
}

fn put_forge(conn: &Tx, l: &ForgeLink, a: &AuditDraft) -> R<()> {
    if site(conn, l.org)?.is_none() {
        return Err(CatalogError::Refused(
            "the org is not linked to a Jira site".into(),
        ));
    }
    let taken: Option<[u8; 16]> = conn
        .query_row(
            "SELECT org_id FROM jira_forge WHERE installation_id = ?1",
            [&l.installation_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(e)?;
    if taken.is_some_and(|o| o != l.org.to_bytes()) {
        return Err(CatalogError::AlreadyExists);
    }
    conn.execute(
        &format!("INSERT OR REPLACE INTO jira_forge ({FORGE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
        params![
            l.org.to_bytes(),
            l.app_id,
            l.installation_id,
            l.linked_at.millis(),
            l.linked_by
        ],
    )
    .map_err(e)?;
    writes::append_audit(conn, a)
}

fn forge_where(conn: &Connection, clause: &str, arg: &dyn rusqlite::ToSql) -> R<Option<ForgeLink>> {
    conn.query_row(
        &format!("SELECT {FORGE_COLS} FROM jira_forge WHERE {clause}"),
        [arg],
        forge_row,
    )
    .optional()
    .map_err(e)
}

fn delete_forge(conn: &Tx, org: OrgId, a: &AuditDraft) -> R<bool> {
    let n = conn
        .execute("DELETE FROM jira_forge WHERE org_id = ?1", [org.to_bytes()])
        .map_err(e)?;
    if n == 0 {
        return Ok(false);
    }
    writes::append_audit(conn, a)?;
    Ok(true)
}

fn account_by_id(conn: &Connection, org: OrgId, account_id: &str) -> R<Option<JiraAccount>> {
    conn.query_row(
        &format!("SELECT {ACCOUNT_COLS} FROM jira_accounts WHERE org_id = ?1 AND account_id = ?2"),
        params![org.to_bytes(), account_id],
        account_row,
    )
    .optional()
    .map_err(e)
}

#[async_trait]
impl JiraCatalog for SqliteCatalog {
    async fn jira_site(&self, org: OrgId) -> R<Option<JiraSite>> {
        self.read(move |c| site(c, org)).await
    }
    async fn put_jira_site(&self, s: JiraSite, a: AuditDraft) -> R<()> {
        self.writer.write(move |c| put_site(c, &s, &a)).await
    }
    async fn delete_jira_site(&self, org: OrgId, a: AuditDraft) -> R<bool> {
        self.writer.write(move |c| delete_site(c, org, &a)).await
    }
    async fn bump_jira_generation(&self, org: OrgId) -> R<Option<u64>> {
        self.writer.write(move |c| bump(c, org)).await
    }
    async fn put_jira_pending(&self, p: JiraPending, now: Timestamp) -> R<()> {
        self.writer.write(move |c| put_pending(c, &p, now)).await
    }
    async fn take_jira_pending(&self, hash: &[u8; 32], now: Timestamp) -> R<Option<JiraPending>> {
        let hash = *hash;
        self.writer
            .write(move |c| take_pending(c, &hash, now))
            .await
    }
    async fn put_jira_account(&self, a: JiraAccount, audit: Option<AuditDraft>) -> R<()> {
        self.writer
            .write(move |c| put_account(c, &a, audit.as_ref()))
            .await
    }
    async fn refresh_jira_tokens(
        &self,
        org: OrgId,
        user: UserId,
        expected: SecretId,
        tokens: SealedValue,
        at: Timestamp,
    ) -> R<bool> {
        self.writer
            .write(move |c| refresh_tokens(c, org, user, expected, &tokens, at))
            .await
    }
    async fn jira_account(&self, org: OrgId, user: UserId) -> R<Option<JiraAccount>> {
        self.read(move |c| account(c, org, user)).await
    }
    async fn count_jira_accounts(&self, org: OrgId) -> R<u64> {
        self.read(move |c| {
            c.query_row(
                "SELECT count(*) FROM jira_accounts WHERE org_id = ?1",
                [org.to_bytes()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(e)
        })
        .await
    }
    async fn delete_jira_account(&self, org: OrgId, user: UserId, a: AuditDraft) -> R<bool> {
        self.writer
            .write(move |c| delete_account(c, org, user, &a))
            .await
    }
    async fn put_jira_refs(&self, org: OrgId, r: &[(String, String)]) -> R<()> {
        let r = r.to_vec();
        self.writer.write(move |c| put_refs(c, org, &r)).await
    }
    async fn jira_refs(&self, org: OrgId, keys: &[String]) -> R<Vec<(String, String)>> {
        let keys = keys.to_vec();
        self.read(move |c| refs(c, org, &keys)).await
    }
    async fn jira_bury(
        &self,
        org: OrgId,
        secrets: Vec<(SecretId, AuditDraft)>,
        at: Timestamp,
    ) -> R<Vec<SecretId>> {
        self.writer.write(move |c| bury(c, org, &secrets, at)).await
    }
    async fn jira_rekey(
        &self,
        org: OrgId,
        from: &IssueKey,
        to: &IssueKey,
        a: AuditDraft,
    ) -> R<u64> {
        let (from, to) = (from.clone(), to.clone());
        self.writer
            .write(move |c| rekey(c, org, &from, &to, &a))
            .await
    }
    async fn jira_due_tombstones(&self, now: Timestamp, limit: u32) -> R<Vec<JiraTombstone>> {
        self.read(move |c| due_tombstones(c, now, limit)).await
    }
    async fn put_forge_link(&self, l: ForgeLink, a: AuditDraft) -> R<()> {
        self.writer.write(move |c| put_forge(c, &l, &a)).await
    }
    async fn forge_link(&self, org: OrgId) -> R<Option<ForgeLink>> {
        self.read(move |c| forge_where(c, "org_id = ?1", &org.to_bytes()))
            .await
    }
    async fn forge_link_by_installation(&self, installation: &str) -> R<Option<ForgeLink>> {
        let installation = installation.to_owned();
        self.read(move |c| forge_where(c, "installation_id = ?1", &installation))
            .await
    }
    async fn delete_forge_link(&self, org: OrgId, a: AuditDraft) -> R<bool> {
        self.writer.write(move |c| delete_forge(c, org, &a)).await
    }
    async fn jira_account_by_id(&self, org: OrgId, account_id: &str) -> R<Option<JiraAccount>> {
        let account_id = account_id.to_owned();
        self.read(move |c| account_by_id(c, org, &account_id)).await
    }
    async fn jira_destroy_buried(
        &self,
        secret: SecretId,
        a: AuditDraft,
    ) -> R<Option<Vec<StoredBlob>>> {
        self.writer
            .write(move |c| destroy_buried(c, secret, &a))
            .await
    }
}
