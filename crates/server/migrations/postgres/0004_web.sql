-- Coffer catalog, PostgreSQL, migration 4: web UI sign-in. Forward-only: never edit an applied
-- migration (its checksum is recorded and checked); add a new file and append it to MIGRATIONS
-- in src/catalog/postgres/open.rs. Same shape as migrations/sqlite/0004_web.sql. (Migration 3 is
-- the storage work; the numbers only need to rise.)
--
-- A user's password is one Argon2id PHC string (parameters and salt inside it). Sessions are
-- stored by the SHA-256 of their cookie value, like tokens, so a copy of the catalog lets no one
-- sign in; every node of a deployment sees a revocation at once because it lives here.

CREATE TABLE user_passwords (
    user_id uuid PRIMARY KEY REFERENCES users(id),
    phc     text NOT NULL,
    set_at  bigint NOT NULL
);

CREATE TABLE web_sessions (
    id         uuid PRIMARY KEY,
    hash       bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    user_id    uuid NOT NULL REFERENCES users(id),
    org_id     uuid NOT NULL REFERENCES orgs(id),
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    revoked_at bigint
);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id, expires_at);
