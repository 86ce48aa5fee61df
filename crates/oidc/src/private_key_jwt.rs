//! `private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): the
//! client signs a short-lived JWT with a key from the JWKS it registered. Only asymmetric
//! algorithms are accepted, the audience must be this server, and each `jti` is used once
//! (the caller records it until `exp`).

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::OAuthError;
use crate::params::Params;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// An assertion may not be valid for longer than this (it is a one-time proof).
pub const MAX_LIFETIME_SECONDS: i64 = 600;
const ALGORITHMS: [Algorithm; 7] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::EdDSA,
];

/// A client assertion in a request, before it is checked.
pub struct PresentedAssertion<'a> {
    pub client_id: Option<&'a str>,
    pub assertion: &'a str,
}

/// Finds a client assertion in the form parameters, if the client sent one.
pub fn presented(params: &Params) -> Result<Option<PresentedAssertion<'_>>, OAuthError> {
    match (
        params.get("client_assertion_type"),
        params.get("client_assertion"),
    ) {
        (None, None) => Ok(None),
        (Some(ASSERTION_TYPE), Some(assertion)) => Ok(Some(PresentedAssertion {
            client_id: params.get("client_id"),
            assertion,
        })),
        (Some(ASSERTION_TYPE), None) => Err(OAuthError::invalid_request(
            "client_assertion is required with client_assertion_type",
        )),
        (Some(_), _) => Err(OAuthError::invalid_request(format!(
            "client_assertion_type must be {ASSERTION_TYPE}"
        ))),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "client_assertion_type is required with client_assertion",
        )),
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
}

/// What a valid assertion proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub client_id: String,
    pub jti: String,
    pub exp: i64,
}

/// The client id an assertion claims (its `iss`), read before the signature is checked so
/// the caller can find the client's keys. Nothing read here is trusted.
pub fn claimed_client(assertion: &str) -> Result<String, OAuthError> {
    let payload = assertion
        .split('.')
        .nth(1)
        .ok_or(OAuthError::InvalidClient)?;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| OAuthError::InvalidClient)?;
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    serde_json::from_slice::<Iss>(&bytes)
        .map(|i| i.iss)
        .map_err(|_| OAuthError::InvalidClient)
}

/// Verifies an assertion against the client's registered JWKS.
pub fn verify(
    assertion: &str,
    client_id: &str,
    jwks_json: &str,
    audiences: &[&str],
    now: i64,
) -> Result<VerifiedAssertion, OAuthError> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| OAuthError::InvalidClient)?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(OAuthError::InvalidClient);
    }
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(jwks_json).map_err(|_| OAuthError::InvalidClient)?;
    let candidates: Vec<&jsonwebtoken::jwk::Jwk> = match &header.kid {
        Some(kid) => set
            .keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid))
            .collect(),
        None => set.keys.iter().collect(),
    };
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[client_id]);
    validation.sub = Some(client_id.to_owned());
    validation.set_audience(audiences);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    // Expiry is checked below against the caller's clock, not the system's.
    validation.validate_exp = false;
    for jwk in candidates {
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        if let Ok(data) = jsonwebtoken::decode::<Claims>(assertion, &key, &validation) {
            let c = data.claims;
            if c.iss != client_id || c.sub != client_id || c.jti.is_empty() || c.jti.len() > 256 {
                return Err(OAuthError::InvalidClient);
            }
            // Saturating: `exp` is the client's number and may be anything.
            if c.exp.saturating_add(5) <= now
                || c.exp.saturating_sub(now) > MAX_LIFETIME_SECONDS
                || c.iat.is_some_and(|iat| iat > now + 60)
            {
                return Err(OAuthError::InvalidClient);
            }
            return Ok(VerifiedAssertion {
                client_id: client_id.to_owned(),
                jti: c.jti,
                exp: c.exp,
            });
        }
    }
    Err(OAuthError::InvalidClient)
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use p256::SecretKey;
    use p256::pkcs8::EncodePrivateKey;
    use serde_json::json;

    use super::*;

    fn key() -> (EncodingKey, String) {
        use base64::Engine;
        use p256::elliptic_curve::sec1::ToSec1Point;
        let secret = SecretKey::from_slice(&[5u8; 32]).unwrap();
        let point = secret.public_key().to_sec1_point(false);
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "sp-key", "x": b64(&point.as_bytes()[1..33]), "y": b64(&point.as_bytes()[33..65])}]});
        (
            EncodingKey::from_ec_der(secret.to_pkcs8_der().unwrap().as_bytes()),
            jwks.to_string(),
        )
    }

    fn assertion(claims: serde_json::Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some("sp-key".into());
        jsonwebtoken::encode(&h, &claims, &key().0).unwrap()
    }

    const NOW: i64 = 1_800_000_000;
    const AUD: &str = "https://login.example/token";

    #[test]
    fn a_valid_assertion() {
        let a = assertion(
            json!({"iss": "sp_1", "sub": "sp_1", "aud": AUD, "exp": NOW + 60, "iat": NOW, "jti": "j1"}),
        );
        assert_eq!(claimed_client(&a).unwrap(), "sp_1");
        let v = verify(&a, "sp_1", &key().1, &[AUD, "https://login.example"], NOW).unwrap();
        assert_eq!(v.jti, "j1");
    }

    #[test]
    fn bad_assertions_are_refused() {
        let jwks = key().1;
        for claims in [
            json!({"iss": "sp_2", "sub": "sp_2", "aud": AUD, "exp": NOW + 60, "jti": "j"}),
            json!({"iss": "sp_1", "sub": "sp_1", "aud": "https://other.example", "exp": NOW + 60, "jti": "j"}),
            json!({"iss": "sp_1", "sub": "sp_1", "aud": AUD, "exp": NOW - 60, "jti": "j"}),
            json!({"iss": "sp_1", "sub": "sp_1", "aud": AUD, "exp": NOW + 3600, "jti": "j"}),
            json!({"iss": "sp_1", "sub": "sp_1", "aud": AUD, "exp": NOW + 60}),
            json!({"iss": "sp_1", "sub": "sp_1", "aud": AUD, "exp": i64::MAX, "jti": "j"}),
            json!({"iss": "sp_1", "sub": "sp_1", "aud": AUD, "exp": i64::MIN, "jti": "j"}),
        ] {
            let a = assertion(claims.clone());
            assert!(verify(&a, "sp_1", &jwks, &[AUD], NOW).is_err(), "{claims}");
        }
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"iss": "sp_1", "sub": "sp_1", "aud": AUD, "exp": NOW + 60, "jti": "j"}),
            &EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert!(verify(&hs, "sp_1", &jwks, &[AUD], NOW).is_err());
        assert!(verify("not.a.jwt", "sp_1", &jwks, &[AUD], NOW).is_err());
    }

    #[test]
    fn presence_rules() {
        let p = Params::from_urlencoded("client_assertion=x").unwrap();
        assert!(presented(&p).is_err());
        let p = Params::from_urlencoded("client_assertion_type=other&client_assertion=x").unwrap();
        assert!(presented(&p).is_err());
        let p = Params::from_urlencoded("grant_type=x").unwrap();
        assert!(presented(&p).unwrap().is_none());
    }
}
