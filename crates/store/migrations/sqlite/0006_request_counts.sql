-- Requests started per fixed window, per source and per person + source: checking a
-- limit is one upsert instead of counting every request of the window.
CREATE TABLE request_counts (
    key          BLOB NOT NULL,
    window_start INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX request_counts_window ON request_counts (window_start);

-- The sweeper deletes expired nonces and assertion ids by time.
CREATE INDEX app_nonces_expiry ON app_nonces (expires_at);
CREATE INDEX client_assertion_jtis_expiry ON client_assertion_jtis (expires_at);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);

-- The chain head follows every appended entry, so an append is one statement after the
-- head is read (the head row is still what serialises appends).
CREATE TRIGGER audit_head_follows AFTER INSERT ON audit_log
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
END;
