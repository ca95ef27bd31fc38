-- Coffer catalog, PostgreSQL, migration 2: per-org key settings (BYOK). Forward-only: never edit
-- an applied migration (its checksum is recorded and checked); add a new file and append it to
-- MIGRATIONS in src/catalog/postgres/open.rs. Same shape as migrations/sqlite/0002_byok.sql.
--
-- Every org gets a settings row: created with the org (writes.rs `insert_org`), and here for the
-- orgs that exist already. The external id is generated per row by the DEFAULT (gen_random_uuid:
-- 122 random bits from the server's CSPRNG), so every existing org gets its own.

CREATE TABLE org_key_settings (
    org_id            uuid PRIMARY KEY REFERENCES orgs(id),
    provider          text NOT NULL DEFAULT 'local' CHECK (provider IN ('local', 'aws-kms')),
    external_id       text NOT NULL UNIQUE DEFAULT ('coffer-' || replace(gen_random_uuid()::text, '-', '')),
    role_arn          text,
    byok_since        bigint,
    -- true while the org is suspended because of its keys: a healthy probe restores only those.
    suspended_by_keys boolean NOT NULL DEFAULT false,
    CHECK (provider = 'local' OR role_arn IS NOT NULL)
);

INSERT INTO org_key_settings (org_id) SELECT id FROM orgs;

-- One customer-managed KMS key per region of the org's location, in failover order, with the
-- probe ciphertext the health check decrypts and what the last probe saw.
CREATE TABLE org_kms_keys (
    org_id           uuid NOT NULL REFERENCES orgs(id),
    position         bigint NOT NULL CHECK (position >= 0),
    region           text NOT NULL,
    key_arn          text NOT NULL,
    probe_ciphertext bytea NOT NULL,
    probe_at         bigint,
    probe_state      text,
    probe_ok         boolean,
    probe_problem    text,
    PRIMARY KEY (org_id, position),
    UNIQUE (org_id, region)
);
