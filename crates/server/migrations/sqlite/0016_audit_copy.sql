-- Coffer catalog, SQLite, migration 16: how far each org's audit copy has got in each of its
-- buckets (service/audit_log/copy.rs, docs/formats.md "Audit copy"). Forward-only: never edit an
-- applied migration.
--
-- `copied_n` is the highest checkpoint number whose copy object is known to be in the bucket of
-- `storage_id` (written by this node or, when the bucket answered 412, by another). It only ever
-- grows, so the copy job never lists the bucket to find where to resume. A bucket the org saves
-- again later starts from where it left off; a new bucket starts from checkpoint 1.

CREATE TABLE audit_copies (
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    storage_id BLOB NOT NULL REFERENCES storage_locations(id),
    copied_n   INTEGER NOT NULL CHECK (copied_n >= 0),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, storage_id)
) STRICT, WITHOUT ROWID;
