-- Coffer catalog, PostgreSQL, migration 14: the Forge app's installation an org trusts
-- (docs/jira-forge.md). Forward-only: never edit an applied migration (its checksum is recorded
-- and checked). Same shape as migrations/sqlite/0014_jira_forge.sql, which says what it holds.

CREATE TABLE jira_forge (
    org_id          uuid PRIMARY KEY REFERENCES orgs(id),
    app_id          text NOT NULL,
    installation_id text NOT NULL UNIQUE,
    linked_at       bigint NOT NULL,
    linked_by       text NOT NULL
);
