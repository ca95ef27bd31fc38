-- Coffer catalog, PostgreSQL, migration 3: per-org storage (an org's own S3 bucket). Forward-only:
-- never edit an applied migration (its checksum is recorded and checked); add a new file and
-- append it to MIGRATIONS in src/catalog/postgres/open.rs. Same shape as
-- migrations/sqlite/0003_storage.sql.
--
-- A storage location is one validated bucket configuration of one org. Rows are immutable once
-- saved: changing the bucket saves a new row, so every secret version can keep pointing at the
-- exact location its envelope is in until the background migration has copied, verified and
-- flipped it. NULL everywhere means "the deployment's default blob store".

CREATE TABLE storage_locations (
    id         uuid PRIMARY KEY,
    org_id     uuid NOT NULL REFERENCES orgs(id),
    bucket     text NOT NULL,
    region     text NOT NULL,
    endpoint   text,
    prefix     text,
    created_at bigint NOT NULL,
    created_by text NOT NULL
);

-- Where the org's new envelopes go, and whether versions elsewhere still need moving (true from
-- the moment the storage changes until the migration has found nothing left to move).
ALTER TABLE orgs ADD COLUMN storage_id uuid REFERENCES storage_locations(id);
ALTER TABLE orgs ADD COLUMN storage_migrating boolean NOT NULL DEFAULT false;

-- Where each version's envelope is.
ALTER TABLE secret_versions ADD COLUMN storage_id uuid REFERENCES storage_locations(id);
