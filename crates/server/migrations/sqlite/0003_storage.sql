-- Coffer catalog, SQLite, migration 3: per-org storage (an org's own S3 bucket). Forward-only:
-- never edit an applied migration; add a new file.
--
-- A storage location is one validated bucket configuration of one org. Rows are immutable once
-- saved: changing the bucket saves a new row, so every secret version can keep pointing at the
-- exact location its envelope is in until the background migration has copied, verified and
-- flipped it. NULL everywhere means "the deployment's default blob store".

CREATE TABLE storage_locations (
    id         BLOB PRIMARY KEY,
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    bucket     TEXT NOT NULL,
    region     TEXT NOT NULL,
    endpoint   TEXT,
    prefix     TEXT,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
) STRICT;

-- Where the org's new envelopes go, and whether versions elsewhere still need moving (1 from the
-- moment the storage changes until the migration has found nothing left to move).
ALTER TABLE orgs ADD COLUMN storage_id BLOB REFERENCES storage_locations(id);
ALTER TABLE orgs ADD COLUMN storage_migrating INTEGER NOT NULL DEFAULT 0;

-- Where each version's envelope is.
ALTER TABLE secret_versions ADD COLUMN storage_id BLOB REFERENCES storage_locations(id);
