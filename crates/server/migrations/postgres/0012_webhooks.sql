-- Coffer catalog, PostgreSQL, migration 12: org webhooks and expiry reminders (docs/webhooks.md).
-- Forward-only: never edit an applied migration (its checksum is recorded and checked). Same
-- shape as migrations/sqlite/0012_webhooks.sql, which says what each table holds.

CREATE TABLE webhooks (
    id                 uuid PRIMARY KEY,
    org_id             uuid NOT NULL REFERENCES orgs(id),
    url                text NOT NULL,
    description        text,
    events             text NOT NULL,
    secret_key_version bigint NOT NULL,
    secret_wrap        bytea NOT NULL,
    audit_cursor       bigint NOT NULL CHECK (audit_cursor >= 0),
    created_at         bigint NOT NULL,
    created_by         text NOT NULL,
    secret_rotated_at  bigint,
    failures           bigint NOT NULL DEFAULT 0 CHECK (failures >= 0),
    failed_at          bigint
);
CREATE INDEX webhooks_by_org ON webhooks (org_id, created_at);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    webhook_id      uuid NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    org_id          uuid NOT NULL REFERENCES orgs(id),
    seq             bigint NOT NULL,
    event           text NOT NULL,
    body            text NOT NULL,
    state           text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        bigint NOT NULL DEFAULT 0,
    next_attempt_at bigint NOT NULL,
    leased_until    bigint,
    lease_id        uuid,
    last_attempt_at bigint,
    last_status     bigint,
    last_error      text,
    created_at      bigint NOT NULL,
    delivered_at    bigint,
    UNIQUE (webhook_id, seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (last_attempt_at) WHERE state <> 'pending';

CREATE TABLE expiry_reminders (
    secret_id  uuid NOT NULL REFERENCES secrets(id),
    expires_at bigint NOT NULL,
    org_id     uuid NOT NULL REFERENCES orgs(id),
    sent_at    bigint NOT NULL,
    PRIMARY KEY (secret_id, expires_at)
);
CREATE INDEX expiry_reminders_by_expiry ON expiry_reminders (expires_at);
CREATE INDEX secrets_by_expiry ON secrets (expires_at) WHERE expires_at IS NOT NULL AND NOT destroyed;
