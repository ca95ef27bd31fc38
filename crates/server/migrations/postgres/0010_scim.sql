-- Coffer catalog, PostgreSQL, migration 10: SCIM provisioning (docs/scim.md). Forward-only:
-- never edit an applied migration (its checksum is recorded and checked). Same shape as
-- migrations/sqlite/0010_scim.sql, which says what each table holds.

CREATE TABLE scim_tokens (
    id         uuid PRIMARY KEY,
    hash       bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    org_id     uuid NOT NULL REFERENCES orgs(id),
    name       text NOT NULL,
    created_at bigint NOT NULL,
    created_by text NOT NULL,
    revoked_at bigint
);
CREATE INDEX scim_tokens_by_org ON scim_tokens (org_id, created_at);

CREATE TABLE scim_users (
    org_id       uuid NOT NULL REFERENCES orgs(id),
    user_id      uuid NOT NULL REFERENCES users(id),
    external_id  text,
    display_name text,
    active       boolean,
    provisioned  boolean NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

CREATE FUNCTION coffer_scim_user_is_a_person() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.user_id AND u.kind = 'person') THEN
        RAISE EXCEPTION 'coffer: only people are SCIM users' USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER scim_users_are_people BEFORE INSERT ON scim_users
    FOR EACH ROW EXECUTE FUNCTION coffer_scim_user_is_a_person();

CREATE TABLE scim_groups (
    group_id     uuid PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
    display_name text NOT NULL,
    external_id  text
);
