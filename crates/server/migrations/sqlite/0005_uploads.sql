-- Coffer catalog, SQLite, migration 5: pending client-side uploads. Forward-only: never edit an
-- applied migration; add a new file. (Number 4 is reserved for another change.)
--
-- One row per grant to upload one secret version's envelope sealed by the client: what the
-- envelope must bind and carry, where it goes, and the metadata of the version it becomes on
-- commit. The data key is never stored. A committed or refused grant is deleted; expired ones
-- are forgotten when later grants are created.

CREATE TABLE uploads (
    id                BLOB PRIMARY KEY,
    org_id            BLOB NOT NULL REFERENCES orgs(id),
    secret_id         BLOB NOT NULL,
    project           TEXT NOT NULL,
    issue             INTEGER NOT NULL,
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    version           INTEGER NOT NULL,
    key_version       INTEGER NOT NULL,
    wrapped_key       BLOB NOT NULL,
    blob_key          TEXT NOT NULL,
    storage_id        BLOB REFERENCES storage_locations(id),
    size              INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    created_by        TEXT NOT NULL,
    secret_expires_at INTEGER,
    view_limit        INTEGER
) STRICT;

CREATE INDEX uploads_expiry ON uploads (expires_at);
