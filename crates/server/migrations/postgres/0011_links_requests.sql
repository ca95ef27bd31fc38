-- Coffer catalog, PostgreSQL, migration 11: one-time links and "send me a secret" requests
-- (docs/links-and-requests.md). Forward-only: never edit an applied migration (its checksum is
-- recorded and checked); add a new file and append it to MIGRATIONS in src/catalog/postgres/open.rs.
-- Same shape as migrations/sqlite/0011_links_requests.sql.
--
-- A link holds a copy of one secret version sealed by its creator under a key that lives only in
-- the link's URL fragment: the server stores ciphertext it cannot open, and the SHA-256 of the
-- proof an opener derives from that key. The copy is dropped (envelope NULL) when the last view
-- is used, the link is revoked or expires, or the secret is destroyed (which deletes the row).
--
-- A request holds an ECDH P-256 key pair whose private half is wrapped under the org key; an
-- outsider's browser seals a value to the public half, and the server opens it and stores it as
-- a new version of the requested secret. A request is used once; only the SHA-256 of its URL's
-- token is stored. The wrapped key is emptied once the request is used, revoked or expired.
--
-- Both record the credential they were made with (created_with): revoking it, or the creator's
-- credentials, revokes them.

CREATE TABLE links (
    id            uuid PRIMARY KEY,
    org_id        uuid NOT NULL REFERENCES orgs(id),
    secret_id     uuid NOT NULL,
    version       bigint NOT NULL,
    target        text NOT NULL,
    open_hash     bytea NOT NULL,
    created_by_id uuid,
    created_by    text NOT NULL,
    created_with  uuid,
    created_at    bigint NOT NULL,
    expires_at    bigint NOT NULL,
    max_views     bigint NOT NULL,
    views         bigint NOT NULL DEFAULT 0,
    revoked_at    bigint,
    envelope      bytea
);

CREATE INDEX links_org ON links (org_id, created_at);
CREATE INDEX links_secret ON links (secret_id);
CREATE INDEX links_creator ON links (created_by_id);
CREATE INDEX links_credential ON links (created_with);
CREATE INDEX links_expiry ON links (expires_at) WHERE envelope IS NOT NULL;

CREATE TABLE secret_requests (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES orgs(id),
    project        text NOT NULL,
    issue          bigint NOT NULL,
    name           text NOT NULL,
    note           text NOT NULL,
    token_hash     bytea NOT NULL,
    created_by_id uuid,
    created_by     text NOT NULL,
    created_with   uuid,
    created_at     bigint NOT NULL,
    expires_at     bigint NOT NULL,
    public_key     bytea NOT NULL,
    key_version    bigint NOT NULL,
    wrapped_key    bytea NOT NULL,
    revoked_at     bigint,
    fulfilled_at   bigint,
    fulfilled_version bigint
);

CREATE INDEX secret_requests_org ON secret_requests (org_id, created_at);
CREATE INDEX secret_requests_creator ON secret_requests (created_by_id);
CREATE INDEX secret_requests_credential ON secret_requests (created_with);
