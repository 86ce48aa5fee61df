-- Audit entries waiting to be chained. A request's transaction appends its entries here
-- (one statement, no lock shared with other requests); the sequencer moves them into
-- audit_log in order, linking each to the one before, shortly after they commit. An
-- entry is in exactly one of the two tables, so nothing committed is ever missing.
CREATE TABLE audit_pending (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT,
    reason  TEXT,
    details TEXT NOT NULL
);
