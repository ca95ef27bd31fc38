-- Coffer catalog, PostgreSQL, migration 13: Jira (docs/jira.md). Forward-only: never edit an
-- applied migration (its checksum is recorded and checked). Same shape as
-- migrations/sqlite/0013_jira.sql, which says what each table holds.

CREATE TABLE jira_sites (
    org_id             uuid PRIMARY KEY REFERENCES orgs(id),
    kind               text NOT NULL CHECK (kind IN ('cloud', 'data-center')),
    site_url           text NOT NULL,
    cloud_id           text,
    client_id          text NOT NULL,
    secret_id          uuid NOT NULL,
    secret_key_version integer NOT NULL,
    secret_envelope    bytea NOT NULL,
    hook_id            uuid NOT NULL,
    hook_key_version   integer NOT NULL,
    hook_envelope      bytea NOT NULL,
    expose_names       boolean NOT NULL,
    retention_days     integer NOT NULL CHECK (retention_days BETWEEN 1 AND 3650),
    generation         bigint NOT NULL,
    updated_at         bigint NOT NULL,
    updated_by         text NOT NULL,
    CHECK ((kind = 'cloud') = (cloud_id IS NOT NULL))
);

CREATE TABLE jira_accounts (
    org_id            uuid NOT NULL REFERENCES orgs(id),
    user_id           uuid NOT NULL REFERENCES users(id),
    account_id        text NOT NULL,
    display_name      text NOT NULL,
    token_id          uuid NOT NULL,
    token_key_version integer NOT NULL,
    token_envelope    bytea NOT NULL,
    linked_at         bigint NOT NULL,
    refreshed_at      bigint NOT NULL,
    PRIMARY KEY (org_id, user_id),
    UNIQUE (org_id, account_id)
);
CREATE INDEX jira_accounts_by_user ON jira_accounts (user_id);

CREATE TABLE jira_pending (
    hash       bytea PRIMARY KEY,
    org_id     uuid NOT NULL REFERENCES orgs(id),
    user_id    uuid NOT NULL REFERENCES users(id),
    verifier   text NOT NULL,
    browser    bytea NOT NULL,
    expires_at bigint NOT NULL
);
CREATE INDEX jira_pending_by_expiry ON jira_pending (expires_at);

CREATE TABLE jira_refs (
    org_id  uuid NOT NULL REFERENCES orgs(id),
    key     text NOT NULL,
    jira_id text NOT NULL,
    PRIMARY KEY (org_id, key)
);

CREATE TABLE jira_tombstones (
    secret_id  uuid PRIMARY KEY REFERENCES secrets(id),
    org_id     uuid NOT NULL REFERENCES orgs(id),
    deleted_at bigint NOT NULL
);
CREATE INDEX jira_tombstones_by_time ON jira_tombstones (deleted_at);
