-- Coffer catalog, SQLite, migration 6: identities, memberships and credentials kept apart
-- (docs/threat-model.md, "Identity and tenancy"). Forward-only: never edit an applied migration;
-- add a new file.
--
-- An identity is a person (one name across the deployment), a service account of one org (named
-- within it), or the deployment's operator, which is never a member of an org and whose tokens
-- and sessions carry no org. Existing users become people with every membership, password,
-- session and token they had; the first start after this migration seats a separate operator
-- (IdentityCatalog::seat_operator) and writes its token file.
--
-- Changing a column's constraints in SQLite means rebuilding the table: create the new one,
-- copy, drop the old one, rename. The runner applies every migration with foreign keys off and
-- runs `PRAGMA foreign_key_check` before it commits (SQLite's documented procedure).

CREATE TABLE users_new (
    id         BLOB PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('person', 'service', 'operator')),
    name       TEXT NOT NULL,
    -- The org a service account belongs to; NULL for people and the operator.
    org_id     BLOB REFERENCES orgs(id),
    created_at INTEGER NOT NULL,
    CHECK ((kind = 'service') = (org_id IS NOT NULL))
) STRICT;
INSERT INTO users_new (id, kind, name, org_id, created_at)
    SELECT id, 'person', name, NULL, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
-- People and the operator share one namespace; a service account's name is unique in its org.
CREATE UNIQUE INDEX users_name ON users (name) WHERE kind <> 'service';
CREATE UNIQUE INDEX users_service_name ON users (org_id, name) WHERE kind = 'service';

CREATE TABLE tokens_new (
    id         BLOB PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE,
    user_id    BLOB NOT NULL REFERENCES users(id),
    -- NULL only for the operator's tokens, which act deployment-wide.
    org_id     BLOB REFERENCES orgs(id),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
) STRICT;
INSERT INTO tokens_new SELECT id, hash, user_id, org_id, name, created_at, expires_at, revoked_at FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;
CREATE INDEX tokens_by_org ON tokens (org_id, created_at);
CREATE INDEX tokens_by_user ON tokens (user_id);

CREATE TABLE web_sessions_new (
    id         BLOB PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    user_id    BLOB NOT NULL REFERENCES users(id),
    -- NULL only for the operator's sessions.
    org_id     BLOB REFERENCES orgs(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
INSERT INTO web_sessions_new SELECT id, hash, user_id, org_id, created_at, expires_at, revoked_at FROM web_sessions;
DROP TABLE web_sessions;
ALTER TABLE web_sessions_new RENAME TO web_sessions;
CREATE INDEX web_sessions_by_user ON web_sessions (user_id, expires_at);

-- The invariant, kept by the database too: the operator is never a member; a service account is
-- a member of its own org only, and never an owner.
CREATE TRIGGER memberships_fit_insert BEFORE INSERT ON memberships
WHEN EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.user_id AND (u.kind = 'operator'
    OR (u.kind = 'service' AND (u.org_id IS NOT NEW.org_id OR NEW.role = 'owner'))))
BEGIN SELECT RAISE(ABORT, 'this identity cannot hold this role in this org'); END;
CREATE TRIGGER memberships_fit_update BEFORE UPDATE ON memberships
WHEN EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.user_id AND (u.kind = 'operator'
    OR (u.kind = 'service' AND (u.org_id IS NOT NEW.org_id OR NEW.role = 'owner'))))
BEGIN SELECT RAISE(ABORT, 'this identity cannot hold this role in this org'); END;

-- Credentials fit their identity: the operator's carry no org, everyone else's carry one (a
-- service account's, its own).
CREATE TRIGGER tokens_fit BEFORE INSERT ON tokens
WHEN EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.user_id AND ((u.kind = 'operator') <> (NEW.org_id IS NULL)
    OR (u.kind = 'service' AND u.org_id IS NOT NEW.org_id)))
BEGIN SELECT RAISE(ABORT, 'this credential does not fit its identity'); END;
CREATE TRIGGER web_sessions_fit BEFORE INSERT ON web_sessions
WHEN EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.user_id AND ((u.kind = 'operator') <> (NEW.org_id IS NULL)
    OR u.kind = 'service'))
BEGIN SELECT RAISE(ABORT, 'this credential does not fit its identity'); END;

-- Invitations: an org's admin (or the operator) invites a name with a role; the person accepts
-- with the code, signed in as themselves if the name is already a person. Only the code's
-- SHA-256 is stored.
CREATE TABLE invitations (
    id          BLOB PRIMARY KEY,
    hash        BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    org_id      BLOB NOT NULL REFERENCES orgs(id),
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX invitations_by_org ON invitations (org_id, created_at);

-- Credential resets the operator issued: a one-time code the person redeems to set a new
-- password. Only the code's SHA-256 is stored.
CREATE TABLE credential_resets (
    id         BLOB PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    user_id    BLOB NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX credential_resets_by_user ON credential_resets (user_id);
