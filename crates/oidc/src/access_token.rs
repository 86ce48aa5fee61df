//! Access tokens for the userinfo endpoint: ES256 JWTs of type `at+jwt` (RFC 9068) that
//! name the grant they came from. They are checked against the published keys *and* the
//! grant, so revoking a grant (a replayed code or refresh token) stops them at once.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OAuthError;
use crate::id_token::TokenSigner;

pub const TYP: &str = "at+jwt";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    /// The audience is the issuer's userinfo endpoint: sesam is the only resource server.
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// The grant this token was issued from.
    pub grant: Uuid,
}

pub fn sign(signer: &TokenSigner, claims: &AccessTokenClaims) -> Result<String, OAuthError> {
    signer.sign_typed(claims, Some(TYP))
}

/// Verifies an access token against the published keys (a JWKS `keys` array).
pub fn verify(
    token: &str,
    keys: &[serde_json::Value],
    issuer: &str,
    audience: &str,
    now: i64,
) -> Result<AccessTokenClaims, OAuthError> {
    let invalid = |why: &str| OAuthError::InvalidToken(why.into());
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| invalid("the access token is malformed"))?;
    if header.alg != Algorithm::ES256 || header.typ.as_deref() != Some(TYP) {
        return Err(invalid("not an access token of this server"));
    }
    let kid = header
        .kid
        .ok_or_else(|| invalid("the access token names no key"))?;
    let jwk = keys
        .iter()
        .find(|k| k.get("kid").and_then(|v| v.as_str()) == Some(kid.as_str()))
        .ok_or_else(|| {
            invalid("the access token was signed by a key that is no longer published")
        })?;
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(jwk.clone()).map_err(|_| invalid("unusable key"))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| invalid("unusable key"))?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    // Expiry is checked against the caller's clock, not the system's.
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<AccessTokenClaims>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|_| invalid("the access token does not verify"))?;
    if now >= claims.exp {
        return Err(invalid("the access token has expired"));
    }
    Ok(claims)
}
