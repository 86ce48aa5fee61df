-- sesam schema v1 (SQLite). Times are Unix milliseconds (INTEGER); ids are UUIDs (16-byte BLOB).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE identities (
    id                 BLOB PRIMARY KEY,
    national_id_sealed BLOB NOT NULL,
    national_id_index  BLOB NOT NULL UNIQUE,
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
    activated_at       INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

-- Every user ID in use or in quarantine; the primary key makes a user ID unique across
-- everyone, case-insensitively (key = lower-cased NFC form).
CREATE TABLE user_id_claims (
    key            TEXT PRIMARY KEY,
    identity_id    BLOB NOT NULL REFERENCES identities (id),
    released_at    INTEGER,
    reserved_until INTEGER
);

CREATE TABLE user_id_history (
    identity_id BLOB NOT NULL REFERENCES identities (id),
    user_id     TEXT NOT NULL,
    from_at     INTEGER NOT NULL,
    to_at       INTEGER,
    PRIMARY KEY (identity_id, from_at)
);

CREATE TABLE activation_grants (
    id              BLOB PRIMARY KEY,
    identity_id     BLOB NOT NULL REFERENCES identities (id),
    purpose         TEXT NOT NULL,
    code_hash       BLOB NOT NULL UNIQUE,
    state           TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX activation_grants_identity ON activation_grants (identity_id);

CREATE TABLE service_providers (
    client_id         TEXT PRIMARY KEY,
    display_name      TEXT NOT NULL,
    redirect_uris     TEXT NOT NULL,
    secret_hash       BLOB NOT NULL,
    allow_national_id BOOLEAN NOT NULL,
    require_par       BOOLEAN NOT NULL,
    ciba              BOOLEAN NOT NULL,
    jwks              TEXT,
    created_at        INTEGER NOT NULL
);

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT,
    reason    TEXT,
    details   TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));
