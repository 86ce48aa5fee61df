-- The user-ID claims and history as tables without a row id: each row is stored once, in
-- its primary key's B-tree, instead of in a row-id table plus an index on the primary key.
-- Enrolling a person writes one B-tree fewer in each (an import of a million people
-- spends most of its time in B-tree inserts); both tables' rows are small, which is what
-- SQLite's documentation asks of such tables. Nothing refers to either table.
CREATE TABLE user_id_claims_new (
    key            TEXT PRIMARY KEY,
    identity_id    BLOB NOT NULL REFERENCES identities (id),
    released_at    INTEGER,
    reserved_until INTEGER
) WITHOUT ROWID;
INSERT INTO user_id_claims_new (key, identity_id, released_at, reserved_until)
    SELECT key, identity_id, released_at, reserved_until FROM user_id_claims;
DROP TABLE user_id_claims;
ALTER TABLE user_id_claims_new RENAME TO user_id_claims;

CREATE TABLE user_id_history_new (
    identity_id BLOB NOT NULL REFERENCES identities (id),
    user_id     TEXT NOT NULL,
    from_at     INTEGER NOT NULL,
    to_at       INTEGER,
    PRIMARY KEY (identity_id, from_at)
) WITHOUT ROWID;
INSERT INTO user_id_history_new (identity_id, user_id, from_at, to_at)
    SELECT identity_id, user_id, from_at, to_at FROM user_id_history;
DROP TABLE user_id_history;
ALTER TABLE user_id_history_new RENAME TO user_id_history;
