-- Coffer catalog, SQLite, migration 4: web UI sign-in. Forward-only: never edit an applied
-- migration; add a new file. (Migration 3 is the storage work; the numbers only need to rise.)
--
-- A user's password is one Argon2id PHC string (parameters and salt inside it). Sessions are
-- stored by the SHA-256 of their cookie value, like tokens, so a copy of the catalog lets no one
-- sign in; every node of a deployment sees a revocation at once because it lives here.

CREATE TABLE user_passwords (
    user_id BLOB PRIMARY KEY REFERENCES users(id),
    phc     TEXT NOT NULL,
    set_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE web_sessions (
    id         BLOB PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    user_id    BLOB NOT NULL REFERENCES users(id),
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX web_sessions_by_user ON web_sessions (user_id, expires_at);
