//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz, nightly) for the parsers of this
//! crate that read attacker input. They live here so that the server crate's
//! `tests/fuzz_corpus.rs` replays every committed corpus entry and minimised crash through
//! exactly the code the fuzzer ran, on stable, in every CI run. Each function takes arbitrary bytes and must never
//! panic; it asserts what the parser promises on the inputs it accepts.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::SecretKey;
use p256::elliptic_curve::sec1::ToSec1Point;

use crate::access_token;
use crate::params::{MAX_PARAMS, MAX_VALUE_BYTES, Params};
use crate::private_key_jwt;

/// A fuzz target: the name of its directory under `fuzz/corpus`, and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every fuzz target of this crate.
pub const TARGETS: &[Target] = &[
    ("params", params),
    ("client_assertion", client_assertion),
    ("access_token", access_token),
];

/// `Params::from_urlencoded` (authorize query, PAR/token/CIBA bodies, login forms): what
/// is accepted respects the limits, and no value is empty.
pub fn params(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Params::from_urlencoded(s) {
        let pairs = p.pairs();
        assert!(pairs.len() <= MAX_PARAMS);
        for (k, v) in pairs {
            assert!(k.len() <= 64 && !v.is_empty() && v.len() <= MAX_VALUE_BYTES);
            assert_eq!(p.get(k), Some(v));
        }
    }
}

/// The client id and audience the fuzzed assertions are checked against.
pub const ASSERTION_CLIENT: &str = "sp_1";
pub const ASSERTION_AUDIENCE: &str = "https://login.example/token";
/// A time inside the seed assertion's validity.
pub const ASSERTION_NOW: i64 = 1_800_000_000;

/// The private key of the fuzzed client (P-256 scalar of 32 bytes `0x05`); the seed corpus
/// holds assertions signed with it, so the fuzzer starts past the signature check.
pub fn assertion_key() -> SecretKey {
    SecretKey::from_slice(&[5u8; 32]).unwrap_or_else(|_| unreachable!("a valid scalar"))
}

/// The JWKS the fuzzed client registered: its EC key under `kid` `sp-key`.
pub fn assertion_jwks() -> &'static str {
    static JWKS: OnceLock<String> = OnceLock::new();
    JWKS.get_or_init(|| {
        let point = assertion_key().public_key().to_sec1_point(false);
        let b = point.as_bytes();
        serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "sp-key",
            "x": URL_SAFE_NO_PAD.encode(&b[1..33]), "y": URL_SAFE_NO_PAD.encode(&b[33..65]),
        }]})
        .to_string()
    })
}

/// `private_key_jwt`: the claimed client read before the signature, then the full check.
pub fn client_assertion(data: &[u8]) {
    let Ok(assertion) = std::str::from_utf8(data) else {
        return;
    };
    let _ = private_key_jwt::claimed_client(assertion);
    if let Ok(v) = private_key_jwt::verify(
        assertion,
        ASSERTION_CLIENT,
        assertion_jwks(),
        &[ASSERTION_AUDIENCE],
        ASSERTION_NOW,
    ) {
        assert_eq!(v.client_id, ASSERTION_CLIENT);
        assert!(!v.jti.is_empty() && v.jti.len() <= 256);
        assert!(
            v.exp > ASSERTION_NOW - 5
                && v.exp - ASSERTION_NOW <= private_key_jwt::MAX_LIFETIME_SECONDS
        );
    }
}

/// The issuer, audience, key id and time the fuzzed access tokens are checked against.
pub const ACCESS_ISSUER: &str = "https://login.example";
pub const ACCESS_AUDIENCE: &str = "https://login.example/userinfo";
pub const ACCESS_KID: &str = "at-key";
/// A time inside the seed tokens' validity.
pub const ACCESS_NOW: i64 = 1_800_000_000;

/// The public key (SEC1) the fuzzed access tokens are checked with: the P-256 scalar of
/// 32 bytes `0x06`; the seed corpus holds tokens signed with it, so the fuzzer starts past
/// the signature check.
pub fn access_token_key() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| {
        SecretKey::from_slice(&[6u8; 32])
            .unwrap_or_else(|_| unreachable!("a valid scalar"))
            .public_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec()
    })
}

/// `access_token::verify` (userinfo's bearer token): an accepted token is for this
/// issuer and audience and not expired.
pub fn access_token(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let keys = [access_token::PublishedKey {
        kid: ACCESS_KID,
        public_sec1: access_token_key(),
    }];
    if let Ok(c) = access_token::verify(token, &keys, ACCESS_ISSUER, ACCESS_AUDIENCE, ACCESS_NOW) {
        assert_eq!(c.iss, ACCESS_ISSUER);
        assert_eq!(c.aud, ACCESS_AUDIENCE);
        assert!(c.exp > ACCESS_NOW);
    }
}
