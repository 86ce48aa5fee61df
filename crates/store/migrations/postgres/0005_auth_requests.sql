-- Requests waiting for the person's app: logins from the browser pages (with their
-- channel-binding code) and, later, back-channel approvals. `subject` is the identity id,
-- or a keyed hash of an unknown user ID, so limits count the same either way.
CREATE TABLE auth_requests (
    id           UUID PRIMARY KEY,
    identity_id  UUID REFERENCES identities (id),
    subject      TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    sp_name      TEXT NOT NULL,
    action       TEXT NOT NULL,
    text         TEXT NOT NULL,
    binding_code TEXT,
    flow_id      UUID,
    source_hash  BYTEA NOT NULL,
    -- Keyed hash of the browser that asked (after "this wasn't me" it may not ask again).
    browser_hash BYTEA,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'evicted')),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    decided_at   BIGINT,
    device_id    UUID,
    signature    BYTEA,
    not_me       BOOLEAN NOT NULL DEFAULT FALSE,
    -- The exact bytes the device signed (kept as evidence for the receipt).
    signed_bytes BYTEA,
    -- RFC 9396 authorization details approved with it (JSON), if any.
    details      TEXT,
    -- Back-channel (CIBA) requests: the keyed hash of auth_req_id, the scopes asked
    -- for, when the client last polled and when it collected the tokens.
    ciba_hash    BYTEA UNIQUE,
    scope        TEXT,
    last_polled_at BIGINT,
    redeemed_at  BIGINT
);
CREATE INDEX auth_requests_identity ON auth_requests (identity_id, state, expires_at);
CREATE INDEX auth_requests_subject ON auth_requests (subject, created_at);
CREATE INDEX auth_requests_source ON auth_requests (source_hash, created_at);
