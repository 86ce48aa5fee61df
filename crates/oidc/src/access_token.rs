//! Access tokens for the userinfo endpoint: ES256 JWTs of type `at+jwt` (RFC 9068) that
//! name the grant they came from. They are checked against the published keys *and* the
//! grant, so revoking a grant (a replayed code or refresh token) stops them at once.
//!
//! Verification is on every userinfo call, so it reads the one shape this server issues
//! and nothing else, without a general JOSE library: exactly three base64url parts
//! (no padding, canonical), a header of exactly `alg` `ES256`, `typ` `at+jwt` and a `kid`
//! of a published key, a 64-byte `r‖s` signature checked with ring before the payload is
//! even decoded, then issuer, audience and expiry.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OAuthError;
use crate::id_token::TokenSigner;

pub const TYP: &str = "at+jwt";

/// Longer tokens are refused before any work: ours are well under 1 KiB.
pub const MAX_TOKEN_BYTES: usize = 4096;

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

/// The header this server writes on access tokens, and the only one it accepts: an
/// unknown member (`crit`, `jku`, `x5u`, …) or a repeated one is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header<'a> {
    /// Absent on ID tokens, which are thereby refused as "not an access token".
    #[serde(borrow, default)]
    typ: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    alg: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    kid: std::borrow::Cow<'a, str>,
}

/// A published token-signing key: its id and its public point (SEC1 uncompressed).
#[derive(Debug, Clone, Copy)]
pub struct PublishedKey<'a> {
    pub kid: &'a str,
    pub public_sec1: &'a [u8],
}

pub fn sign(signer: &TokenSigner, claims: &AccessTokenClaims) -> Result<String, OAuthError> {
    signer.sign_typed(claims, Some(TYP))
}

fn invalid(why: &str) -> OAuthError {
    OAuthError::InvalidToken(why.into())
}

/// One base64url part, strictly: no padding, no other alphabet, no non-zero trailing bits.
fn part(s: &str, max: usize) -> Result<Vec<u8>, OAuthError> {
    if s.is_empty() || s.len() > max {
        return Err(invalid("the access token is malformed"));
    }
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| invalid("the access token is malformed"))
}

/// Verifies an access token against the published keys.
pub fn verify(
    token: &str,
    keys: &[PublishedKey<'_>],
    issuer: &str,
    audience: &str,
    now: i64,
) -> Result<AccessTokenClaims, OAuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(invalid("the access token is malformed"));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("the access token is malformed"));
    };
    let header_json = part(header_b64, 512)?;
    let header: Header<'_> = serde_json::from_slice(&header_json)
        .map_err(|_| invalid("the access token is malformed"))?;
    if header.alg != "ES256" || header.typ.as_deref() != Some(TYP) {
        return Err(invalid("not an access token of this server"));
    }
    let key = keys.iter().find(|k| k.kid == header.kid).ok_or_else(|| {
        invalid("the access token was signed by a key that is no longer published")
    })?;
    let signature = part(signature_b64, 86)?;
    // The signed bytes are the first two parts exactly as sent (RFC 7515 §5.2).
    let signed = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_sec1)
        .verify(signed, &signature)
        .map_err(|_| invalid("the access token does not verify"))?;
    let payload = part(payload_b64, MAX_TOKEN_BYTES)?;
    let claims: AccessTokenClaims = serde_json::from_slice(&payload)
        .map_err(|_| invalid("the access token does not verify"))?;
    if claims.iss != issuer || claims.aud != audience {
        return Err(invalid("the access token does not verify"));
    }
    if now >= claims.exp {
        return Err(invalid("the access token has expired"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use p256::SecretKey;
    use p256::elliptic_curve::sec1::ToSec1Point;

    use super::*;

    const ISS: &str = "https://login.example.dk";
    const AUD: &str = "https://login.example.dk/userinfo";
    const NOW: i64 = 1_767_225_600;
    const KID: &str = "2026-01-01-0a0b0c0d";

    fn public(scalar: u8) -> Vec<u8> {
        SecretKey::from_slice(&[scalar; 32])
            .unwrap()
            .public_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec()
    }

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            iss: ISS.into(),
            sub: "pairwise-sub".into(),
            aud: AUD.into(),
            client_id: "sp_1".into(),
            scope: "openid profile".into(),
            exp: NOW + 300,
            iat: NOW,
            jti: "j1".into(),
            grant: Uuid::from_u128(7),
        }
    }

    fn token_with(scalar: u8, kid: &str, claims: &AccessTokenClaims) -> String {
        sign(
            &TokenSigner::from_scalar(kid, &[scalar; 32]).unwrap(),
            claims,
        )
        .unwrap()
    }

    fn token() -> String {
        token_with(9, KID, &claims())
    }

    fn check(token: &str) -> Result<AccessTokenClaims, OAuthError> {
        let k9 = public(9);
        let k8 = public(8);
        let keys = [
            PublishedKey {
                kid: "next",
                public_sec1: &k8,
            },
            PublishedKey {
                kid: KID,
                public_sec1: &k9,
            },
        ];
        verify(token, &keys, ISS, AUD, NOW)
    }

    fn refused(token: &str) -> String {
        match check(token) {
            Err(OAuthError::InvalidToken(why)) => why,
            other => panic!("{token:?} was not refused as invalid_token: {other:?}"),
        }
    }

    /// Header and payload as written, signed by key 9 (like a token of ours in form, but
    /// with whatever header or payload a test needs).
    fn signed_raw(header: &[u8], payload: &[u8]) -> String {
        use ring::rand::SystemRandom;
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &[9; 32],
            &public(9),
            &SystemRandom::new(),
        )
        .unwrap();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn our_header() -> String {
        format!(r#"{{"typ":"at+jwt","alg":"ES256","kid":"{KID}"}}"#)
    }

    fn our_payload() -> Vec<u8> {
        serde_json::to_vec(&claims()).unwrap()
    }

    #[test]
    fn a_token_of_ours_verifies() {
        assert_eq!(check(&token()).unwrap(), claims());
        // The same shape signed as raw parts verifies too (the helper below is sound).
        assert!(check(&signed_raw(our_header().as_bytes(), &our_payload())).is_ok());
        // Under the next key, published before it signs.
        assert!(check(&token_with(8, "next", &claims())).is_ok());
    }

    #[test]
    fn expiry_issuer_and_audience_are_checked() {
        let expired = AccessTokenClaims {
            exp: NOW,
            ..claims()
        };
        assert_eq!(
            refused(&token_with(9, KID, &expired)),
            "the access token has expired"
        );
        for wrong in [
            AccessTokenClaims {
                iss: "https://evil.example".into(),
                ..claims()
            },
            AccessTokenClaims {
                aud: "sp_1".into(),
                ..claims()
            },
        ] {
            assert_eq!(
                refused(&token_with(9, KID, &wrong)),
                "the access token does not verify"
            );
        }
    }

    #[test]
    fn wrong_or_unpublished_keys_are_refused() {
        // Signed by another key under a published kid.
        assert_eq!(
            refused(&token_with(7, KID, &claims())),
            "the access token does not verify"
        );
        // Signed by the next key but naming the signing key, and the other way round.
        assert_eq!(
            refused(&token_with(8, KID, &claims())),
            "the access token does not verify"
        );
        assert_eq!(
            refused(&token_with(9, "next", &claims())),
            "the access token does not verify"
        );
        assert_eq!(
            refused(&token_with(9, "retired", &claims())),
            "the access token was signed by a key that is no longer published"
        );
        assert!(verify(&token(), &[], ISS, AUD, NOW).is_err());
    }

    #[test]
    fn tampering_is_refused() {
        let t = token();
        let (input, sig) = t.rsplit_once('.').unwrap();
        let (header, payload) = input.split_once('.').unwrap();
        // Another payload under the original signature.
        let other = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&AccessTokenClaims {
                scope: "openid profile national_id".into(),
                ..claims()
            })
            .unwrap(),
        );
        assert_eq!(
            refused(&format!("{header}.{other}.{sig}")),
            "the access token does not verify"
        );
        // Every single changed character of the payload or the signature.
        for at in (header.len() + 1..t.len()).filter(|&i| t.as_bytes()[i] != b'.') {
            let mut b = t.clone().into_bytes();
            b[at] = if b[at] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(b).unwrap();
            assert!(check(&changed).is_err(), "changed at {at}: {changed}");
        }
        // The same header members in another order are other signed bytes.
        assert_eq!(
            URL_SAFE_NO_PAD.decode(header).unwrap(),
            format!(r#"{{"alg":"ES256","kid":"{KID}","typ":"at+jwt"}}"#).as_bytes()
        );
        let reordered = URL_SAFE_NO_PAD.encode(our_header());
        assert_eq!(
            refused(&format!("{reordered}.{payload}.{sig}")),
            "the access token does not verify"
        );
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let t = token();
        let (input, sig) = t.rsplit_once('.').unwrap();
        let (header, payload) = input.split_once('.').unwrap();
        let mut padded_sig = sig.to_owned();
        padded_sig.push_str("==");
        let standard_alphabet = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(URL_SAFE_NO_PAD.decode(sig).unwrap());
        let der_like = URL_SAFE_NO_PAD.encode([0x30u8; 70]);
        let short_sig = URL_SAFE_NO_PAD.encode([1u8; 63]);
        // A signature part whose last character carries non-zero unused bits.
        let mut loose = sig.to_owned();
        loose.pop();
        loose.push('B');
        let cases: Vec<String> = vec![
            String::new(),
            ".".into(),
            "..".into(),
            "...".into(),
            input.to_owned(),
            format!("{t}."),
            format!("{t}.{sig}"),
            format!(".{payload}.{sig}"),
            format!("{header}..{sig}"),
            format!("{input}."),
            format!("{header}.{payload}.{padded_sig}"),
            format!("{header}=.{payload}.{sig}"),
            format!("{header}.{payload}.{standard_alphabet}"),
            format!("{header}.{payload}.{der_like}"),
            format!("{header}.{payload}.{short_sig}"),
            format!("{header}.{payload}.{loose}"),
            format!(" {t}"),
            format!("{t}\n"),
            format!("{header}.{payload}.{sig}é"),
            "not a token".into(),
            "a.b.c".into(),
            format!("{header}.{}.{sig}", "A".repeat(MAX_TOKEN_BYTES)),
        ];
        for case in &cases {
            assert!(check(case).is_err(), "{case:?}");
        }
        // Header and payload that are not what we issue, even when correctly signed.
        let bad_headers = [
            "not json".to_owned(),
            "[]".into(),
            "{}".into(),
            r#"{"typ":"at+jwt","alg":"ES256"}"#.into(),
            format!(r#"{{"typ":"at+jwt","alg":"none","kid":"{KID}"}}"#),
            format!(r#"{{"typ":"at+jwt","alg":"HS256","kid":"{KID}"}}"#),
            format!(r#"{{"typ":"at+jwt","alg":"ES384","kid":"{KID}"}}"#),
            format!(r#"{{"typ":"JWT","alg":"ES256","kid":"{KID}"}}"#),
            format!(r#"{{"alg":"ES256","kid":"{KID}"}}"#),
            format!(r#"{{"typ":"at+jwt","alg":"ES256","kid":"{KID}","crit":["exp"]}}"#),
            format!(r#"{{"typ":"at+jwt","alg":"ES256","kid":"{KID}","jku":"https://x"}}"#),
            format!(r#"{{"typ":"at+jwt","alg":"ES256","kid":"{KID}","alg":"none"}}"#),
            r#"{"typ":"at+jwt","alg":"ES256","kid":7}"#.to_owned(),
        ];
        for h in &bad_headers {
            assert!(
                check(&signed_raw(h.as_bytes(), &our_payload())).is_err(),
                "{h}"
            );
        }
        let bad_payloads = [
            b"not json".to_vec(),
            b"{}".to_vec(),
            br#"{"iss":"https://login.example.dk"}"#.to_vec(),
            serde_json::to_vec(&serde_json::json!({
                "iss": ISS, "sub": "s", "aud": [AUD], "client_id": "sp_1", "scope": "openid",
                "exp": NOW + 300, "iat": NOW, "jti": "j", "grant": Uuid::from_u128(7),
            }))
            .unwrap(),
            serde_json::to_vec(&serde_json::json!({
                "iss": ISS, "sub": "s", "aud": AUD, "client_id": "sp_1", "scope": "openid",
                "exp": "later", "iat": NOW, "jti": "j", "grant": Uuid::from_u128(7),
            }))
            .unwrap(),
        ];
        for p in &bad_payloads {
            assert_eq!(
                refused(&signed_raw(our_header().as_bytes(), p)),
                "the access token does not verify",
                "{}",
                String::from_utf8_lossy(p)
            );
        }
        // An ID token (no `typ`) of the same key is not an access token.
        let id_token = TokenSigner::from_scalar(KID, &[9; 32])
            .unwrap()
            .sign_typed(&claims(), None)
            .unwrap();
        assert_eq!(refused(&id_token), "not an access token of this server");
    }
}
