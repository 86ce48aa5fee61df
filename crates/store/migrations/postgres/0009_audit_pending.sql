-- Audit entries waiting to be chained. A request's transaction appends its entries here
-- (one statement, no lock shared with other requests); the sequencer, one at a time
-- across all nodes (an advisory lock), moves them into audit_log in order, linking each
-- to the one before, shortly after they commit. An entry is in exactly one of the two
-- tables, so nothing committed is ever missing from the log.
CREATE TABLE audit_pending (
    id      BIGSERIAL PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT,
    reason  TEXT,
    details TEXT NOT NULL
);
