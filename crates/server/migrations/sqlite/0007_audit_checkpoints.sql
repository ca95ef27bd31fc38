-- Coffer catalog, SQLite, migration 7: signed checkpoints of each org's audit chain
-- (audit/checkpoint.rs, docs/formats.md). Forward-only: never edit an applied migration.
--
-- Checkpoint n vouches that event `seq` had hash `head`; it chains to checkpoint n - 1 through
-- `prev` (the SHA-256 of its signed message) and is signed with an Ed25519 key derived from org
-- key version `key_version`, which the catalog holds only wrapped.

CREATE TABLE audit_checkpoints (
    org_id      BLOB NOT NULL REFERENCES orgs(id),
    n           INTEGER NOT NULL CHECK (n >= 1),
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    head        BLOB NOT NULL CHECK (length(head) = 32),
    at          INTEGER NOT NULL,
    key_version INTEGER NOT NULL,
    prev        BLOB NOT NULL CHECK (length(prev) = 32),
    signature   BLOB NOT NULL CHECK (length(signature) = 64),
    PRIMARY KEY (org_id, n)
) STRICT, WITHOUT ROWID;
