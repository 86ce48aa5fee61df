-- The self-service site's sessions ("Min sesam"), server-side: the cookie holds a random
-- value, this table its keyed hash. A session ends when idle (last_seen_at, checked by the
-- domain) or at its absolute end (expires_at, also what the sweep deletes by).
CREATE TABLE self_service_sessions (
    id_hash        BYTEA PRIMARY KEY,
    identity_id    UUID NOT NULL REFERENCES identities (id),
    authentication TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX self_service_sessions_expiry ON self_service_sessions (expires_at);
