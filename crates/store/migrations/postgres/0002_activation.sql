-- App activation: the SMS step of grants, devices, request nonces and the outbox.

ALTER TABLE activation_grants ADD COLUMN sms_pin_hash BYTEA;
ALTER TABLE activation_grants ADD COLUMN sms_pin_expires_at BIGINT;
ALTER TABLE activation_grants ADD COLUMN sms_sent_count INTEGER NOT NULL DEFAULT 0;

-- Set when a phone number is changed (not when first registered): codes are not sent to
-- a number changed in the last 5 days.
ALTER TABLE identities ADD COLUMN phone_changed_at BIGINT;

CREATE TABLE devices (
    id                UUID PRIMARY KEY,
    identity_id       UUID NOT NULL REFERENCES identities (id),
    name              TEXT NOT NULL,
    public_key        BYTEA NOT NULL UNIQUE,
    pin_hash          BYTEA NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('active', 'revoked')),
    failures          INTEGER NOT NULL DEFAULT 0,
    locked_until      BIGINT,
    temporary_locks   INTEGER NOT NULL DEFAULT 0,
    lock_window_start BIGINT,
    blocked           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        BIGINT NOT NULL,
    last_used_at      BIGINT,
    revoked_at        BIGINT
);
CREATE INDEX devices_identity ON devices (identity_id);

-- Nonces of device-signed requests seen within the timestamp window.
CREATE TABLE app_nonces (
    device_id  UUID NOT NULL,
    nonce      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, nonce)
);

-- One row per message and channel; message_id is shared by the channels of one message.
-- delivery 'first': the rows are tried in position order (the person's channel order):
-- one is pending, the others wait on standby and are skipped once one is sent.
-- A row in 'sending' whose lease ran out (a dispatcher died) is claimed again.
CREATE TABLE outbox (
    id              UUID PRIMARY KEY,
    message_id      UUID NOT NULL,
    identity_id     UUID,
    event           TEXT NOT NULL,
    channel         TEXT NOT NULL,
    destination     TEXT NOT NULL,
    body            TEXT NOT NULL,
    language        TEXT NOT NULL DEFAULT 'da',
    body_sealed     BYTEA,
    delivery        TEXT NOT NULL CHECK (delivery IN ('all', 'first', 'only')),
    position        INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'standby', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_message ON outbox (message_id, position);
CREATE INDEX outbox_identity ON outbox (identity_id, created_at);

-- Every delivery attempt, for the person's activity log and for operators.
CREATE TABLE delivery_attempts (
    id         UUID PRIMARY KEY,
    outbox_id  UUID NOT NULL REFERENCES outbox (id),
    message_id UUID NOT NULL,
    channel    TEXT NOT NULL,
    at         BIGINT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('sent', 'temporary', 'permanent')),
    error      TEXT
);
CREATE INDEX delivery_attempts_message ON delivery_attempts (message_id, at);

-- Further apps waiting for approval from an active app. identity_id is NULL when the
-- user ID given was unknown: such a pairing is kept (and never approved) so that the
-- answer does not reveal whether a user ID exists.
CREATE TABLE pairings (
    id          UUID PRIMARY KEY,
    identity_id UUID REFERENCES identities (id),
    device_id   UUID NOT NULL,
    public_key  BYTEA NOT NULL,
    name        TEXT NOT NULL,
    pin_hash    BYTEA NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX pairings_identity ON pairings (identity_id, state);

-- Code displays (hardware TOTP tokens) imported from PSKC files. The seed is sealed under
-- the master key; seed_check (a keyed hash) lets a repeated import recognise the same seed.
CREATE TABLE code_displays (
    serial            TEXT PRIMARY KEY,
    seed_sealed       BYTEA NOT NULL,
    seed_check        BYTEA NOT NULL,
    identity_id       UUID REFERENCES identities (id),
    state             TEXT NOT NULL CHECK (state IN ('unassigned', 'active', 'revoked')),
    last_used_step    BIGINT,
    drift_steps       INTEGER NOT NULL DEFAULT 0,
    failures          INTEGER NOT NULL DEFAULT 0,
    locked_until      BIGINT,
    temporary_locks   INTEGER NOT NULL DEFAULT 0,
    lock_window_start BIGINT,
    blocked           BOOLEAN NOT NULL DEFAULT FALSE,
    imported_at       BIGINT NOT NULL,
    activated_at      BIGINT
);
CREATE INDEX code_displays_identity ON code_displays (identity_id, state);

-- The password (second factor only), as an Argon2id PHC string.
CREATE TABLE passwords (
    identity_id UUID PRIMARY KEY REFERENCES identities (id),
    phc         TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Chips (FIDO2 security keys): the WebAuthn credential record as the RP library keeps it.
CREATE TABLE chips (
    id            UUID PRIMARY KEY,
    identity_id   UUID NOT NULL REFERENCES identities (id),
    credential_id BYTEA NOT NULL UNIQUE,
    credential    TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('active', 'revoked')),
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX chips_identity ON chips (identity_id, state);

-- WebAuthn ceremonies in progress: sealed state, single use, short-lived.
CREATE TABLE webauthn_ceremonies (
    id           UUID PRIMARY KEY,
    identity_id  UUID NOT NULL REFERENCES identities (id),
    kind         TEXT NOT NULL CHECK (kind IN ('registration', 'authentication')),
    state_sealed BYTEA NOT NULL,
    password_phc TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- The person's notification channels in their order (failover order). A channel must be
-- confirmed (with a code sent to it) before it receives security messages; the phone and
-- e-mail given at the registration counter start confirmed.
CREATE TABLE notification_channels (
    id                UUID PRIMARY KEY,
    identity_id       UUID NOT NULL REFERENCES identities (id),
    kind              TEXT NOT NULL CHECK (kind IN ('sms', 'email')),
    address           TEXT NOT NULL,
    position          INTEGER NOT NULL,
    confirmed_at      BIGINT,
    code_hash         BYTEA,
    code_expires_at   BIGINT,
    code_attempts     INTEGER NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    UNIQUE (identity_id, kind, address)
);
CREATE INDEX notification_channels_identity ON notification_channels (identity_id, position);
