-- Token-signing keys (ES256). The private key is sealed under the master key; a key is
-- published before it signs (next), signs (active), and stays published after (retired).
CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    state          TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    public_sec1    BYTEA NOT NULL,
    private_sealed BYTEA NOT NULL,
    created_at     BIGINT NOT NULL,
    retire_after   BIGINT
);
