-- Coffer catalog, PostgreSQL, migration 8: groups, grants and shares (docs/access.md).
-- Forward-only: never edit an applied migration (its checksum is recorded and checked). Same
-- shape as migrations/sqlite/0008_access.sql, which says why every existing `member` gets an
-- org-wide write grant.

CREATE TABLE groups (
    id         uuid PRIMARY KEY,
    org_id     uuid NOT NULL REFERENCES orgs(id),
    name       text NOT NULL,
    created_at bigint NOT NULL,
    created_by text NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE group_members (
    group_id uuid NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id  uuid NOT NULL REFERENCES users(id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id);

CREATE TABLE grants (
    id         uuid PRIMARY KEY,
    org_id     uuid NOT NULL REFERENCES orgs(id),
    project    text,
    issue      bigint NOT NULL DEFAULT 0 CHECK (issue >= 0 AND (project IS NOT NULL OR issue = 0)),
    user_id    uuid REFERENCES users(id),
    group_id   uuid REFERENCES groups(id) ON DELETE CASCADE,
    level      text NOT NULL CHECK (level IN ('read', 'write', 'manage')),
    created_at bigint NOT NULL,
    created_by text NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX grants_one ON grants (org_id, coalesce(project, ''), issue, coalesce(user_id, group_id));
CREATE INDEX grants_by_user ON grants (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX grants_by_group ON grants (group_id) WHERE group_id IS NOT NULL;

CREATE TABLE shares (
    secret_id  uuid NOT NULL REFERENCES secrets(id),
    user_id    uuid REFERENCES users(id),
    group_id   uuid REFERENCES groups(id) ON DELETE CASCADE,
    level      text NOT NULL CHECK (level IN ('read', 'write', 'manage')),
    created_at bigint NOT NULL,
    created_by text NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX shares_one ON shares (secret_id, coalesce(user_id, group_id));
CREATE INDEX shares_by_user ON shares (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX shares_by_group ON shares (group_id) WHERE group_id IS NOT NULL;

ALTER TABLE secrets ADD COLUMN restricted boolean NOT NULL DEFAULT false;
ALTER TABLE uploads ADD COLUMN restricted boolean NOT NULL DEFAULT false;

INSERT INTO grants (id, org_id, project, issue, user_id, group_id, level, created_at, created_by)
    SELECT gen_random_uuid(), m.org_id, NULL, 0, m.user_id, NULL, 'write',
           (extract(epoch FROM clock_timestamp()) * 1000)::bigint, 'migration'
    FROM memberships m WHERE m.role = 'member';
