-- Grants and refresh tokens are swept once no token can use them (every 30 s, in
-- batches): these indexes let the sweep find them without reading every grant ever issued.
CREATE INDEX oidc_grants_code_expiry ON oidc_grants (code_expires_at);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
