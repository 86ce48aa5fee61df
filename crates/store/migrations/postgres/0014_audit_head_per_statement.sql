-- The chain head follows each statement that appends entries, not each entry. With a
-- row-level trigger a statement of 1,000 entries updated the one head row 1,000 times;
-- PostgreSQL keeps every version of that row until the transaction ends, so each update
-- had a longer chain of versions to walk and an import's batch of 10,000 people spent
-- most of its time there. Entries are always appended in the order of `seq`, so the last
-- one is the one with the highest `seq`.
DROP TRIGGER audit_head_follows ON audit_log;
CREATE OR REPLACE FUNCTION audit_head_follows() RETURNS trigger AS $$
BEGIN
    UPDATE audit_head SET seq = last.seq, hash = last.hash
    FROM (SELECT seq, hash FROM appended ORDER BY seq DESC LIMIT 1) AS last
    WHERE id = 1;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_head_follows AFTER INSERT ON audit_log
    REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION audit_head_follows();
