//! [`WebhookCatalog`] on SQLite: `webhooks`, `webhook_deliveries` and `expiry_reminders`
//! (migration 12). Reads run on the read pool; every write is one request to the group-commit
//! writer. One writer thread owns the file, so a claim is a plain select-then-update inside its
//! transaction: nothing else can take the same rows in between.
//!
//! The delivery pipeline's own writes (enqueue, claim, outcome, pruning) touch nothing the read
//! cache holds and are answered once committed, not synced: losing the last few ms of them to a
//! power cut only means a delivery is enqueued or attempted again, which at-least-once delivery
//! (and the receiver's event id) already allows. Management changes and reminders, which carry
//! audit events, are synced like every other write.

use super::tx::Tx;
use super::writer::{Changes, Durability, Undo};
use super::{SqliteCatalog, map_err as e, reads, rows, writes};
use crate::audit::AuditDraft;
use crate::catalog::webhooks::{OutcomeColumns, STILL_PENDING, events_text, parse_events};
use crate::catalog::{
    AttemptOutcome, CatalogError, DeliveryLease, DeliveryRecord, NewDelivery, SealedValue,
    SecretRecord, WebhookCatalog, WebhookRecord,
};
use crate::domain::{DeliveryId, DeliveryState, OrgId, SecretId, Timestamp, WebhookId};
use async_trait::async_trait;
use rusqlite::{Connection, Row, params};

type R<T> = Result<T, CatalogError>;

const HOOK_COLS: &str = "id, org_id, url, description, events, secret_id, secret_key_version, \
     secret_envelope, audit_cursor, created_at, created_by, secret_rotated_at";

fn hook_row(r: &Row) -> rusqlite::Result<WebhookRecord> {
    Ok(WebhookRecord {
        id: WebhookId::from_uuid(rows::uuid_at(r, 0)?),
        org: OrgId::from_uuid(rows::uuid_at(r, 1)?),
        url: r.get(2)?,
        description: r.get(3)?,
        events: rows::parse_at(r, 4, parse_events)?,
        secret: SealedValue {
            id: SecretId::from_uuid(rows::uuid_at(r, 5)?),
            key_version: r.get(6)?,
            envelope: r.get(7)?,
        },
        cursor: r.get::<_, i64>(8)? as u64,
        created_at: Timestamp::from_millis(r.get(9)?),
        created_by: r.get(10)?,
        secret_rotated_at: rows::opt_ts(r, 11)?,
    })
}

const DELIVERY_COLS: &str = "id, webhook_id, org_id, seq, event, body, state, attempts, \
     next_attempt_at, last_attempt_at, last_status, last_error, created_at, delivered_at";

fn delivery_row(r: &Row) -> rusqlite::Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: DeliveryId::from_uuid(rows::uuid_at(r, 0)?),
        webhook: WebhookId::from_uuid(rows::uuid_at(r, 1)?),
        org: OrgId::from_uuid(rows::uuid_at(r, 2)?),
        seq: r.get::<_, i64>(3)? as u64,
        event: rows::parse_at(r, 4, |s| s.parse().ok())?,
        body: r.get(5)?,
        state: rows::parse_at(r, 6, |s| s.parse().ok())?,
        attempts: r.get(7)?,
        next_attempt_at: Timestamp::from_millis(r.get(8)?),
        last_attempt_at: rows::opt_ts(r, 9)?,
        last_status: r.get(10)?,
        last_error: r.get(11)?,
        created_at: Timestamp::from_millis(r.get(12)?),
        delivered_at: rows::opt_ts(r, 13)?,
    })
}

fn hook(conn: &Connection, org: OrgId, id: WebhookId) -> R<WebhookRecord> {
    conn.query_row(
        &format!("SELECT {HOOK_COLS} FROM webhooks WHERE id = ?1 AND org_id = ?2"),
        params![id.to_bytes(), org.to_bytes()],
        hook_row,
    )
    .map_err(e)
}

fn hooks(conn: &Connection, org: Option<OrgId>) -> R<Vec<WebhookRecord>> {
    let (sql, args) = match org {
        Some(org) => (
            format!("SELECT {HOOK_COLS} FROM webhooks WHERE org_id = ?1 ORDER BY created_at, id"),
            vec![org.to_bytes()],
        ),
        None => (
            format!("SELECT {HOOK_COLS} FROM webhooks ORDER BY created_at, id"),
            vec![],
        ),
    };
    let mut s = conn.prepare_cached(&sql).map_err(e)?;
    s.query_map(rusqlite::params_from_iter(args), hook_row)
        .and_then(|it| it.collect())
        .map_err(e)
}

fn create(conn: &Tx, w: &WebhookRecord, a: &AuditDraft) -> R<WebhookRecord> {
    reads::org_by_id(conn, w.org)?;
    writes::append_audit(conn, a)?;
    let head: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM audit_events WHERE org_id = ?1",
            [w.org.to_bytes()],
            |r| r.get(0),
        )
        .map_err(e)?;
    conn.execute(
        &format!(
            "INSERT INTO webhooks ({HOOK_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL)"
        ),
        params![
            w.id.to_bytes(),
            w.org.to_bytes(),
            w.url,
            w.description,
            events_text(&w.events),
            w.secret.id.to_bytes(),
            w.secret.key_version,
            w.secret.envelope,
            head,
            w.created_at.millis(),
            w.created_by
        ],
    )
    .map_err(e)?;
    hook(conn, w.org, w.id)
}

fn delete(conn: &Tx, org: OrgId, id: WebhookId, a: &AuditDraft) -> R<()> {
    let n = conn
        .execute(
            "DELETE FROM webhooks WHERE id = ?1 AND org_id = ?2",
            params![id.to_bytes(), org.to_bytes()],
        )
        .map_err(e)?;
    if n == 0 {
        return Err(CatalogError::NotFound);
    }
    writes::append_audit(conn, a)
}

fn set_secret(
    conn: &Tx,
    org: OrgId,
    id: WebhookId,
    secret: &SealedValue,
    at: Timestamp,
    a: &AuditDraft,
) -> R<WebhookRecord> {
    let n = conn
        .execute(
            "UPDATE webhooks SET secret_id = ?3, secret_key_version = ?4, secret_envelope = ?5, \
             secret_rotated_at = ?6 WHERE id = ?1 AND org_id = ?2",
            params![
                id.to_bytes(),
                org.to_bytes(),
                secret.id.to_bytes(),
                secret.key_version,
                secret.envelope,
                at.millis()
            ],
        )
        .map_err(e)?;
    if n == 0 {
        return Err(CatalogError::NotFound);
    }
    writes::append_audit(conn, a)?;
    hook(conn, org, id)
}

fn enqueue(
    conn: &Tx,
    id: WebhookId,
    from: u64,
    to: u64,
    deliveries: &[NewDelivery],
    at: Timestamp,
) -> R<bool> {
    let org: [u8; 16] = conn
        .query_row(
            "SELECT org_id FROM webhooks WHERE id = ?1",
            [id.to_bytes()],
            |r| r.get(0),
        )
        .map_err(e)?;
    let moved = conn
        .execute(
            "UPDATE webhooks SET audit_cursor = ?3 WHERE id = ?1 AND audit_cursor = ?2",
            params![id.to_bytes(), from as i64, to as i64],
        )
        .map_err(e)?;
    if moved == 0 {
        return Ok(false);
    }
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO webhook_deliveries (id, webhook_id, org_id, seq, event, body, state, \
             attempts, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7) \
             ON CONFLICT (webhook_id, seq) DO NOTHING",
        )
        .map_err(e)?;
    for d in deliveries {
        insert
            .execute(params![
                d.id.to_bytes(),
                id.to_bytes(),
                org,
                d.seq as i64,
                d.event.as_str(),
                d.body,
                at.millis()
            ])
            .map_err(e)?;
    }
    Ok(true)
}

fn delivery(conn: &Connection, id: DeliveryId) -> R<DeliveryRecord> {
    conn.query_row(
        &format!("SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id = ?1"),
        [id.to_bytes()],
        delivery_row,
    )
    .map_err(e)
}

fn claim(conn: &Tx, now: Timestamp, lease: DeliveryLease, limit: u32) -> R<Vec<DeliveryRecord>> {
    let due: Vec<[u8; 16]> = {
        let mut s = conn
            .prepare_cached(
                "SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ?1 \
                 AND (leased_until IS NULL OR leased_until <= ?1) ORDER BY next_attempt_at, id LIMIT ?2",
            )
            .map_err(e)?;
        s.query_map(params![now.millis(), limit], |r| r.get(0))
            .and_then(|it| it.collect())
            .map_err(e)?
    };
    let mut take = conn
        .prepare_cached(
            "UPDATE webhook_deliveries SET leased_until = ?2, lease_id = ?3, attempts = attempts + 1 \
             WHERE id = ?1",
        )
        .map_err(e)?;
    let mut claimed = Vec::with_capacity(due.len());
    for id in due {
        take.execute(params![id, lease.until.millis(), lease.token.as_bytes()])
            .map_err(e)?;
        claimed.push(delivery(
            conn,
            DeliveryId::from_uuid(uuid::Uuid::from_bytes(id)),
        )?);
    }
    Ok(claimed)
}

fn finish(
    conn: &Tx,
    id: DeliveryId,
    lease: uuid::Uuid,
    at: Timestamp,
    outcome: AttemptOutcome,
) -> R<()> {
    let o = OutcomeColumns::of(outcome, at);
    let n = conn
        .prepare_cached(
            "UPDATE webhook_deliveries SET state = ?3, next_attempt_at = COALESCE(?4, next_attempt_at), \
             last_attempt_at = ?5, last_status = ?6, last_error = ?7, delivered_at = ?8, \
             leased_until = NULL, lease_id = NULL \
             WHERE id = ?1 AND lease_id = ?2 AND state = 'pending'",
        )
        .and_then(|mut s| {
            s.execute(params![
                id.to_bytes(),
                lease.as_bytes(),
                o.state.as_str(),
                o.next_at.map(Timestamp::millis),
                at.millis(),
                o.status,
                o.error,
                o.delivered_at.map(Timestamp::millis)
            ])
        })
        .map_err(e)?;
    if n == 0 {
        return Err(CatalogError::NotFound);
    }
    Ok(())
}

fn deliveries(
    conn: &Connection,
    org: OrgId,
    id: WebhookId,
    failed_only: bool,
    limit: u32,
) -> R<Vec<DeliveryRecord>> {
    hook(conn, org, id)?;
    let state = if failed_only { Some("failed") } else { None };
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE webhook_id = ?1 \
             AND (?2 IS NULL OR state = ?2) ORDER BY seq DESC LIMIT ?3"
        ))
        .map_err(e)?;
    s.query_map(params![id.to_bytes(), state, limit], delivery_row)
        .and_then(|it| it.collect())
        .map_err(e)
}

fn redeliver(
    conn: &Tx,
    org: OrgId,
    id: DeliveryId,
    at: Timestamp,
    a: &AuditDraft,
) -> R<DeliveryRecord> {
    let d = delivery(conn, id)?;
    if d.org != org {
        return Err(CatalogError::NotFound);
    }
    if d.state == DeliveryState::Pending {
        return Err(CatalogError::Refused(STILL_PENDING.into()));
    }
    conn.execute(
        "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?2, \
         leased_until = NULL, lease_id = NULL WHERE id = ?1",
        params![id.to_bytes(), at.millis()],
    )
    .map_err(e)?;
    writes::append_audit(conn, a)?;
    delivery(conn, id)
}

fn expiring(conn: &Connection, from: Timestamp, to: Timestamp, limit: u32) -> R<Vec<SecretRecord>> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {} FROM secrets s WHERE s.destroyed = 0 AND s.deleted_at IS NULL \
             AND s.expires_at IS NOT NULL AND s.expires_at BETWEEN ?1 AND ?2 \
             AND NOT EXISTS (SELECT 1 FROM expiry_reminders r \
                 WHERE r.secret_id = s.id AND r.expires_at = s.expires_at) \
             ORDER BY s.expires_at, s.id LIMIT ?3",
            rows::SECRET_COLS
        ))
        .map_err(e)?;
    s.query_map(params![from.millis(), to.millis(), limit], rows::secret)
        .and_then(|it| it.collect())
        .map_err(e)
}

fn remind(conn: &Tx, secret: SecretId, expires_at: Timestamp, a: &AuditDraft) -> R<bool> {
    let org: [u8; 16] = conn
        .query_row(
            "SELECT org_id FROM secrets WHERE id = ?1",
            [secret.to_bytes()],
            |r| r.get(0),
        )
        .map_err(e)?;
    let n = conn
        .execute(
            "INSERT INTO expiry_reminders (secret_id, expires_at, org_id, sent_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (secret_id, expires_at) DO NOTHING",
            params![
                secret.to_bytes(),
                expires_at.millis(),
                org,
                Timestamp::now().millis()
            ],
        )
        .map_err(e)?;
    if n == 0 {
        return Ok(false);
    }
    writes::append_audit(conn, a)?;
    Ok(true)
}

impl SqliteCatalog {
    /// A write of the delivery pipeline: answered once committed (see the module docs), and
    /// touching nothing the read cache holds.
    async fn pipeline_write<T, F>(&self, f: F) -> R<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx) -> R<T> + Send + 'static,
    {
        self.writer
            .write_with(
                Durability::Committed,
                Changes::ViewsAndAudit,
                Undo::Savepoint,
                move |c| f(c).map(|v| (v, Durability::Committed)),
            )
            .await
    }
}

#[async_trait]
impl WebhookCatalog for SqliteCatalog {
    async fn create_webhook(&self, w: WebhookRecord, a: AuditDraft) -> R<WebhookRecord> {
        self.writer.write(move |c| create(c, &w, &a)).await
    }
    async fn webhooks(&self, org: OrgId) -> R<Vec<WebhookRecord>> {
        self.read(move |c| hooks(c, Some(org))).await
    }
    async fn all_webhooks(&self) -> R<Vec<WebhookRecord>> {
        self.read(move |c| hooks(c, None)).await
    }
    async fn webhook(&self, org: OrgId, id: WebhookId) -> R<WebhookRecord> {
        self.point_read(move |c| hook(c, org, id)).await
    }
    async fn delete_webhook(&self, org: OrgId, id: WebhookId, a: AuditDraft) -> R<()> {
        self.writer.write(move |c| delete(c, org, id, &a)).await
    }
    async fn set_webhook_secret(
        &self,
        org: OrgId,
        id: WebhookId,
        secret: SealedValue,
        at: Timestamp,
        a: AuditDraft,
    ) -> R<WebhookRecord> {
        self.writer
            .write(move |c| set_secret(c, org, id, &secret, at, &a))
            .await
    }
    async fn enqueue_deliveries(
        &self,
        id: WebhookId,
        from: u64,
        to: u64,
        deliveries: Vec<NewDelivery>,
        at: Timestamp,
    ) -> R<bool> {
        self.pipeline_write(move |c| enqueue(c, id, from, to, &deliveries, at))
            .await
    }
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: DeliveryLease,
        limit: u32,
    ) -> R<Vec<DeliveryRecord>> {
        self.pipeline_write(move |c| claim(c, now, lease, limit))
            .await
    }
    async fn finish_delivery(
        &self,
        id: DeliveryId,
        lease: uuid::Uuid,
        at: Timestamp,
        outcome: AttemptOutcome,
    ) -> R<()> {
        self.pipeline_write(move |c| finish(c, id, lease, at, outcome))
            .await
    }
    async fn deliveries(
        &self,
        org: OrgId,
        id: WebhookId,
        failed_only: bool,
        limit: u32,
    ) -> R<Vec<DeliveryRecord>> {
        self.read(move |c| deliveries(c, org, id, failed_only, limit))
            .await
    }
    async fn redeliver(
        &self,
        org: OrgId,
        id: DeliveryId,
        at: Timestamp,
        a: AuditDraft,
    ) -> R<DeliveryRecord> {
        self.writer
            .write(move |c| redeliver(c, org, id, at, &a))
            .await
    }
    async fn prune_deliveries(&self, before: Timestamp) -> R<u64> {
        self.pipeline_write(move |c| {
            c.execute(
                "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND created_at < ?1",
                [before.millis()],
            )
            .map(|n| n as u64)
            .map_err(e)
        })
        .await
    }
    async fn expiring_secrets(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> R<Vec<SecretRecord>> {
        self.read(move |c| expiring(c, from, to, limit)).await
    }
    async fn remind_expiry(
        &self,
        secret: SecretId,
        expires_at: Timestamp,
        a: AuditDraft,
    ) -> R<bool> {
        self.writer
            .write_with(
                Durability::Synced,
                Changes::ViewsAndAudit,
                Undo::Savepoint,
                move |c| remind(c, secret, expires_at, &a).map(|v| (v, Durability::Synced)),
            )
            .await
    }
}
