-- Coffer catalog, SQLite, migration 10: SCIM provisioning (docs/scim.md). Forward-only: never
-- edit an applied migration.
--
-- An org's SCIM tokens (a credential of the org itself, not of an identity: only its SHA-256 is
-- stored), and the SCIM side of the org's people and groups — what a provisioning client sets
-- that Coffer has no column for elsewhere. Memberships stay the truth about who is in the org:
-- a person's SCIM row outlives their membership only when SCIM deactivated them.

CREATE TABLE scim_tokens (
    id         BLOB PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX scim_tokens_by_org ON scim_tokens (org_id, created_at);

-- `active` is what the client last set (NULL: never set, or removed — which means active);
-- `provisioned` whether this org's SCIM created the person.
CREATE TABLE scim_users (
    org_id       BLOB NOT NULL REFERENCES orgs(id),
    user_id      BLOB NOT NULL REFERENCES users(id),
    external_id  TEXT,
    display_name TEXT,
    active       INTEGER CHECK (active IN (0, 1)),
    provisioned  INTEGER NOT NULL CHECK (provisioned IN (0, 1)),
    PRIMARY KEY (org_id, user_id)
) STRICT, WITHOUT ROWID;

-- Only people are SCIM users: never a service account or the operator.
CREATE TRIGGER scim_users_are_people BEFORE INSERT ON scim_users
WHEN NOT EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.user_id AND u.kind = 'person')
BEGIN SELECT RAISE(ABORT, 'only people are SCIM users'); END;

CREATE TABLE scim_groups (
    group_id     BLOB PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    external_id  TEXT
) STRICT;
