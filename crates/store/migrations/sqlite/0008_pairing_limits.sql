-- Pairings get the protections of login requests: the person they are for (`subject`:
-- the identity id, or a keyed hash of an unknown user ID, so limits count the same
-- either way), the pairing code the new app shows and the approving app must give, and
-- the wrong codes given so far (the third voids the pairing). Pairings from before this
-- migration have no code and can never be approved.
ALTER TABLE pairings ADD COLUMN subject TEXT;
ALTER TABLE pairings ADD COLUMN code TEXT;
ALTER TABLE pairings ADD COLUMN code_failures INTEGER NOT NULL DEFAULT 0;
CREATE INDEX pairings_subject ON pairings (subject, state, expires_at);

-- Wrong binding codes given for a login request (the third cancels it).
ALTER TABLE auth_requests ADD COLUMN binding_failures INTEGER NOT NULL DEFAULT 0;
