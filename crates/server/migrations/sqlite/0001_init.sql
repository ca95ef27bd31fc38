-- Coffer catalog, SQLite, migration 1. Forward-only: never edit an applied migration; add a new file.
-- Ids are 16-byte UUID blobs, times are Unix milliseconds, enums are lowercase text.

CREATE TABLE orgs (
    id               BLOB PRIMARY KEY,
    slug             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    location         TEXT NOT NULL,
    status           TEXT NOT NULL,
    suspended_reason TEXT,
    key_version      INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE org_keys (
    org_id      BLOB NOT NULL REFERENCES orgs(id),
    version     INTEGER NOT NULL,
    encryptions INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, version)
) STRICT, WITHOUT ROWID;

-- One wrapped copy of an org key per root key (BYOK: one per region).
CREATE TABLE org_key_wraps (
    org_id   BLOB NOT NULL,
    version  INTEGER NOT NULL,
    slot     INTEGER NOT NULL,
    provider TEXT NOT NULL,
    key_ref  TEXT NOT NULL,
    wrapped  BLOB NOT NULL,
    PRIMARY KEY (org_id, version, slot),
    FOREIGN KEY (org_id, version) REFERENCES org_keys(org_id, version)
) STRICT, WITHOUT ROWID;

CREATE TABLE users (
    id         BLOB PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    operator   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE memberships (
    org_id  BLOB NOT NULL REFERENCES orgs(id),
    user_id BLOB NOT NULL REFERENCES users(id),
    role    TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE tokens (
    id         BLOB PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE,
    user_id    BLOB NOT NULL REFERENCES users(id),
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX tokens_by_org ON tokens (org_id, created_at);

-- issue = 0 means a project-level secret (NULL would defeat the unique index).
CREATE TABLE secrets (
    id         BLOB PRIMARY KEY,
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    project    TEXT NOT NULL,
    issue      INTEGER NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    destroyed  INTEGER NOT NULL DEFAULT 0,
    deleted_at INTEGER,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    expires_at INTEGER,
    view_limit INTEGER,
    views      INTEGER NOT NULL DEFAULT 0
) STRICT;
-- A name is unique among live secrets; destroying one frees its name.
CREATE UNIQUE INDEX secrets_live_name ON secrets (org_id, project, issue, name) WHERE destroyed = 0;

CREATE TABLE secret_versions (
    secret_id   BLOB NOT NULL REFERENCES secrets(id),
    version     INTEGER NOT NULL,
    key_version INTEGER NOT NULL,
    blob_key    TEXT NOT NULL UNIQUE,
    wrapped_key BLOB NOT NULL,
    size        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (secret_id, version)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_events (
    org_id    BLOB NOT NULL REFERENCES orgs(id),
    seq       INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    actor_id  BLOB,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL,
    PRIMARY KEY (org_id, seq)
) STRICT, WITHOUT ROWID;
