-- Coffer catalog, SQLite, migration 12: org webhooks and expiry reminders (docs/webhooks.md).
-- Forward-only: never edit an applied migration.
--
-- A webhook is an org's endpoint for its audit events. Its signing secret is sealed under the
-- org key like a secret value (envelope format v1, bound to secret_id and secret_key_version);
-- `audit_cursor` is the seq of the last event of the org's chain it has looked at, so the chain
-- itself is the outbox and the deliveries table only holds what was derived from it.

CREATE TABLE webhooks (
    id                 BLOB PRIMARY KEY,
    org_id             BLOB NOT NULL REFERENCES orgs(id),
    url                TEXT NOT NULL,
    description        TEXT,
    -- The public event names, comma-separated, e.g. `secret.revealed,org.suspended`.
    events             TEXT NOT NULL,
    secret_id          BLOB NOT NULL,
    secret_key_version INTEGER NOT NULL,
    secret_envelope    BLOB NOT NULL,
    audit_cursor       INTEGER NOT NULL CHECK (audit_cursor >= 0),
    created_at         INTEGER NOT NULL,
    created_by         TEXT NOT NULL,
    secret_rotated_at  INTEGER
) STRICT;
CREATE INDEX webhooks_by_org ON webhooks (org_id, created_at);

-- One row per (webhook, event). `body` is the exact JSON every attempt sends and signs. A claim
-- sets `lease_id` and `leased_until` (and counts the attempt); only that lease records the
-- outcome.
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
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (created_at) WHERE state <> 'pending';

-- The expiries already announced (`secret.expiring`): one per secret and expiry time, so a
-- changed expiry is announced again and an unchanged one never twice.
CREATE TABLE expiry_reminders (
    secret_id  BLOB NOT NULL REFERENCES secrets(id),
    expires_at INTEGER NOT NULL,
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    sent_at    INTEGER NOT NULL,
    PRIMARY KEY (secret_id, expires_at)
) STRICT, WITHOUT ROWID;
CREATE INDEX secrets_by_expiry ON secrets (expires_at) WHERE expires_at IS NOT NULL AND destroyed = 0;
