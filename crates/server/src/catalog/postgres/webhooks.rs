//! [`WebhookCatalog`] on PostgreSQL: `webhooks`, `webhook_deliveries` and `expiry_reminders`
//! (migration 12), shared by every node. What several nodes race for is settled by the rows
//! themselves: enqueueing is an `UPDATE … WHERE audit_cursor = $from` (the loser's re-check after
//! the winner's commit finds the cursor moved and changes nothing); a claim picks the fair set of
//! due rows with a window query (`ROW_NUMBER() OVER (PARTITION BY webhook_id …)`, which cannot
//! lock) and then takes them with `FOR UPDATE SKIP LOCKED`, re-checking each row's state and
//! lease once locked (READ COMMITTED), so a row another node is claiming is skipped, not waited
//! for, and never taken twice; an outcome is recorded only under the lease that claimed it; the
//! webhook limit of an org is counted after the `webhook.create` event has locked the org row,
//! so two creators count one after the other; and a reminder is one insert into a primary key
//! (the second node's insert waits for the first and then does nothing, so its event is never
//! appended).

use super::rows::{self, get, secret_cols};
use super::tx::{self, Q, in_tx};
use super::{PostgresCatalog, writes};
use crate::audit::AuditDraft;
use crate::catalog::rules::saturating_i64;
use crate::catalog::webhooks::{
    OutcomeColumns, STILL_PENDING, breaker_millis, events_text, parse_events, too_many_webhooks,
};
use crate::catalog::{
    AttemptOutcome, CatalogError, ClaimRules, DeliveryLease, DeliveryRecord, Enqueued, NewDelivery,
    SecretRecord, UnreadableWebhook, WebhookCatalog, WebhookRecord, WebhookSecret,
};
use crate::domain::{DeliveryId, DeliveryState, OrgId, SecretId, Timestamp, WebhookId};
use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

type R<T> = Result<T, CatalogError>;

macro_rules! hook_cols {
    () => {
        "id, org_id, url, description, events, secret_key_version, secret_wrap, audit_cursor, \
         created_at, created_by, secret_rotated_at, failures, failed_at"
    };
}

macro_rules! delivery_cols {
    () => {
        "id, webhook_id, org_id, seq, event, body, state, attempts, next_attempt_at, \
         last_attempt_at, last_status, last_error, created_at, delivered_at"
    };
}

fn hook_row(r: &PgRow) -> R<WebhookRecord> {
    Ok(WebhookRecord {
        id: WebhookId::from_uuid(get(r, 0)?),
        org: OrgId::from_uuid(get(r, 1)?),
        url: get(r, 2)?,
        description: get(r, 3)?,
        events: rows::parse(r, 4, parse_events)?,
        secret: WebhookSecret {
            key_version: rows::u32_at(r, 5)?,
            wrap: get(r, 6)?,
        },
        cursor: rows::u64_at(r, 7)?,
        created_at: rows::ts(r, 8)?,
        created_by: get(r, 9)?,
        secret_rotated_at: rows::opt_ts(r, 10)?,
        failures: rows::u32_at(r, 11)?,
        failed_at: rows::opt_ts(r, 12)?,
    })
}

/// A webhook row, or what is wrong with it if only its id and org can be read.
fn hook_or_unreadable(r: &PgRow) -> R<std::result::Result<WebhookRecord, UnreadableWebhook>> {
    match hook_row(r) {
        Ok(w) => Ok(Ok(w)),
        Err(err) => Ok(Err(UnreadableWebhook {
            id: WebhookId::from_uuid(get(r, 0)?),
            org: OrgId::from_uuid(get(r, 1)?),
            reason: err.to_string(),
        })),
    }
}

fn delivery_row(r: &PgRow) -> R<DeliveryRecord> {
    let last_status = match rows::opt_u32_at(r, 10)? {
        None => None,
        Some(s) => Some(u16::try_from(s).map_err(|_| rows::corrupt(10, "not an HTTP status"))?),
    };
    Ok(DeliveryRecord {
        id: DeliveryId::from_uuid(get(r, 0)?),
        webhook: WebhookId::from_uuid(get(r, 1)?),
        org: OrgId::from_uuid(get(r, 2)?),
        seq: rows::u64_at(r, 3)?,
        event: rows::parse(r, 4, |s| s.parse().ok())?,
        body: get(r, 5)?,
        state: rows::parse(r, 6, |s| s.parse().ok())?,
        attempts: rows::u32_at(r, 7)?,
        next_attempt_at: rows::ts(r, 8)?,
        last_attempt_at: rows::opt_ts(r, 9)?,
        last_status,
        last_error: get(r, 11)?,
        created_at: rows::ts(r, 12)?,
        delivered_at: rows::opt_ts(r, 13)?,
    })
}

async fn hook(c: &mut PgConnection, org: OrgId, id: WebhookId) -> Q<WebhookRecord> {
    let row = sqlx::query(concat!(
        "SELECT ",
        hook_cols!(),
        " FROM webhooks WHERE id = $1 AND org_id = $2"
    ))
    .bind(id.as_uuid())
    .bind(org.as_uuid())
    .fetch_one(c)
    .await?;
    Ok(hook_row(&row)?)
}

async fn hooks(c: &mut PgConnection, org: OrgId) -> Q<Vec<WebhookRecord>> {
    let list = sqlx::query(concat!(
        "SELECT ",
        hook_cols!(),
        " FROM webhooks WHERE org_id = $1 ORDER BY created_at, id"
    ))
    .bind(org.as_uuid())
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, hook_row)?)
}

async fn all_hooks(
    c: &mut PgConnection,
) -> Q<Vec<std::result::Result<WebhookRecord, UnreadableWebhook>>> {
    let list = sqlx::query(concat!(
        "SELECT ",
        hook_cols!(),
        " FROM webhooks ORDER BY created_at, id"
    ))
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, hook_or_unreadable)?)
}

async fn create(
    c: &mut PgConnection,
    w: &WebhookRecord,
    a: &AuditDraft,
    max: u32,
) -> Q<WebhookRecord> {
    // Appending takes the org row's lock until commit, so the head read next is this event's,
    // and the count below is never that of a creator still racing this one.
    writes::append_audit(c, a).await?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks WHERE org_id = $1")
        .bind(w.org.as_uuid())
        .fetch_one(&mut *c)
        .await?;
    if n >= i64::from(max) {
        return Err(CatalogError::Refused(too_many_webhooks(max)).into());
    }
    let head: i64 = sqlx::query_scalar("SELECT audit_seq FROM orgs WHERE id = $1")
        .bind(w.org.as_uuid())
        .fetch_one(&mut *c)
        .await?;
    sqlx::query(concat!(
        "INSERT INTO webhooks (",
        hook_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, 0, NULL)"
    ))
    .bind(w.id.as_uuid())
    .bind(w.org.as_uuid())
    .bind(&w.url)
    .bind(&w.description)
    .bind(events_text(&w.events))
    .bind(i64::from(w.secret.key_version))
    .bind(&w.secret.wrap)
    .bind(head)
    .bind(w.created_at.millis())
    .bind(&w.created_by)
    .execute(&mut *c)
    .await?;
    hook(c, w.org, w.id).await
}

async fn delete(c: &mut PgConnection, org: OrgId, id: WebhookId, a: &AuditDraft) -> Q<()> {
    let n = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND org_id = $2")
        .bind(id.as_uuid())
        .bind(org.as_uuid())
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(CatalogError::NotFound.into());
    }
    writes::append_audit(c, a).await
}

async fn set_secret(
    c: &mut PgConnection,
    org: OrgId,
    id: WebhookId,
    secret: &WebhookSecret,
    at: Timestamp,
    a: &AuditDraft,
) -> Q<WebhookRecord> {
    let n = sqlx::query(
        "UPDATE webhooks SET secret_key_version = $3, secret_wrap = $4, secret_rotated_at = $5 \
         WHERE id = $1 AND org_id = $2",
    )
    .bind(id.as_uuid())
    .bind(org.as_uuid())
    .bind(i64::from(secret.key_version))
    .bind(&secret.wrap)
    .bind(at.millis())
    .execute(&mut *c)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(CatalogError::NotFound.into());
    }
    writes::append_audit(c, a).await?;
    hook(c, org, id).await
}

async fn enqueue(
    c: &mut PgConnection,
    id: WebhookId,
    from: u64,
    to: u64,
    deliveries: &[NewDelivery],
    at: Timestamp,
    max_pending: u64,
) -> Q<Option<Enqueued>> {
    let moved: Option<uuid::Uuid> = sqlx::query_scalar(
        "UPDATE webhooks SET audit_cursor = $3 WHERE id = $1 AND audit_cursor = $2 RETURNING org_id",
    )
    .bind(id.as_uuid())
    .bind(saturating_i64(from))
    .bind(saturating_i64(to))
    .fetch_optional(&mut *c)
    .await?;
    let Some(org) = moved else {
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM webhooks WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&mut *c)
            .await?;
        return match exists {
            Some(_) => Ok(None),
            None => Err(CatalogError::NotFound.into()),
        };
    };
    // The cursor's row lock (held until commit) makes enqueuers of one webhook take turns, so
    // this count is not raced by another enqueuer of it.
    let pending: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1 AND state = 'pending'",
    )
    .bind(id.as_uuid())
    .fetch_one(&mut *c)
    .await?;
    let room = max_pending.saturating_sub(pending.max(0) as u64);
    let mut done = Enqueued::default();
    for d in deliveries {
        if done.stored >= room {
            done.dropped += 1;
            continue;
        }
        done.stored += sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, org_id, seq, event, body, state, \
             attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) \
             ON CONFLICT (webhook_id, seq) DO NOTHING",
        )
        .bind(d.id.as_uuid())
        .bind(id.as_uuid())
        .bind(org)
        .bind(saturating_i64(d.seq))
        .bind(d.event.as_str())
        .bind(&d.body)
        .bind(at.millis())
        .execute(&mut *c)
        .await?
        .rows_affected();
    }
    Ok(Some(done))
}

async fn claim(
    c: &mut PgConnection,
    now: Timestamp,
    lease: DeliveryLease,
    rules: ClaimRules,
) -> Q<Vec<DeliveryRecord>> {
    let (base, max) = breaker_millis(&rules);
    // The fair pick (see `ClaimRules`) on a snapshot; a window query takes no row locks.
    let picked: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT id FROM (\
             SELECT d.id, d.next_attempt_at, \
                 ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at, d.id) AS turn, \
                 CASE WHEN w.failures >= $3 THEN 1 ELSE $4 END AS quota \
             FROM webhook_deliveries d \
             JOIN webhooks w ON w.id = d.webhook_id \
             JOIN orgs o ON o.id = d.org_id \
             WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
                 AND (d.leased_until IS NULL OR d.leased_until <= $1) \
                 AND o.status = 'active' \
                 AND (w.failures < $3 OR w.failed_at IS NULL \
                     OR w.failed_at + LEAST($6, $5 << LEAST(GREATEST(w.failures - $3, 0), 20)::int) <= $1) \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries f WHERE f.webhook_id = d.webhook_id \
                     AND f.state = 'pending' AND f.leased_until > $1)\
         ) fair WHERE turn <= quota ORDER BY turn, next_attempt_at, id LIMIT $2",
    )
    .bind(now.millis())
    .bind(i64::from(rules.limit))
    .bind(i64::from(rules.breaker_after))
    .bind(i64::from(rules.per_webhook))
    .bind(base)
    .bind(max)
    .fetch_all(&mut *c)
    .await?;
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    // Taken under lock: a row another node holds is skipped, and one it took meanwhile fails the
    // re-check of its state and lease.
    let list = sqlx::query(concat!(
        "UPDATE webhook_deliveries SET leased_until = $2, lease_id = $3, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM webhook_deliveries WHERE id = ANY($4) AND state = 'pending' \
             AND next_attempt_at <= $1 AND (leased_until IS NULL OR leased_until <= $1) \
             FOR UPDATE SKIP LOCKED) \
         RETURNING ",
        delivery_cols!()
    ))
    .bind(now.millis())
    .bind(lease.until.millis())
    .bind(lease.token)
    .bind(&picked)
    .fetch_all(c)
    .await?;
    let order: std::collections::HashMap<uuid::Uuid, usize> =
        picked.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut claimed: Vec<DeliveryRecord> = list
        .iter()
        .filter_map(|r| match delivery_row(r) {
            Ok(d) => Some(d),
            // A row only a newer Coffer reads: its lease lapses and such a node takes it.
            Err(err) => {
                tracing::warn!(error = %err, "a webhook delivery cannot be read; left to a Coffer that can");
                None
            }
        })
        .collect();
    claimed.sort_by_key(|d| order.get(&d.id.as_uuid()).copied().unwrap_or(usize::MAX));
    Ok(claimed)
}

async fn finish(
    c: &mut PgConnection,
    id: DeliveryId,
    lease: uuid::Uuid,
    at: Timestamp,
    outcome: &AttemptOutcome,
) -> Q<()> {
    let o = OutcomeColumns::of(outcome.clone(), at);
    let n = sqlx::query(
        "UPDATE webhook_deliveries SET state = $3, next_attempt_at = COALESCE($4, next_attempt_at), \
         last_attempt_at = $5, last_status = $6, last_error = $7, delivered_at = $8, \
         leased_until = NULL, lease_id = NULL \
         WHERE id = $1 AND lease_id = $2 AND state = 'pending'",
    )
    .bind(id.as_uuid())
    .bind(lease)
    .bind(o.state.as_str())
    .bind(o.next_at.map(Timestamp::millis))
    .bind(at.millis())
    .bind(o.status.map(i64::from))
    .bind(&o.error)
    .bind(o.delivered_at.map(Timestamp::millis))
    .execute(&mut *c)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(CatalogError::NotFound.into());
    }
    let streak = if o.delivered_at.is_some() {
        "UPDATE webhooks SET failures = 0, failed_at = NULL \
         WHERE id = (SELECT webhook_id FROM webhook_deliveries WHERE id = $1)"
    } else {
        "UPDATE webhooks SET failures = failures + 1, failed_at = $2 \
         WHERE id = (SELECT webhook_id FROM webhook_deliveries WHERE id = $1)"
    };
    sqlx::query(streak)
        .bind(id.as_uuid())
        .bind(at.millis())
        .execute(c)
        .await?;
    Ok(())
}

async fn release(c: &mut PgConnection, id: DeliveryId, lease: uuid::Uuid) -> Q<()> {
    let n = sqlx::query(
        "UPDATE webhook_deliveries SET attempts = GREATEST(attempts - 1, 0), leased_until = NULL, \
         lease_id = NULL WHERE id = $1 AND lease_id = $2 AND state = 'pending'",
    )
    .bind(id.as_uuid())
    .bind(lease)
    .execute(c)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(CatalogError::NotFound.into());
    }
    Ok(())
}

async fn deliveries(
    c: &mut PgConnection,
    org: OrgId,
    id: WebhookId,
    failed_only: bool,
    limit: u32,
) -> Q<Vec<DeliveryRecord>> {
    hook(&mut *c, org, id).await?;
    let list = sqlx::query(concat!(
        "SELECT ",
        delivery_cols!(),
        " FROM webhook_deliveries WHERE webhook_id = $1 AND ($2::text IS NULL OR state = $2) \
         ORDER BY seq DESC LIMIT $3"
    ))
    .bind(id.as_uuid())
    .bind(failed_only.then_some(DeliveryState::Failed.as_str()))
    .bind(i64::from(limit))
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, delivery_row)?)
}

async fn delivery_for_update(
    c: &mut PgConnection,
    org: OrgId,
    id: DeliveryId,
) -> Q<DeliveryRecord> {
    let row = sqlx::query(concat!(
        "SELECT ",
        delivery_cols!(),
        " FROM webhook_deliveries WHERE id = $1 AND org_id = $2 FOR UPDATE"
    ))
    .bind(id.as_uuid())
    .bind(org.as_uuid())
    .fetch_one(c)
    .await?;
    Ok(delivery_row(&row)?)
}

async fn redeliver(
    c: &mut PgConnection,
    org: OrgId,
    id: DeliveryId,
    at: Timestamp,
    a: &AuditDraft,
) -> Q<DeliveryRecord> {
    let d = delivery_for_update(&mut *c, org, id).await?;
    if d.state == DeliveryState::Pending {
        return Err(CatalogError::Refused(STILL_PENDING.into()).into());
    }
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $2, \
         leased_until = NULL, lease_id = NULL WHERE id = $1",
    )
    .bind(id.as_uuid())
    .bind(at.millis())
    .execute(&mut *c)
    .await?;
    writes::append_audit(&mut *c, a).await?;
    delivery_for_update(c, org, id).await
}

async fn expiring(
    c: &mut PgConnection,
    from: Timestamp,
    to: Timestamp,
    limit: u32,
) -> Q<Vec<SecretRecord>> {
    let list = sqlx::query(concat!(
        "SELECT ",
        secret_cols!(),
        " FROM secrets s WHERE NOT s.destroyed AND s.deleted_at IS NULL \
         AND s.expires_at IS NOT NULL AND s.expires_at BETWEEN $1 AND $2 \
         AND NOT EXISTS (SELECT 1 FROM expiry_reminders r \
             WHERE r.secret_id = s.id AND r.expires_at = s.expires_at) \
         ORDER BY s.expires_at, s.id LIMIT $3"
    ))
    .bind(from.millis())
    .bind(to.millis())
    .bind(i64::from(limit))
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, rows::secret)?)
}

async fn remind(
    c: &mut PgConnection,
    secret: SecretId,
    expires_at: Timestamp,
    a: &AuditDraft,
) -> Q<bool> {
    let org: uuid::Uuid = sqlx::query_scalar("SELECT org_id FROM secrets WHERE id = $1")
        .bind(secret.as_uuid())
        .fetch_one(&mut *c)
        .await?;
    let n = sqlx::query(
        "INSERT INTO expiry_reminders (secret_id, expires_at, org_id, sent_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (secret_id, expires_at) DO NOTHING",
    )
    .bind(secret.as_uuid())
    .bind(expires_at.millis())
    .bind(org)
    .bind(Timestamp::now().millis())
    .execute(&mut *c)
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    writes::append_audit(c, a).await?;
    Ok(true)
}

async fn prune(c: &mut PgConnection, before: Timestamp, limit: u32) -> Q<u64> {
    Ok(sqlx::query(
        "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
         WHERE state <> 'pending' AND last_attempt_at < $1 LIMIT $2)",
    )
    .bind(before.millis())
    .bind(i64::from(limit))
    .execute(c)
    .await?
    .rows_affected())
}

async fn prune_reminders(c: &mut PgConnection, before: Timestamp, limit: u32) -> Q<u64> {
    Ok(sqlx::query(
        "DELETE FROM expiry_reminders WHERE (secret_id, expires_at) IN \
         (SELECT secret_id, expires_at FROM expiry_reminders WHERE expires_at < $1 LIMIT $2)",
    )
    .bind(before.millis())
    .bind(i64::from(limit))
    .execute(c)
    .await?
    .rows_affected())
}

#[async_trait]
impl WebhookCatalog for PostgresCatalog {
    async fn create_webhook(
        &self,
        w: WebhookRecord,
        a: AuditDraft,
        max_per_org: u32,
    ) -> R<WebhookRecord> {
        in_tx!(self, |c| create(c, &w, &a, max_per_org).await)
    }
    async fn webhooks(&self, org: OrgId) -> R<Vec<WebhookRecord>> {
        self.read(async |c| hooks(c, org).await).await
    }
    async fn all_webhooks(&self) -> R<Vec<std::result::Result<WebhookRecord, UnreadableWebhook>>> {
        self.read(async |c| all_hooks(c).await).await
    }
    async fn webhook(&self, org: OrgId, id: WebhookId) -> R<WebhookRecord> {
        self.read(async |c| hook(c, org, id).await).await
    }
    async fn delete_webhook(&self, org: OrgId, id: WebhookId, a: AuditDraft) -> R<()> {
        in_tx!(self, |c| delete(c, org, id, &a).await)
    }
    async fn set_webhook_secret(
        &self,
        org: OrgId,
        id: WebhookId,
        secret: WebhookSecret,
        at: Timestamp,
        a: AuditDraft,
    ) -> R<WebhookRecord> {
        in_tx!(self, |c| set_secret(c, org, id, &secret, at, &a).await)
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
        in_tx!(self, |c| enqueue(
            c,
            id,
            from,
            to,
            &deliveries,
            at,
            max_pending
        )
        .await)
    }
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: DeliveryLease,
        rules: ClaimRules,
    ) -> R<Vec<DeliveryRecord>> {
        in_tx!(self, |c| claim(c, now, lease, rules).await)
    }
    async fn finish_delivery(
        &self,
        id: DeliveryId,
        lease: uuid::Uuid,
        at: Timestamp,
        outcome: AttemptOutcome,
    ) -> R<()> {
        in_tx!(self, |c| finish(c, id, lease, at, &outcome).await)
    }
    async fn release_delivery(&self, id: DeliveryId, lease: uuid::Uuid) -> R<()> {
        in_tx!(self, |c| release(c, id, lease).await)
    }
    async fn deliveries(
        &self,
        org: OrgId,
        id: WebhookId,
        failed_only: bool,
        limit: u32,
    ) -> R<Vec<DeliveryRecord>> {
        self.read(async |c| deliveries(c, org, id, failed_only, limit).await)
            .await
    }
    async fn redeliver(
        &self,
        org: OrgId,
        id: DeliveryId,
        at: Timestamp,
        a: AuditDraft,
    ) -> R<DeliveryRecord> {
        in_tx!(self, |c| redeliver(c, org, id, at, &a).await)
    }
    async fn prune_deliveries(&self, before: Timestamp, limit: u32) -> R<u64> {
        in_tx!(self, |c| prune(c, before, limit).await)
    }
    async fn prune_reminders(&self, before: Timestamp, limit: u32) -> R<u64> {
        in_tx!(self, |c| prune_reminders(c, before, limit).await)
    }
    async fn expiring_secrets(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> R<Vec<SecretRecord>> {
        self.read(async |c| expiring(c, from, to, limit).await)
            .await
    }
    async fn remind_expiry(
        &self,
        secret: SecretId,
        expires_at: Timestamp,
        a: AuditDraft,
    ) -> R<bool> {
        in_tx!(self, |c| remind(c, secret, expires_at, &a).await)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::pg::TestDb;

    /// The webhook part of the conformance suite alone (the whole suite runs in
    /// `postgres::tests`).
    #[tokio::test]
    async fn webhooks_conformance() {
        let db = TestDb::create().await;
        let catalog = super::PostgresCatalog::open(&db.url, 8).await.unwrap();
        crate::catalog::conformance::webhooks::run_all(&catalog).await;
        catalog.pool.close().await;
    }
}
