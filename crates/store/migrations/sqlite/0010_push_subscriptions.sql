-- The apps' web push subscriptions (RFC 8030), one per device: the push service's
-- endpoint and the browser's keys the messages are encrypted to (RFC 8291). Removed when
-- the device is revoked and when the push service says it no longer knows them.
CREATE TABLE push_subscriptions (
    id          BLOB PRIMARY KEY,
    device_id   BLOB NOT NULL UNIQUE REFERENCES devices (id),
    identity_id BLOB NOT NULL REFERENCES identities (id),
    endpoint    TEXT NOT NULL,
    p256dh      BLOB NOT NULL,
    auth        BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX push_subscriptions_identity ON push_subscriptions (identity_id);
