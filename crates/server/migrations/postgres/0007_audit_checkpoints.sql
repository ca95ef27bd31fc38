-- Coffer catalog, PostgreSQL, migration 7: signed checkpoints of each org's audit chain
-- (audit/checkpoint.rs, docs/formats.md). Forward-only: never edit an applied migration (its
-- checksum is recorded and checked). Same shape as migrations/sqlite/0007_audit_checkpoints.sql.

CREATE TABLE audit_checkpoints (
    org_id      uuid NOT NULL REFERENCES orgs(id),
    n           bigint NOT NULL CHECK (n >= 1),
    seq         bigint NOT NULL CHECK (seq >= 1),
    head        bytea NOT NULL CHECK (length(head) = 32),
    at          bigint NOT NULL,
    key_version bigint NOT NULL,
    prev        bytea NOT NULL CHECK (length(prev) = 32),
    signature   bytea NOT NULL CHECK (length(signature) = 64),
    PRIMARY KEY (org_id, n)
);
