-- UAA schema: signing keys, users, groups (scopes), OAuth clients, login failures and tokens.

CREATE TABLE IF NOT EXISTS signing_keys (
    kid         TEXT PRIMARY KEY,
    private_pem TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    id                     TEXT PRIMARY KEY,
    username               TEXT NOT NULL,
    -- lower-cased user name: UAA user names are unique per origin, ignoring case
    username_key           TEXT NOT NULL,
    origin                 TEXT NOT NULL,
    email                  TEXT NOT NULL,
    given_name             TEXT,
    family_name            TEXT,
    password_hash          TEXT,
    active                 BOOLEAN NOT NULL,
    verified               BOOLEAN NOT NULL,
    version                BIGINT NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    last_modified          TIMESTAMPTZ NOT NULL,
    password_last_modified TIMESTAMPTZ,
    last_logon_at          TIMESTAMPTZ,
    previous_logon_at      TIMESTAMPTZ,
    UNIQUE (username_key, origin)
);

CREATE TABLE IF NOT EXISTS groups (
    id            TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL UNIQUE,
    description   TEXT,
    version       BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_modified TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS group_memberships (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX IF NOT EXISTS group_memberships_user ON group_memberships (user_id);

CREATE TABLE IF NOT EXISTS oauth_clients (
    client_id              TEXT PRIMARY KEY,
    secret_hash            TEXT,
    authorized_grant_types TEXT NOT NULL,
    scope                  TEXT NOT NULL,
    authorities            TEXT NOT NULL,
    redirect_uris          TEXT NOT NULL,
    autoapprove            BOOLEAN NOT NULL,
    access_token_validity  BIGINT,
    refresh_token_validity BIGINT,
    created_at             TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS failed_logins (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    failed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS failed_logins_user ON failed_logins (user_id);

CREATE TABLE IF NOT EXISTS refresh_tokens (
    jti        TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE IF NOT EXISTS revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ NOT NULL
);

-- One-time codes of the authorization_code grant (cf ssh-code), stored as SHA-256 hex.
CREATE TABLE IF NOT EXISTS authorization_codes (
    code_hash    TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL,
    scope        TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
