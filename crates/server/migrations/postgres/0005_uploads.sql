-- Coffer catalog, PostgreSQL, migration 5: pending client-side uploads. Forward-only: never edit
-- an applied migration (its checksum is recorded and checked); add a new file and append it to
-- MIGRATIONS in src/catalog/postgres/open.rs. Same shape as migrations/sqlite/0005_uploads.sql.
-- (Number 4 is reserved for another change.)
--
-- One row per grant to upload one secret version's envelope sealed by the client: what the
-- envelope must bind and carry, where it goes, and the metadata of the version it becomes on
-- commit. The data key is never stored. A committed or refused grant is deleted; expired ones
-- are forgotten when later grants are created.

CREATE TABLE uploads (
    id                uuid PRIMARY KEY,
    org_id            uuid NOT NULL REFERENCES orgs(id),
    secret_id         uuid NOT NULL,
    project           text NOT NULL,
    issue             bigint NOT NULL,
    name              text NOT NULL,
    kind              text NOT NULL,
    version           bigint NOT NULL,
    key_version       bigint NOT NULL,
    wrapped_key       bytea NOT NULL,
    blob_key          text NOT NULL,
    storage_id        uuid REFERENCES storage_locations(id),
    size              bigint NOT NULL,
    expires_at        bigint NOT NULL,
    created_at        bigint NOT NULL,
    created_by        text NOT NULL,
    secret_expires_at bigint,
    view_limit        bigint
);

CREATE INDEX uploads_expiry ON uploads (expires_at);
