-- App activation: the SMS step of grants, devices, request nonces and the outbox.

ALTER TABLE activation_grants ADD COLUMN sms_pin_hash BLOB;
ALTER TABLE activation_grants ADD COLUMN sms_pin_expires_at INTEGER;
ALTER TABLE activation_grants ADD COLUMN sms_sent_count INTEGER NOT NULL DEFAULT 0;

-- Set when a phone number is changed (not when first registered): codes are not sent to
-- a number changed in the last 5 days.
ALTER TABLE identities ADD COLUMN phone_changed_at INTEGER;

CREATE TABLE devices (
    id                BLOB PRIMARY KEY,
    identity_id       BLOB NOT NULL REFERENCES identities (id),
    name              TEXT NOT NULL,
    public_key        BLOB NOT NULL UNIQUE,
    pin_hash          BLOB NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('active', 'revoked')),
    failures          INTEGER NOT NULL DEFAULT 0,
    locked_until      INTEGER,
    temporary_locks   INTEGER NOT NULL DEFAULT 0,
    lock_window_start INTEGER,
    blocked           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        INTEGER NOT NULL,
    last_used_at      INTEGER,
    revoked_at        INTEGER
);
CREATE INDEX devices_identity ON devices (identity_id);

-- Nonces of device-signed requests seen within the timestamp window.
CREATE TABLE app_nonces (
    device_id  BLOB NOT NULL,
    nonce      TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, nonce)
);

-- One row per message and channel; message_id is shared by the channels of one message.
-- delivery 'first': the rows are tried in position order (the person's channel order):
-- one is pending, the others wait on standby and are skipped once one is sent.
-- A row in 'sending' whose lease ran out (a dispatcher died) is claimed again.
CREATE TABLE outbox (
    id              BLOB PRIMARY KEY,
    message_id      BLOB NOT NULL,
    identity_id     BLOB,
    event           TEXT NOT NULL,
    channel         TEXT NOT NULL,
    destination     TEXT NOT NULL,
    body            TEXT NOT NULL,
    language        TEXT NOT NULL DEFAULT 'da',
    body_sealed     BLOB,
    delivery        TEXT NOT NULL CHECK (delivery IN ('all', 'first', 'only')),
    position        INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'standby', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_message ON outbox (message_id, position);
CREATE INDEX outbox_identity ON outbox (identity_id, created_at);

-- Every delivery attempt, for the person's activity log and for operators.
CREATE TABLE delivery_attempts (
    id         BLOB PRIMARY KEY,
    outbox_id  BLOB NOT NULL REFERENCES outbox (id),
    message_id BLOB NOT NULL,
    channel    TEXT NOT NULL,
    at         INTEGER NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('sent', 'temporary', 'permanent')),
    error      TEXT
);
CREATE INDEX delivery_attempts_message ON delivery_attempts (message_id, at);

-- Further apps waiting for approval from an active app. identity_id is NULL when the
-- user ID given was unknown: such a pairing is kept (and never approved) so that the
-- answer does not reveal whether a user ID exists.
CREATE TABLE pairings (
    id          BLOB PRIMARY KEY,
    identity_id BLOB REFERENCES identities (id),
    device_id   BLOB NOT NULL,
    public_key  BLOB NOT NULL,
    name        TEXT NOT NULL,
    pin_hash    BLOB NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX pairings_identity ON pairings (identity_id, state);

-- Code displays (hardware TOTP tokens) imported from PSKC files. The seed is sealed under
-- the master key; seed_check (a keyed hash) lets a repeated import recognise the same seed.
CREATE TABLE code_displays (
    serial            TEXT PRIMARY KEY,
    seed_sealed       BLOB NOT NULL,
    seed_check        BLOB NOT NULL,
    identity_id       BLOB REFERENCES identities (id),
    state             TEXT NOT NULL CHECK (state IN ('unassigned', 'active', 'revoked')),
    last_used_step    INTEGER,
    drift_steps       INTEGER NOT NULL DEFAULT 0,
    failures          INTEGER NOT NULL DEFAULT 0,
    locked_until      INTEGER,
    temporary_locks   INTEGER NOT NULL DEFAULT 0,
    lock_window_start INTEGER,
    blocked           BOOLEAN NOT NULL DEFAULT FALSE,
    imported_at       INTEGER NOT NULL,
    activated_at      INTEGER
);
CREATE INDEX code_displays_identity ON code_displays (identity_id, state);

-- The password (second factor only), as an Argon2id PHC string.
CREATE TABLE passwords (
    identity_id BLOB PRIMARY KEY REFERENCES identities (id),
    phc         TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Chips (FIDO2 security keys): the WebAuthn credential record as the RP library keeps it.
CREATE TABLE chips (
    id            BLOB PRIMARY KEY,
    identity_id   BLOB NOT NULL REFERENCES identities (id),
    credential_id BLOB NOT NULL UNIQUE,
    credential    TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('active', 'revoked')),
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX chips_identity ON chips (identity_id, state);

-- WebAuthn ceremonies in progress: sealed state, single use, short-lived.
CREATE TABLE webauthn_ceremonies (
    id           BLOB PRIMARY KEY,
    identity_id  BLOB NOT NULL REFERENCES identities (id),
    kind         TEXT NOT NULL CHECK (kind IN ('registration', 'authentication')),
    state_sealed BLOB NOT NULL,
    password_phc TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);

-- The person's notification channels in their order (failover order). A channel must be
-- confirmed (with a code sent to it) before it receives security messages; the phone and
-- e-mail given at the registration counter start confirmed.
CREATE TABLE notification_channels (
    id                BLOB PRIMARY KEY,
    identity_id       BLOB NOT NULL REFERENCES identities (id),
    kind              TEXT NOT NULL CHECK (kind IN ('sms', 'email')),
    address           TEXT NOT NULL,
    position          INTEGER NOT NULL,
    confirmed_at      INTEGER,
    code_hash         BLOB,
    code_expires_at   INTEGER,
    code_attempts     INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    UNIQUE (identity_id, kind, address)
);
CREATE INDEX notification_channels_identity ON notification_channels (identity_id, position);
