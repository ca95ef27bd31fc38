-- Coffer catalog, SQLite, migration 9: single sign-on (docs/sso.md). Forward-only: never edit an
-- applied migration.
--
-- An org's OpenID provider (at most one), the logins in flight (one row per started sign-in,
-- link or CLI exchange, deleted when used or expired) and the links from a provider's subject to
-- a person. A link is per org: the same person may be linked to a different provider in every
-- org they belong to, and a provider's assertion never reaches beyond its own org.

CREATE TABLE sso_configs (
    org_id             BLOB PRIMARY KEY REFERENCES orgs(id),
    issuer             TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    -- The client secret, sealed under the org key like a secret value (envelope format v1,
    -- bound to secret_id and key_version); all three NULL for a public client.
    secret_id          BLOB,
    secret_key_version INTEGER,
    secret_envelope    BLOB,
    groups_claim       TEXT,
    create_people      INTEGER NOT NULL CHECK (create_people IN (0, 1)),
    require_sso        INTEGER NOT NULL CHECK (require_sso IN (0, 1)),
    updated_at         INTEGER NOT NULL,
    updated_by         TEXT NOT NULL,
    CHECK ((secret_id IS NULL) = (secret_envelope IS NULL) AND (secret_id IS NULL) = (secret_key_version IS NULL))
) STRICT;

-- `hash` is the SHA-256 of the one-time value that finds the row (the OAuth `state`, or the
-- code a CLI exchanges); `browser` the SHA-256 of the cookie that binds a sign-in to the browser
-- that started it.
CREATE TABLE sso_pending (
    hash       BLOB PRIMARY KEY,
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    purpose    TEXT NOT NULL CHECK (purpose IN ('sign_in', 'link', 'cli', 'cli_exchange')),
    user_id    BLOB REFERENCES users(id),
    cli_port   INTEGER,
    challenge  TEXT,
    nonce      TEXT NOT NULL,
    verifier   TEXT NOT NULL,
    browser    BLOB NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sso_pending_by_expiry ON sso_pending (expires_at);

CREATE TABLE sso_links (
    org_id     BLOB NOT NULL REFERENCES orgs(id),
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, issuer, subject),
    UNIQUE (org_id, user_id)
) STRICT;
CREATE INDEX sso_links_by_user ON sso_links (user_id);

-- Everyone who was ever linked to a provider, in any org; kept when the link is forgotten. Such a
-- person gets a first password only through the operator's reset (docs/sso.md).
CREATE TABLE sso_people (
    user_id BLOB PRIMARY KEY REFERENCES users(id),
    since   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
