-- Coffer catalog, PostgreSQL, migration 6: identities, memberships and credentials kept apart
-- (docs/threat-model.md, "Identity and tenancy"). Forward-only: never edit an applied migration
-- (its checksum is recorded and checked); add a new file and append it to MIGRATIONS in
-- src/catalog/postgres/open.rs. Same shape as migrations/sqlite/0006_identity.sql.
--
-- An identity is a person (one name across the deployment), a service account of one org (named
-- within it), or the deployment's operator, which is never a member of an org and whose tokens
-- and sessions carry no org. Existing users become people with every membership, password,
-- session and token they had; the first start after this migration seats a separate operator
-- (IdentityCatalog::seat_operator) and writes its token file.

ALTER TABLE users
    ADD COLUMN kind text NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'service', 'operator')),
    -- The org a service account belongs to; NULL for people and the operator.
    ADD COLUMN org_id uuid REFERENCES orgs(id),
    ADD CHECK ((kind = 'service') = (org_id IS NOT NULL));
ALTER TABLE users ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE users DROP CONSTRAINT users_name_key;
ALTER TABLE users DROP COLUMN operator;
-- People and the operator share one namespace; a service account's name is unique in its org.
CREATE UNIQUE INDEX users_name ON users (name) WHERE kind <> 'service';
CREATE UNIQUE INDEX users_service_name ON users (org_id, name) WHERE kind = 'service';

-- NULL only for the operator's tokens and sessions, which act deployment-wide.
ALTER TABLE tokens ALTER COLUMN org_id DROP NOT NULL;
CREATE INDEX tokens_by_user ON tokens (user_id);
ALTER TABLE web_sessions ALTER COLUMN org_id DROP NOT NULL;

-- The invariant, kept by the database too: the operator is never a member; a service account is
-- a member of its own org only, and never an owner. Credentials fit their identity: the
-- operator's carry no org, everyone else's carry one (a service account's, its own; service
-- accounts have no sessions). SQLSTATE 23514 (check_violation) with a "coffer:" message.
CREATE FUNCTION coffer_membership_fits() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.user_id AND (u.kind = 'operator'
        OR (u.kind = 'service' AND (u.org_id IS DISTINCT FROM NEW.org_id OR NEW.role = 'owner')))) THEN
        RAISE EXCEPTION 'coffer: this identity cannot hold this role in this org' USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER memberships_fit BEFORE INSERT OR UPDATE ON memberships
    FOR EACH ROW EXECUTE FUNCTION coffer_membership_fits();

CREATE FUNCTION coffer_credential_fits() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.user_id
        AND ((u.kind = 'operator') <> (NEW.org_id IS NULL)
             OR (u.kind = 'service' AND (TG_TABLE_NAME = 'web_sessions' OR u.org_id IS DISTINCT FROM NEW.org_id)))) THEN
        RAISE EXCEPTION 'coffer: this credential does not fit its identity' USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER tokens_fit BEFORE INSERT ON tokens
    FOR EACH ROW EXECUTE FUNCTION coffer_credential_fits();
CREATE TRIGGER web_sessions_fit BEFORE INSERT ON web_sessions
    FOR EACH ROW EXECUTE FUNCTION coffer_credential_fits();

-- Invitations: an org's admin (or the operator) invites a name with a role; the person accepts
-- with the code, signed in as themselves if the name is already a person. Only the code's
-- SHA-256 is stored.
CREATE TABLE invitations (
    id          uuid PRIMARY KEY,
    hash        bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    org_id      uuid NOT NULL REFERENCES orgs(id),
    name        text COLLATE "C" NOT NULL,
    role        text NOT NULL,
    created_by  text NOT NULL,
    created_at  bigint NOT NULL,
    expires_at  bigint NOT NULL,
    accepted_at bigint,
    revoked_at  bigint
);
CREATE INDEX invitations_by_org ON invitations (org_id, created_at);

-- Credential resets the operator issued: a one-time code the person redeems to set a new
-- password. Only the code's SHA-256 is stored.
CREATE TABLE credential_resets (
    id         uuid PRIMARY KEY,
    hash       bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    user_id    uuid NOT NULL REFERENCES users(id),
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    used_at    bigint
);
CREATE INDEX credential_resets_by_user ON credential_resets (user_id);
