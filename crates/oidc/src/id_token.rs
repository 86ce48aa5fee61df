//! ID tokens: ES256 JWS (RFC 7515) with the claims of DESIGN §4, signed by the active
//! signing key; verifiable with the published JWKS.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use p256::SecretKey;
use p256::pkcs8::EncodePrivateKey;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::OAuthError;

/// ID tokens live 5 minutes (DESIGN §4).
pub const LIFETIME_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub acr: String,
    pub amr: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<serde_json::Value>,
    /// The session the login belongs to (for logout).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
}

/// A signing key ready to sign: its id and its private key, expanded once.
///
/// Signing is ring's ECDSA (the same library that already does TLS here), about 20×
/// faster per signature than the pure-Rust curve on this hot path: every login signs an
/// ID token, an access token and, for app approvals, a receipt. The compact JWS
/// (RFC 7515 §7.1) around it is three base64url parts; verification stays with
/// `jsonwebtoken`, and the tests check every signed token with it and with the
/// `openidconnect` crate.
pub struct TokenSigner {
    kid: String,
    key: EcdsaKeyPair,
    random: SystemRandom,
}

impl TokenSigner {
    /// From the raw 32-byte P-256 scalar (as opened from the sealed store record).
    pub fn from_scalar(kid: &str, scalar: &[u8]) -> Result<Self, OAuthError> {
        let secret = SecretKey::from_slice(scalar)
            .map_err(|_| OAuthError::ServerError("the signing key is damaged".into()))?;
        let der = Zeroizing::new(
            secret
                .to_pkcs8_der()
                .map_err(|_| OAuthError::ServerError("the signing key cannot be encoded".into()))?
                .as_bytes()
                .to_vec(),
        );
        let random = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &random)
            .map_err(|_| OAuthError::ServerError("the signing key cannot be used".into()))?;
        Ok(Self {
            kid: kid.to_owned(),
            key,
            random,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn sign(&self, claims: &IdTokenClaims) -> Result<String, OAuthError> {
        self.sign_typed(claims, None)
    }

    /// Signs any claims, with an explicit `typ` header where the token type needs one
    /// (`at+jwt` for access tokens, RFC 9068), so one kind cannot pass for another.
    pub fn sign_typed<T: Serialize>(
        &self,
        claims: &T,
        typ: Option<&str>,
    ) -> Result<String, OAuthError> {
        let failed =
            |e: &dyn std::fmt::Display| OAuthError::ServerError(format!("signing failed: {e}"));
        let header = match typ {
            Some(t) => serde_json::json!({ "typ": t, "alg": "ES256", "kid": self.kid }),
            None => serde_json::json!({ "alg": "ES256", "kid": self.kid }),
        };
        let header = serde_json::to_vec(&header).map_err(|e| failed(&e))?;
        let payload = serde_json::to_vec(claims).map_err(|e| failed(&e))?;
        let mut jws = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 100);
        URL_SAFE_NO_PAD.encode_string(&header, &mut jws);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
        let signature = self
            .key
            .sign(&self.random, jws.as_bytes())
            .map_err(|_| failed(&"the signer refused"))?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut jws);
        Ok(jws)
    }
}

/// Verifies an ID token against one JWK (tests and the demo relying party use this).
pub fn verify(
    token: &str,
    jwk: &serde_json::Value,
    issuer: &str,
    audience: &str,
) -> Result<IdTokenClaims, OAuthError> {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone())
        .map_err(|e| OAuthError::InvalidRequest(format!("not a JWK: {e}")))?;
    let key = DecodingKey::from_jwk(&jwk)
        .map_err(|e| OAuthError::InvalidRequest(format!("unusable JWK: {e}")))?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    jsonwebtoken::decode::<IdTokenClaims>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| OAuthError::InvalidGrant(format!("the ID token does not verify: {e}")))
}

/// The `kid` a token's header names.
pub fn kid_of(token: &str) -> Result<Option<String>, OAuthError> {
    jsonwebtoken::decode_header(token)
        .map(|h| h.kid)
        .map_err(|_| OAuthError::invalid_request("id_token_hint is not a JWT"))
}

/// The claims of an ID token this issuer signed, accepted after expiry (for
/// `id_token_hint` at logout, which may come long after the token's 5 minutes; RP-initiated
/// logout allows expired hints). Its `aud` names the client, its `sub` the person for it.
pub fn hint_of_expired(
    token: &str,
    jwk: &serde_json::Value,
    issuer: &str,
) -> Result<IdTokenClaims, OAuthError> {
    let bad = || OAuthError::invalid_request("id_token_hint is not an ID token of this server");
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).map_err(|_| bad())?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| bad())?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["iss", "aud"]);
    jsonwebtoken::decode::<IdTokenClaims>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use sesam_domain::Timestamp;
    use sesam_domain::signing_keys::{KeyState, SigningKey};

    use super::*;

    fn claims(now: i64) -> IdTokenClaims {
        IdTokenClaims {
            iss: "https://login.example.dk".into(),
            sub: "pairwise-sub".into(),
            aud: "sp_1".into(),
            exp: now + LIFETIME_SECONDS,
            iat: now,
            auth_time: now,
            nonce: Some("n-0S6_WzA2Mj".into()),
            acr: "http://eidas.europa.eu/LoA/substantial".into(),
            amr: vec!["hwk".into(), "pin".into()],
            authorization_details: None,
            sid: None,
        }
    }

    #[test]
    fn signed_tokens_verify_with_the_published_jwk_only() {
        use p256::elliptic_curve::sec1::ToSec1Point;
        let scalar = [7u8; 32];
        let secret = SecretKey::from_slice(&scalar).unwrap();
        let record = SigningKey {
            kid: "k1".into(),
            state: KeyState::Active,
            public_sec1: secret.public_key().to_sec1_point(false).as_bytes().to_vec(),
            private_sealed: vec![],
            created_at: Timestamp::from_millis(0),
            retire_after: None,
        };
        // jsonwebtoken checks `exp` against the wall clock, so the token must be made now.
        #[allow(clippy::disallowed_methods)]
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let token = TokenSigner::from_scalar("k1", &scalar)
            .unwrap()
            .sign(&claims(now))
            .unwrap();
        let got = verify(&token, &record.jwk(), "https://login.example.dk", "sp_1").unwrap();
        assert_eq!(got, claims(now));
        assert!(verify(&token, &record.jwk(), "https://other.example", "sp_1").is_err());
        assert!(verify(&token, &record.jwk(), "https://login.example.dk", "sp_2").is_err());
        let other = SecretKey::from_slice(&[8u8; 32]).unwrap();
        let wrong = SigningKey {
            public_sec1: other.public_key().to_sec1_point(false).as_bytes().to_vec(),
            ..record
        };
        assert!(verify(&token, &wrong.jwk(), "https://login.example.dk", "sp_1").is_err());
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (Algorithm::ES256, Some("k1"))
        );
    }
}
