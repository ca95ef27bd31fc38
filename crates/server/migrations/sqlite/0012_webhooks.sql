-- Coffer catalog, SQLite, migration 12: org webhooks and expiry reminders (docs/webhooks.md).
-- Forward-only: never edit an applied migration.
--
-- A webhook is an org's endpoint for its audit events. Its signing secret (32 random bytes) is
-- wrapped under the org key with the key wrap of coffer_envelope and an AAD of its own
-- (`coffer/v1/webhook-secret` ‖ org id ‖ webhook id ‖ key version: docs/webhooks.md), in
-- `secret_wrap` under org key version `secret_key_version`. `audit_cursor` is the seq of the last
-- event of the org's chain it has looked at, so the chain itself is the outbox and the
-- deliveries table only holds what was derived from it. `failures` counts its attempts that
-- failed in a row and `failed_at` is when the last of them ended: the circuit breaker of the
-- delivery job.

CREATE TABLE webhooks (
    id                 BLOB PRIMARY KEY,
    org_id             BLOB NOT NULL REFERENCES orgs(id),
    -- The URL as the parser normalised it.
    url                TEXT NOT NULL,
    description        TEXT,
    -- The public event names, comma-separated, e.g. `secret.revealed,org.suspended`.
    events             TEXT NOT NULL,
    secret_key_version INTEGER NOT NULL,
    secret_wrap        BLOB NOT NULL,
    audit_cursor       INTEGER NOT NULL CHECK (audit_cursor >= 0),
    created_at         INTEGER NOT NULL,
    created_by         TEXT NOT NULL,
    secret_rotated_at  INTEGER,
    failures           INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    failed_at          INTEGER
) STRICT;
CREATE INDEX webhooks_by_org ON webhooks (org_id, created_at);

-- One row per (webhook, event). `body` is the exact JSON every attempt sends and signs. A claim
-- sets `lease_id` and `leased_until` (and counts the attempt); only that lease records the
-- outcome. For a delivery that is no longer pending, `last_attempt_at` is when it finished.
CREATE TABLE webhook_deliveries (
    id              BLOB PRIMARY KEY,
    webhook_id      BLOB NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    org_id          BLOB NOT NULL REFERENCES orgs(id),
    seq             INTEGER NOT NULL,
    event           TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    leased_until    INTEGER,
    lease_id        BLOB,
    last_attempt_at INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    UNIQUE (webhook_id, seq)
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (last_attempt_at) WHERE state <> 'pending';

-- The expiries already announced (`secret.expiring`): one per secret and expiry time, so a
-- changed expiry is announced again and an unchanged one never twice. Rows whose expiry is
-- older than the look-back of the reminder job are pruned.
CREATE TABLE expiry_reminders (
    secret_id  BLOB NOT NULL REFERENCES secrets(id),
    expires_at INTEGER NOT NULL,
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    sent_at    INTEGER NOT NULL,
    PRIMARY KEY (secret_id, expires_at)
) STRICT, WITHOUT ROWID;
CREATE INDEX expiry_reminders_by_expiry ON expiry_reminders (expires_at);
CREATE INDEX secrets_by_expiry ON secrets (expires_at) WHERE expires_at IS NOT NULL AND destroyed = 0;
