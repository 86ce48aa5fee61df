-- OpenID Connect: pushed requests, logins in progress, grants (authorization codes),
-- refresh tokens, browser sessions, client-assertion ids, and the password's lockout.
-- Secrets (request handles, codes, tokens, session ids) are stored as keyed hashes only.

CREATE TABLE par_requests (
    handle_hash BYTEA PRIMARY KEY,
    client_id   TEXT NOT NULL,
    request     TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX par_requests_expiry ON par_requests (expires_at);

CREATE TABLE login_flows (
    id            UUID PRIMARY KEY,
    browser_hash  BYTEA NOT NULL,
    request       TEXT NOT NULL,
    step          TEXT NOT NULL CHECK (step IN ('user_id', 'authenticate')),
    user_id_input TEXT,
    identity_id   UUID,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX login_flows_expiry ON login_flows (expires_at);

CREATE TABLE oidc_grants (
    id              UUID PRIMARY KEY,
    code_hash       BYTEA NOT NULL UNIQUE,
    client_id       TEXT NOT NULL,
    identity_id     UUID NOT NULL REFERENCES identities (id),
    request         TEXT NOT NULL,
    authentication  TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    code_expires_at BIGINT NOT NULL,
    code_used_at    BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX oidc_grants_identity ON oidc_grants (identity_id, created_at);

CREATE TABLE refresh_tokens (
    hash       BYTEA PRIMARY KEY,
    grant_id   UUID NOT NULL REFERENCES oidc_grants (id),
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

CREATE TABLE browser_sessions (
    id_hash        BYTEA PRIMARY KEY,
    identity_id    UUID NOT NULL REFERENCES identities (id),
    authentication TEXT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX browser_sessions_expiry ON browser_sessions (expires_at);

CREATE TABLE client_assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);

ALTER TABLE passwords ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE passwords ADD COLUMN locked_until BIGINT;
ALTER TABLE passwords ADD COLUMN temporary_locks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE passwords ADD COLUMN lock_window_start BIGINT;
ALTER TABLE passwords ADD COLUMN blocked BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE passwords ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE passwords ADD COLUMN pending_since BIGINT;
