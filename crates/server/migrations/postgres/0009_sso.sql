-- Coffer catalog, PostgreSQL, migration 9: single sign-on (docs/sso.md). Forward-only: never
-- edit an applied migration (its checksum is recorded and checked). Same shape as
-- migrations/sqlite/0009_sso.sql, which says what each table holds.

CREATE TABLE sso_configs (
    org_id             uuid PRIMARY KEY REFERENCES orgs(id),
    issuer             text NOT NULL,
    client_id          text NOT NULL,
    secret_id          uuid,
    secret_key_version integer,
    secret_envelope    bytea,
    groups_claim       text,
    create_people      boolean NOT NULL,
    require_sso        boolean NOT NULL,
    updated_at         bigint NOT NULL,
    updated_by         text NOT NULL,
    CHECK ((secret_id IS NULL) = (secret_envelope IS NULL) AND (secret_id IS NULL) = (secret_key_version IS NULL))
);

CREATE TABLE sso_pending (
    hash       bytea PRIMARY KEY,
    org_id     uuid NOT NULL REFERENCES orgs(id),
    purpose    text NOT NULL CHECK (purpose IN ('sign_in', 'link', 'cli', 'cli_exchange')),
    user_id    uuid REFERENCES users(id),
    cli_port   integer,
    challenge  text,
    nonce      text NOT NULL,
    verifier   text NOT NULL,
    browser    bytea NOT NULL,
    expires_at bigint NOT NULL
);
CREATE INDEX sso_pending_by_expiry ON sso_pending (expires_at);

CREATE TABLE sso_links (
    org_id     uuid NOT NULL REFERENCES orgs(id),
    issuer     text NOT NULL,
    subject    text NOT NULL,
    user_id    uuid NOT NULL REFERENCES users(id),
    created_at bigint NOT NULL,
    PRIMARY KEY (org_id, issuer, subject),
    UNIQUE (org_id, user_id)
);
CREATE INDEX sso_links_by_user ON sso_links (user_id);

CREATE TABLE sso_people (
    user_id uuid PRIMARY KEY REFERENCES users(id),
    since   bigint NOT NULL
);
