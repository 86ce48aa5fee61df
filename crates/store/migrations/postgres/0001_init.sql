-- sesam schema v1 (PostgreSQL). Times are Unix milliseconds (BIGINT), as on SQLite, so
-- both adapters share their SQL text.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE identities (
    id                 UUID PRIMARY KEY,
    national_id_sealed BYTEA NOT NULL,
    national_id_index  BYTEA NOT NULL UNIQUE,
    national_id_masked TEXT NOT NULL,
    name               TEXT NOT NULL,
    birthdate          TEXT NOT NULL,
    ial                TEXT NOT NULL CHECK (ial IN ('low', 'substantial', 'high')),
    state              TEXT NOT NULL CHECK (state IN ('pending', 'active', 'suspended', 'revoked')),
    phone              TEXT NOT NULL,
    email              TEXT,
    language           TEXT NOT NULL DEFAULT 'da' CHECK (language IN ('da', 'en')),
    notify_every_use   BOOLEAN NOT NULL DEFAULT FALSE,
    user_id            TEXT,
    user_id_key        TEXT UNIQUE,
    activated_at       BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE user_id_claims (
    key            TEXT PRIMARY KEY,
    identity_id    UUID NOT NULL REFERENCES identities (id),
    released_at    BIGINT,
    reserved_until BIGINT
);

CREATE TABLE user_id_history (
    identity_id UUID NOT NULL REFERENCES identities (id),
    user_id     TEXT NOT NULL,
    from_at     BIGINT NOT NULL,
    to_at       BIGINT,
    PRIMARY KEY (identity_id, from_at)
);

CREATE TABLE activation_grants (
    id              UUID PRIMARY KEY,
    identity_id     UUID NOT NULL REFERENCES identities (id),
    purpose         TEXT NOT NULL,
    code_hash       BYTEA NOT NULL UNIQUE,
    state           TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX activation_grants_identity ON activation_grants (identity_id);

CREATE TABLE service_providers (
    client_id         TEXT PRIMARY KEY,
    display_name      TEXT NOT NULL,
    redirect_uris     TEXT NOT NULL,
    secret_hash       BYTEA NOT NULL,
    allow_national_id BOOLEAN NOT NULL,
    require_par       BOOLEAN NOT NULL,
    ciba              BOOLEAN NOT NULL,
    jwks              TEXT,
    created_at        BIGINT NOT NULL
);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT,
    reason    TEXT,
    details   TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject);

-- One row, locked FOR UPDATE by every audited transaction: it serialises appends so the
-- chain stays linear across server nodes.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
