-- Coffer catalog, SQLite, migration 2: per-org key settings (BYOK). Forward-only: never edit an
-- applied migration; add a new file.
--
-- Every org gets a settings row: created with the org (writes.rs `insert_org`), and here for the
-- orgs that exist already. The external id is generated per row by the DEFAULT (128 random bits),
-- so every existing org gets its own; it never changes afterwards.

CREATE TABLE org_key_settings (
    org_id            BLOB PRIMARY KEY REFERENCES orgs(id),
    provider          TEXT NOT NULL DEFAULT 'local' CHECK (provider IN ('local', 'aws-kms')),
    external_id       TEXT NOT NULL UNIQUE DEFAULT ('coffer-' || lower(hex(randomblob(16)))),
    role_arn          TEXT,
    byok_since        INTEGER,
    -- 1 while the org is suspended because of its keys: a healthy probe restores only those.
    suspended_by_keys INTEGER NOT NULL DEFAULT 0,
    CHECK (provider = 'local' OR role_arn IS NOT NULL)
) STRICT;

INSERT INTO org_key_settings (org_id) SELECT id FROM orgs;

-- One customer-managed KMS key per region of the org's location, in failover order, with the
-- probe ciphertext the health check decrypts and what the last probe saw.
CREATE TABLE org_kms_keys (
    org_id           BLOB NOT NULL REFERENCES orgs(id),
    position         INTEGER NOT NULL,
    region           TEXT NOT NULL,
    key_arn          TEXT NOT NULL,
    probe_ciphertext BLOB NOT NULL,
    probe_at         INTEGER,
    probe_state      TEXT,
    probe_ok         INTEGER,
    probe_problem    TEXT,
    PRIMARY KEY (org_id, position),
    UNIQUE (org_id, region)
) STRICT, WITHOUT ROWID;
