-- Coffer catalog, PostgreSQL, migration 1. Forward-only: never edit an applied migration (its
-- checksum is recorded and checked); add a new file and append it to MIGRATIONS in
-- src/catalog/postgres/mod.rs.
--
-- Same shape as migrations/sqlite/0001_init.sql, with native types: ids are `uuid`, times are
-- BIGINT Unix milliseconds, enums are lowercase text, counters are BIGINT (they hold u32/u64).
-- Names that the catalog sorts by are COLLATE "C": byte order, as on SQLite, whatever the
-- database's default collation is, so listings come back in the same order on both backends.

CREATE TABLE orgs (
    id               uuid PRIMARY KEY,
    slug             text COLLATE "C" NOT NULL UNIQUE,
    name             text NOT NULL,
    location         text NOT NULL,
    status           text NOT NULL,
    suspended_reason text,
    key_version      bigint NOT NULL CHECK (key_version >= 1),
    created_at       bigint NOT NULL,
    -- Head of this org's audit chain. Appending an event updates these two columns, which takes
    -- this row's lock until commit: concurrent appends to one org serialize on it, and each
    -- reads the newest head (see postgres/writes.rs `append_audit`).
    audit_seq        bigint NOT NULL DEFAULT 0 CHECK (audit_seq >= 0),
    audit_head       bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'
);

CREATE TABLE org_keys (
    org_id      uuid NOT NULL REFERENCES orgs(id),
    version     bigint NOT NULL,
    encryptions bigint NOT NULL DEFAULT 0 CHECK (encryptions >= 0),
    created_at  bigint NOT NULL,
    PRIMARY KEY (org_id, version)
);

-- One wrapped copy of an org key per root key (BYOK: one per region).
CREATE TABLE org_key_wraps (
    org_id   uuid NOT NULL,
    version  bigint NOT NULL,
    slot     bigint NOT NULL,
    provider text NOT NULL,
    key_ref  text NOT NULL,
    wrapped  bytea NOT NULL,
    PRIMARY KEY (org_id, version, slot),
    FOREIGN KEY (org_id, version) REFERENCES org_keys(org_id, version)
);

CREATE TABLE users (
    id         uuid PRIMARY KEY,
    name       text COLLATE "C" NOT NULL UNIQUE,
    operator   boolean NOT NULL,
    created_at bigint NOT NULL
);

CREATE TABLE memberships (
    org_id  uuid NOT NULL REFERENCES orgs(id),
    user_id uuid NOT NULL REFERENCES users(id),
    role    text NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE tokens (
    id         uuid PRIMARY KEY,
    hash       bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    user_id    uuid NOT NULL REFERENCES users(id),
    org_id     uuid NOT NULL REFERENCES orgs(id),
    name       text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint,
    revoked_at bigint
);
CREATE INDEX tokens_by_org ON tokens (org_id, created_at);

-- issue = 0 means a project-level secret (NULL would defeat the unique index).
CREATE TABLE secrets (
    id         uuid PRIMARY KEY,
    org_id     uuid NOT NULL REFERENCES orgs(id),
    project    text COLLATE "C" NOT NULL,
    issue      bigint NOT NULL CHECK (issue >= 0),
    name       text COLLATE "C" NOT NULL,
    kind       text NOT NULL,
    version    bigint NOT NULL CHECK (version >= 1),
    destroyed  boolean NOT NULL DEFAULT false,
    deleted_at bigint,
    created_at bigint NOT NULL,
    created_by text NOT NULL,
    updated_at bigint NOT NULL,
    updated_by text NOT NULL,
    expires_at bigint,
    view_limit bigint CHECK (view_limit >= 0),
    views      bigint NOT NULL DEFAULT 0 CHECK (views >= 0)
);
-- A name is unique among live secrets; destroying one frees its name. Also the listing order.
CREATE UNIQUE INDEX secrets_live_name ON secrets (org_id, project, issue, name) WHERE NOT destroyed;

CREATE TABLE secret_versions (
    secret_id   uuid NOT NULL REFERENCES secrets(id),
    version     bigint NOT NULL,
    key_version bigint NOT NULL,
    blob_key    text NOT NULL UNIQUE,
    wrapped_key bytea NOT NULL,
    size        bigint NOT NULL CHECK (size >= 0),
    created_at  bigint NOT NULL,
    created_by  text NOT NULL,
    PRIMARY KEY (secret_id, version)
);

-- `details` is text, not jsonb: the chain hash covers its exact bytes, which jsonb would
-- normalize (key order, whitespace).
CREATE TABLE audit_events (
    org_id    uuid NOT NULL REFERENCES orgs(id),
    seq       bigint NOT NULL CHECK (seq >= 1),
    at        bigint NOT NULL,
    actor_id  uuid,
    actor     text NOT NULL,
    action    text NOT NULL,
    target    text NOT NULL,
    details   text NOT NULL,
    prev_hash bytea NOT NULL,
    hash      bytea NOT NULL,
    PRIMARY KEY (org_id, seq)
);
