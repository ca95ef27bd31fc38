-- Coffer catalog, SQLite, migration 11: one-time links and "send me a secret" requests
-- (docs/links-and-requests.md). Forward-only: never edit an applied migration; add a new file.
-- Same shape as migrations/postgres/0011_links_requests.sql.
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
    id            BLOB PRIMARY KEY,
    org_id        BLOB NOT NULL REFERENCES orgs(id),
    secret_id     BLOB NOT NULL,
    version       INTEGER NOT NULL,
    target        TEXT NOT NULL,
    open_hash     BLOB NOT NULL,
    created_by_id BLOB,
    created_by    TEXT NOT NULL,
    created_with  BLOB,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    max_views     INTEGER NOT NULL,
    views         INTEGER NOT NULL DEFAULT 0,
    revoked_at    INTEGER,
    envelope      BLOB
) STRICT;

CREATE INDEX links_org ON links (org_id, created_at);
CREATE INDEX links_secret ON links (secret_id);
CREATE INDEX links_creator ON links (created_by_id);
CREATE INDEX links_credential ON links (created_with);
CREATE INDEX links_expiry ON links (expires_at) WHERE envelope IS NOT NULL;

CREATE TABLE secret_requests (
    id             BLOB PRIMARY KEY,
    org_id         BLOB NOT NULL REFERENCES orgs(id),
    project        TEXT NOT NULL,
    issue          INTEGER NOT NULL,
    name           TEXT NOT NULL,
    note           TEXT NOT NULL,
    token_hash     BLOB NOT NULL,
    created_by_id  BLOB,
    created_by     TEXT NOT NULL,
    created_with   BLOB,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    public_key     BLOB NOT NULL,
    key_version    INTEGER NOT NULL,
    wrapped_key    BLOB NOT NULL,
    revoked_at     INTEGER,
    fulfilled_at   INTEGER,
    fulfilled_version INTEGER
) STRICT;

CREATE INDEX secret_requests_org ON secret_requests (org_id, created_at);
CREATE INDEX secret_requests_creator ON secret_requests (created_by_id);
CREATE INDEX secret_requests_credential ON secret_requests (created_with);
