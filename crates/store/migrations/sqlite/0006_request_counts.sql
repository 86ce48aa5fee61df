-- Requests started per fixed window, per source and per person + source: checking a
-- limit is one upsert instead of counting every request of the window.
CREATE TABLE request_counts (
    key          BLOB NOT NULL,
    window_start INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX request_counts_window ON request_counts (window_start);
