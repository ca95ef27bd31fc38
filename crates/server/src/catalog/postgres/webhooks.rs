//! [`WebhookCatalog`] on PostgreSQL: `webhooks`, `webhook_deliveries` and `expiry_reminders`
//! (migration 12), shared by every node. What several nodes race for is settled by the rows
//! themselves: enqueueing is an `UPDATE … WHERE audit_cursor = $from` (the loser's re-check after
//! the winner's commit finds the cursor moved and changes nothing), a claim takes due rows with
//! `FOR UPDATE SKIP LOCKED` (a row another node is claiming is skipped, not waited for, and
//! READ COMMITTED re-checks its lease once locked), an outcome is recorded only under the lease
//! that claimed it, and a reminder is one insert into a primary key (the second node's insert
//! waits for the first and then does nothing, so its event is never appended).

use super::rows::{self, get, secret_cols};
use super::tx::{self, Q, in_tx};
use super::{PostgresCatalog, writes};
use crate::audit::AuditDraft;
use crate::catalog::rules::saturating_i64;
use crate::catalog::webhooks::{OutcomeColumns, STILL_PENDING, events_text, parse_events};
use crate::catalog::{
    AttemptOutcome, CatalogError, DeliveryLease, DeliveryRecord, NewDelivery, SealedValue,
    SecretRecord, WebhookCatalog, WebhookRecord,
};
use crate::domain::{DeliveryId, DeliveryState, OrgId, SecretId, Timestamp, WebhookId};
use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

type R<T> = Result<T, CatalogError>;

macro_rules! hook_cols {
    () => {
        "id, org_id, url, description, events, secret_id, secret_key_version, secret_envelope, \
         audit_cursor, created_at, created_by, secret_rotated_at"
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
        secret: SealedValue {
            id: SecretId::from_uuid(get(r, 5)?),
            key_version: rows::u32_at(r, 6)?,
            envelope: get(r, 7)?,
        },
        cursor: rows::u64_at(r, 8)?,
        created_at: rows::ts(r, 9)?,
        created_by: get(r, 10)?,
        secret_rotated_at: rows::opt_ts(r, 11)?,
    })
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

async fn hooks(c: &mut PgConnection, org: Option<OrgId>) -> Q<Vec<WebhookRecord>> {
    let list = sqlx::query(concat!(
        "SELECT ",
        hook_cols!(),
        " FROM webhooks WHERE $1::uuid IS NULL OR org_id = $1 ORDER BY created_at, id"
    ))
    .bind(org.map(|o| o.as_uuid()))
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, hook_row)?)
}

async fn create(c: &mut PgConnection, w: &WebhookRecord, a: &AuditDraft) -> Q<WebhookRecord> {
    // Appending takes the org row's lock until commit, so the head read next is this event's.
    writes::append_audit(c, a).await?;
    let head: i64 = sqlx::query_scalar("SELECT audit_seq FROM orgs WHERE id = $1")
        .bind(w.org.as_uuid())
        .fetch_one(&mut *c)
        .await?;
    sqlx::query(concat!(
        "INSERT INTO webhooks (",
        hook_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL)"
    ))
    .bind(w.id.as_uuid())
    .bind(w.org.as_uuid())
    .bind(&w.url)
    .bind(&w.description)
    .bind(events_text(&w.events))
    .bind(w.secret.id.as_uuid())
    .bind(i64::from(w.secret.key_version))
    .bind(&w.secret.envelope)
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
    secret: &SealedValue,
    at: Timestamp,
    a: &AuditDraft,
) -> Q<WebhookRecord> {
    let n = sqlx::query(
        "UPDATE webhooks SET secret_id = $3, secret_key_version = $4, secret_envelope = $5, \
         secret_rotated_at = $6 WHERE id = $1 AND org_id = $2",
    )
    .bind(id.as_uuid())
    .bind(org.as_uuid())
    .bind(secret.id.as_uuid())
    .bind(i64::from(secret.key_version))
    .bind(&secret.envelope)
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
) -> Q<bool> {
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
            Some(_) => Ok(false),
            None => Err(CatalogError::NotFound.into()),
        };
    };
    for d in deliveries {
        sqlx::query(
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
        .await?;
    }
    Ok(true)
}

async fn claim(
    c: &mut PgConnection,
    now: Timestamp,
    lease: DeliveryLease,
    limit: u32,
) -> Q<Vec<DeliveryRecord>> {
    let list = sqlx::query(concat!(
        "UPDATE webhook_deliveries SET leased_until = $2, lease_id = $3, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending' \
             AND next_attempt_at <= $1 AND (leased_until IS NULL OR leased_until <= $1) \
             ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
         RETURNING ",
        delivery_cols!()
    ))
    .bind(now.millis())
    .bind(lease.until.millis())
    .bind(lease.token)
    .bind(i64::from(limit))
    .fetch_all(c)
    .await?;
    let mut claimed = rows::all(&list, delivery_row)?;
    claimed.sort_by_key(|d| (d.next_attempt_at, d.id));
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

async fn prune(c: &mut PgConnection, before: Timestamp) -> Q<u64> {
    Ok(
        sqlx::query("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND created_at < $1")
            .bind(before.millis())
            .execute(c)
            .await?
            .rows_affected(),
    )
}

#[async_trait]
impl WebhookCatalog for PostgresCatalog {
    async fn create_webhook(&self, w: WebhookRecord, a: AuditDraft) -> R<WebhookRecord> {
        in_tx!(self, |c| create(c, &w, &a).await)
    }
    async fn webhooks(&self, org: OrgId) -> R<Vec<WebhookRecord>> {
        self.read(async |c| hooks(c, Some(org)).await).await
    }
    async fn all_webhooks(&self) -> R<Vec<WebhookRecord>> {
        self.read(async |c| hooks(c, None).await).await
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
        secret: SealedValue,
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
    ) -> R<bool> {
        in_tx!(self, |c| enqueue(c, id, from, to, &deliveries, at).await)
    }
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: DeliveryLease,
        limit: u32,
    ) -> R<Vec<DeliveryRecord>> {
        in_tx!(self, |c| claim(c, now, lease, limit).await)
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
    async fn prune_deliveries(&self, before: Timestamp) -> R<u64> {
        in_tx!(self, |c| prune(c, before).await)
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
