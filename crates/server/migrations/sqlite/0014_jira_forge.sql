-- Coffer catalog, SQLite, migration 14: the Forge app's installation an org trusts (docs/jira-forge.md).
-- Forward-only: never edit an applied migration.
--
-- A Forge Invocation Token proves only "some installation of this app": an org accepts tokens of
-- the one installation (of the one app) its owner linked. An installation belongs to one org.

CREATE TABLE jira_forge (
    org_id          BLOB PRIMARY KEY REFERENCES orgs(id),
    app_id          TEXT NOT NULL,
    installation_id TEXT NOT NULL UNIQUE,
    linked_at       INTEGER NOT NULL,
    linked_by       TEXT NOT NULL
) STRICT;
