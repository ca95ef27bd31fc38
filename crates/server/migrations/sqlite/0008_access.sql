-- Coffer catalog, SQLite, migration 8: groups, grants and shares (docs/access.md). Forward-only:
-- never edit an applied migration.
--
-- A grant gives a person, service account or group a level (read, write, manage) on every
-- secret of the org (project NULL), of a project (issue 0) or of one issue. A share gives one
-- on one secret. A restricted secret is reachable through its shares only. Owners and admins
-- keep, by role, what they had; a plain member now sees only what grants and shares give, so
-- every existing `member` gets an org-wide write grant — what the role gave before — which an
-- owner sees in the grant list and may remove. New orgs start without one.

CREATE TABLE groups (
    id         BLOB PRIMARY KEY,
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (org_id, name)
) STRICT;

CREATE TABLE group_members (
    group_id BLOB NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id  BLOB NOT NULL REFERENCES users(id),
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members (user_id);

-- Exactly one of user_id and group_id names the principal.
CREATE TABLE grants (
    id         BLOB PRIMARY KEY,
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    project    TEXT,
    issue      INTEGER NOT NULL DEFAULT 0 CHECK (issue >= 0 AND (project IS NOT NULL OR issue = 0)),
    user_id    BLOB REFERENCES users(id),
    group_id   BLOB REFERENCES groups(id) ON DELETE CASCADE,
    level      TEXT NOT NULL CHECK (level IN ('read', 'write', 'manage')),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
) STRICT;
-- One grant per scope and principal: granting again changes its level.
CREATE UNIQUE INDEX grants_one ON grants (org_id, coalesce(project, ''), issue, coalesce(user_id, group_id));
CREATE INDEX grants_by_user ON grants (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX grants_by_group ON grants (group_id) WHERE group_id IS NOT NULL;

CREATE TABLE shares (
    secret_id  BLOB NOT NULL REFERENCES secrets(id),
    user_id    BLOB REFERENCES users(id),
    group_id   BLOB REFERENCES groups(id) ON DELETE CASCADE,
    level      TEXT NOT NULL CHECK (level IN ('read', 'write', 'manage')),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
) STRICT;
CREATE UNIQUE INDEX shares_one ON shares (secret_id, coalesce(user_id, group_id));
CREATE INDEX shares_by_user ON shares (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX shares_by_group ON shares (group_id) WHERE group_id IS NOT NULL;

ALTER TABLE secrets ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1));
ALTER TABLE uploads ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1));

INSERT INTO grants (id, org_id, project, issue, user_id, group_id, level, created_at, created_by)
    SELECT randomblob(16), m.org_id, NULL, 0, m.user_id, NULL, 'write',
           CAST(unixepoch('subsec') * 1000 AS INTEGER), 'migration'
    FROM memberships m WHERE m.role = 'member';
