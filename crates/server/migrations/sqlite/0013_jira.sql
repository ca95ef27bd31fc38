-- Coffer catalog, SQLite, migration 13: Jira (docs/jira.md). Forward-only: never edit an applied
-- migration.
--
-- An org's link to its Jira site (at most one), each person's link to their Jira account (per
-- org), the account links in flight (one row per started OAuth consent, deleted when used or
-- expired), Jira's ids of the org's issues and projects (for bulk permission checks), and the
-- secrets Jira lifecycle events deleted (destroyed when the site's retention has passed).
--
-- Every credential is sealed under the org key like a secret value (envelope format v1, bound
-- to the `*_id` column and the `*_key_version` column; docs/formats.md).

CREATE TABLE jira_sites (
    org_id             BLOB PRIMARY KEY REFERENCES orgs(id),
    kind               TEXT NOT NULL CHECK (kind IN ('cloud', 'data-center')),
    site_url           TEXT NOT NULL,
    cloud_id           TEXT,
    client_id          TEXT NOT NULL,
    secret_id          BLOB NOT NULL,
    secret_key_version INTEGER NOT NULL,
    secret_envelope    BLOB NOT NULL,
    hook_id            BLOB NOT NULL,
    hook_key_version   INTEGER NOT NULL,
    hook_envelope      BLOB NOT NULL,
    expose_names       INTEGER NOT NULL CHECK (expose_names IN (0, 1)),
    retention_days     INTEGER NOT NULL CHECK (retention_days BETWEEN 1 AND 3650),
    -- Bumped by lifecycle events: cached "may browse" answers of an older generation are stale.
    generation         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    updated_by         TEXT NOT NULL,
    CHECK ((kind = 'cloud') = (cloud_id IS NOT NULL))
) STRICT;

-- The tokens are one sealed JSON document {access, refresh, expires_at}.
CREATE TABLE jira_accounts (
    org_id            BLOB NOT NULL REFERENCES orgs(id),
    user_id           BLOB NOT NULL REFERENCES users(id),
    account_id        TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    token_id          BLOB NOT NULL,
    token_key_version INTEGER NOT NULL,
    token_envelope    BLOB NOT NULL,
    linked_at         INTEGER NOT NULL,
    refreshed_at      INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id),
    UNIQUE (org_id, account_id)
) STRICT;
CREATE INDEX jira_accounts_by_user ON jira_accounts (user_id);

-- `hash` is the SHA-256 of the OAuth `state`; `browser` the SHA-256 of the cookie that binds the
-- consent to the browser that started it.
CREATE TABLE jira_pending (
    hash       BLOB PRIMARY KEY,
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    user_id    BLOB NOT NULL REFERENCES users(id),
    verifier   TEXT NOT NULL,
    browser    BLOB NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX jira_pending_by_expiry ON jira_pending (expires_at);

-- `key` is an issue key (`OPS-1`) or a project key (`OPS`); `jira_id` Jira's numeric id of it.
CREATE TABLE jira_refs (
    org_id  BLOB NOT NULL REFERENCES orgs(id),
    key     TEXT NOT NULL,
    jira_id TEXT NOT NULL,
    PRIMARY KEY (org_id, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE jira_tombstones (
    secret_id  BLOB PRIMARY KEY REFERENCES secrets(id),
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    deleted_at INTEGER NOT NULL
) STRICT;
CREATE INDEX jira_tombstones_by_time ON jira_tombstones (deleted_at);
