//! [`WebhookCatalog`] on SQLite: `webhooks`, `webhook_deliveries` and `expiry_reminders`
//! (migration 12). Reads run on the read pool; every write is one request to the group-commit
//! writer. One writer thread owns the file, so a claim is a plain select-then-update inside its
//! transaction (the fair pick is one window query: `ROW_NUMBER() OVER (PARTITION BY webhook_id
//! …)`), and the webhook limit of an org is counted in the transaction that inserts: nothing else
//! can write in between.
//!
//! The delivery pipeline's own writes (enqueue, claim, outcome, release, pruning) touch nothing
//! the read cache holds and are answered once committed, not synced: losing the last few ms of
//! them to a power cut only means a delivery is enqueued or attempted again, which at-least-once
//! delivery (and the receiver's event id) already allows. Management changes and reminders,
//! which carry audit events, are synced like every other write.

use super::tx::Tx;
use super::writer::{Changes, Durability, Undo};
use super::{SqliteCatalog, map_err as e, reads, rows, writes};
use crate::audit::AuditDraft;
use crate::catalog::webhooks::{
    OutcomeColumns, STILL_PENDING, breaker_millis, events_text, parse_events, too_many_webhooks,
};
use crate::catalog::{
    AttemptOutcome, CatalogError, ClaimRules, DeliveryLease, DeliveryRecord, Enqueued, NewDelivery,
    SecretRecord, UnreadableWebhook, WebhookCatalog, WebhookRecord, WebhookSecret,
};
use crate::domain::{DeliveryId, DeliveryState, OrgId, SecretId, Timestamp, WebhookId};
use async_trait::async_trait;
use rusqlite::{Connection, Row, params};

type R<T> = Result<T, CatalogError>;

const HOOK_COLS: &str = "id, org_id, url, description, events, secret_key_version, secret_wrap, \
     audit_cursor, created_at, created_by, secret_rotated_at, failures, failed_at";

fn hook_row(r: &Row) -> rusqlite::Result<WebhookRecord> {
    Ok(WebhookRecord {
        id: WebhookId::from_uuid(rows::uuid_at(r, 0)?),
        org: OrgId::from_uuid(rows::uuid_at(r, 1)?),
        url: r.get(2)?,
        description: r.get(3)?,
        events: rows::parse_at(r, 4, parse_events)?,
        secret: WebhookSecret {
            key_version: r.get(5)?,
            wrap: r.get(6)?,
        },
        cursor: r.get::<_, i64>(7)? as u64,
        created_at: Timestamp::from_millis(r.get(8)?),
        created_by: r.get(9)?,
        secret_rotated_at: rows::opt_ts(r, 10)?,
        failures: r.get(11)?,
        failed_at: rows::opt_ts(r, 12)?,
    })
}

/// A webhook row, or what is wrong with it if only its id and org can be read.
fn hook_or_unreadable(
    r: &Row,
) -> rusqlite::Result<std::result::Result<WebhookRecord, UnreadableWebhook>> {
    match hook_row(r) {
        Ok(w) => Ok(Ok(w)),
        Err(err) => Ok(Err(UnreadableWebhook {
            id: WebhookId::from_uuid(rows::uuid_at(r, 0)?),
            org: OrgId::from_uuid(rows::uuid_at(r, 1)?),
            reason: err.to_string(),
        })),
    }
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

fn hooks(conn: &Connection, org: OrgId) -> R<Vec<WebhookRecord>> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {HOOK_COLS} FROM webhooks WHERE org_id = ?1 ORDER BY created_at, id"
        ))
        .map_err(e)?;
    s.query_map([org.to_bytes()], hook_row)
        .and_then(|it| it.collect())
        .map_err(e)
}

fn all_hooks(conn: &Connection) -> R<Vec<std::result::Result<WebhookRecord, UnreadableWebhook>>> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {HOOK_COLS} FROM webhooks ORDER BY created_at, id"
        ))
        .map_err(e)?;
    s.query_map([], hook_or_unreadable)
        .and_then(|it| it.collect())
        .map_err(e)
}

fn create(conn: &Tx, w: &WebhookRecord, a: &AuditDraft, max: u32) -> R<WebhookRecord> {
    reads::org_by_id(conn, w.org)?;
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM webhooks WHERE org_id = ?1",
            [w.org.to_bytes()],
            |r| r.get(0),
        )
        .map_err(e)?;
    if n >= i64::from(max) {
        return Err(CatalogError::Refused(too_many_webhooks(max)));
    }
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
            "INSERT INTO webhooks ({HOOK_COLS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, 0, NULL)"
        ),
        params![
            w.id.to_bytes(),
            w.org.to_bytes(),
            w.url,
            w.description,
            events_text(&w.events),
            w.secret.key_version,
            w.secret.wrap,
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
    secret: &WebhookSecret,
    at: Timestamp,
    a: &AuditDraft,
) -> R<WebhookRecord> {
    let n = conn
        .execute(
            "UPDATE webhooks SET secret_key_version = ?3, secret_wrap = ?4, secret_rotated_at = ?5 \
             WHERE id = ?1 AND org_id = ?2",
            params![
                id.to_bytes(),
                org.to_bytes(),
                secret.key_version,
                secret.wrap,
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
    max_pending: u64,
) -> R<Option<Enqueued>> {
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
        return Ok(None);
    }
    let pending: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = ?1 AND state = 'pending'",
            [id.to_bytes()],
            |r| r.get(0),
        )
        .map_err(e)?;
    let room = max_pending.saturating_sub(pending.max(0) as u64);
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO webhook_deliveries (id, webhook_id, org_id, seq, event, body, state, \
             attempts, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7) \
             ON CONFLICT (webhook_id, seq) DO NOTHING",
        )
        .map_err(e)?;
    let mut done = Enqueued::default();
    for d in deliveries {
        if done.stored >= room {
            done.dropped += 1;
            continue;
        }
        done.stored += insert
            .execute(params![
                d.id.to_bytes(),
                id.to_bytes(),
                org,
                d.seq as i64,
                d.event.as_str(),
                d.body,
                at.millis()
            ])
            .map_err(e)? as u64;
    }
    Ok(Some(done))
}

fn delivery(conn: &Connection, id: DeliveryId) -> R<DeliveryRecord> {
    conn.query_row(
        &format!("SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id = ?1"),
        [id.to_bytes()],
        delivery_row,
    )
    .map_err(e)
}

/// The due deliveries a claim may take under `rules`, fairest first (see [`ClaimRules`]).
const FAIR_DUE: &str = "SELECT id FROM (\
     SELECT d.id, d.next_attempt_at, \
         ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at, d.id) AS turn, \
         CASE WHEN w.failures >= ?3 THEN 1 ELSE ?4 END AS quota \
     FROM webhook_deliveries d \
     JOIN webhooks w ON w.id = d.webhook_id \
     JOIN orgs o ON o.id = d.org_id \
     WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 \
         AND (d.leased_until IS NULL OR d.leased_until <= ?1) \
         AND o.status = 'active' \
         AND (w.failures < ?3 OR w.failed_at IS NULL \
             OR w.failed_at + MIN(?6, ?5 << MAX(MIN(w.failures - ?3, 20), 0)) <= ?1) \
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries f WHERE f.webhook_id = d.webhook_id \
             AND f.state = 'pending' AND f.leased_until > ?1)\
     ) WHERE turn <= quota ORDER BY turn, next_attempt_at, id LIMIT ?2";

fn claim(
    conn: &Tx,
    now: Timestamp,
    lease: DeliveryLease,
    rules: ClaimRules,
) -> R<Vec<DeliveryRecord>> {
    let (base, max) = breaker_millis(&rules);
    let due: Vec<[u8; 16]> = {
        let mut s = conn.prepare_cached(FAIR_DUE).map_err(e)?;
        s.query_map(
            params![
                now.millis(),
                rules.limit,
                rules.breaker_after,
                rules.per_webhook,
                base,
                max
            ],
            |r| r.get(0),
        )
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
        match delivery(conn, DeliveryId::from_uuid(uuid::Uuid::from_bytes(id))) {
            Ok(d) => claimed.push(d),
            // A row only a newer Coffer reads: its lease lapses and such a node takes it.
            Err(CatalogError::Corrupt(why)) => {
                tracing::warn!(delivery = %uuid::Uuid::from_bytes(id), error = %why, "a webhook delivery cannot be read; left to a Coffer that can")
            }
            Err(other) => return Err(other),
        }
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
    let streak = if o.delivered_at.is_some() {
        "UPDATE webhooks SET failures = 0, failed_at = NULL \
         WHERE id = (SELECT webhook_id FROM webhook_deliveries WHERE id = ?1)"
    } else {
        "UPDATE webhooks SET failures = failures + 1, failed_at = ?2 \
         WHERE id = (SELECT webhook_id FROM webhook_deliveries WHERE id = ?1)"
    };
    let mut s = conn.prepare_cached(streak).map_err(e)?;
    if o.delivered_at.is_some() {
        s.execute([id.to_bytes()]).map_err(e)?;
    } else {
        s.execute(params![id.to_bytes(), at.millis()]).map_err(e)?;
    }
    Ok(())
}

fn release(conn: &Tx, id: DeliveryId, lease: uuid::Uuid) -> R<()> {
    let n = conn
        .execute(
            "UPDATE webhook_deliveries SET attempts = MAX(attempts - 1, 0), leased_until = NULL, \
             lease_id = NULL WHERE id = ?1 AND lease_id = ?2 AND state = 'pending'",
            params![id.to_bytes(), lease.as_bytes()],
        )
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
    async fn create_webhook(
        &self,
        w: WebhookRecord,
        a: AuditDraft,
        max_per_org: u32,
    ) -> R<WebhookRecord> {
        self.writer
            .write(move |c| create(c, &w, &a, max_per_org))
            .await
    }
    async fn webhooks(&self, org: OrgId) -> R<Vec<WebhookRecord>> {
        self.read(move |c| hooks(c, org)).await
    }
    async fn all_webhooks(&self) -> R<Vec<std::result::Result<WebhookRecord, UnreadableWebhook>>> {
        self.read(all_hooks).await
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
        secret: WebhookSecret,
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
        max_pending: u64,
    ) -> R<Option<Enqueued>> {
        self.pipeline_write(move |c| enqueue(c, id, from, to, &deliveries, at, max_pending))
            .await
    }
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: DeliveryLease,
        rules: ClaimRules,
    ) -> R<Vec<DeliveryRecord>> {
        self.pipeline_write(move |c| claim(c, now, lease, rules))
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
    async fn release_delivery(&self, id: DeliveryId, lease: uuid::Uuid) -> R<()> {
        self.pipeline_write(move |c| release(c, id, lease)).await
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
    async fn prune_deliveries(&self, before: Timestamp, limit: u32) -> R<u64> {
        self.pipeline_write(move |c| {
            c.execute(
                "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
                 WHERE state <> 'pending' AND last_attempt_at < ?1 LIMIT ?2)",
                params![before.millis(), limit],
            )
            .map(|n| n as u64)
            .map_err(e)
        })
        .await
    }
    async fn prune_reminders(&self, before: Timestamp, limit: u32) -> R<u64> {
        self.pipeline_write(move |c| {
            c.execute(
                "DELETE FROM expiry_reminders WHERE (secret_id, expires_at) IN \
                 (SELECT secret_id, expires_at FROM expiry_reminders WHERE expires_at < ?1 LIMIT ?2)",
                params![before.millis(), limit],
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

#[cfg(test)]
mod tests {
    use crate::catalog::WebhookCatalog;
    use crate::catalog::conformance::byok::{event, org};

    async fn catalog(dir: &tempfile::TempDir) -> super::SqliteCatalog {
        super::SqliteCatalog::open(&dir.path().join("catalog.db"), 2)
            .await
            .unwrap()
    }

    /// The webhook part of the conformance suite alone (the whole suite runs in `sqlite::tests`).
    #[tokio::test]
    async fn webhooks_conformance() {
        let dir = tempfile::tempdir().unwrap();
        crate::catalog::conformance::webhooks::run_all(&catalog(&dir).await).await;
    }

    /// A row with an event name this Coffer does not know (a newer node wrote it) is handed to
    /// the delivery job as unreadable, in its place, and the other rows still come.
    #[tokio::test]
    async fn an_unreadable_webhook_row_does_not_hide_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let c = catalog(&dir).await;
        let o = org(&c, "hooks-newer").await;
        let mut ids = Vec::new();
        for _ in 0..2 {
            let w = crate::catalog::WebhookRecord {
                id: crate::domain::WebhookId::new(),
                org: o,
                url: "https://hooks.example.com/x".into(),
                description: None,
                events: vec![crate::domain::WebhookEvent::SecretRevealed],
                secret: crate::catalog::WebhookSecret {
                    key_version: 1,
                    wrap: vec![0; 61],
                },
                cursor: 0,
                created_at: crate::domain::Timestamp::now(),
                created_by: "tester".into(),
                secret_rotated_at: None,
                failures: 0,
                failed_at: None,
            };
            ids.push(
                c.create_webhook(w, event(o, "webhook.create"), 25)
                    .await
                    .unwrap()
                    .id,
            );
        }
        let bad = ids[0];
        c.writer
            .write(move |tx| {
                tx.execute(
                    "UPDATE webhooks SET events = 'secret.revealed,secret.teleported' WHERE id = ?1",
                    [bad.to_bytes()],
                )
                .map_err(super::e)
            })
            .await
            .unwrap();
        let rows = c.all_webhooks().await.unwrap();
        assert_eq!(rows.len(), 2);
        let unreadable: Vec<_> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(unreadable.len(), 1, "{rows:?}");
        assert_eq!((unreadable[0].id, unreadable[0].org), (bad, o));
        assert!(
            unreadable[0].reason.contains("teleported"),
            "{}",
            unreadable[0].reason
        );
        let readable: Vec<_> = rows.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(readable.len(), 1);
        assert_eq!(readable[0].id, ids[1]);
    }
}
