-- The self-service site's sessions ("Min sesam"), server-side: the cookie holds a random
-- value, this table its keyed hash. A session ends when idle (last_seen_at, checked by the
-- domain) or at its absolute end (expires_at, also what the sweep deletes by).
CREATE TABLE self_service_sessions (
    id_hash        BLOB PRIMARY KEY,
    identity_id    BLOB NOT NULL REFERENCES identities (id),
    authentication TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);
CREATE INDEX self_service_sessions_expiry ON self_service_sessions (expires_at);
