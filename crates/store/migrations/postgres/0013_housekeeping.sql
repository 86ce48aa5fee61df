-- The sweep (every 30 s, in batches) removes grants and refresh tokens once no token can
-- use them, and finished messages past their retention: these indexes let it find them
-- without reading every row ever written.
CREATE INDEX oidc_grants_code_expiry ON oidc_grants (code_expires_at);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
CREATE INDEX outbox_created ON outbox (created_at);
CREATE INDEX delivery_attempts_outbox ON delivery_attempts (outbox_id);
