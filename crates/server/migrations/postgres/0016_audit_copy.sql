-- Coffer catalog, PostgreSQL, migration 16: how far each org's audit copy has got in each of its
-- buckets (service/audit_log/copy.rs, docs/formats.md "Audit copy"). Forward-only: never edit an
-- applied migration (its checksum is recorded and checked). Same shape as
-- migrations/sqlite/0016_audit_copy.sql.

CREATE TABLE audit_copies (
    org_id     uuid NOT NULL REFERENCES orgs(id),
    storage_id uuid NOT NULL REFERENCES storage_locations(id),
    copied_n   bigint NOT NULL CHECK (copied_n >= 0),
    updated_at bigint NOT NULL,
    PRIMARY KEY (org_id, storage_id)
);
