//! The server's token-signing keys (ES256) and their rotation.
//!
//! A key is published in the JWKS before it signs anything (`next`), then signs
//! (`active`), then stays published after it stops signing (`retired`) until every token
//! it signed has expired. `sesam admin keys rotate` moves each key one step along.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// How long a retired key stays published: longer than any token it signed lives.
pub const RETIRED_PUBLISHED_SECONDS: i64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Active,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "next" => Some(Self::Next),
            "active" => Some(Self::Active),
            "retired" => Some(Self::Retired),
            _ => None,
        }
    }
}

/// A signing key as stored: the private key sealed under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub state: KeyState,
    /// The public point (SEC1 uncompressed, 65 bytes).
    pub public_sec1: Vec<u8>,
    pub private_sealed: Vec<u8>,
    pub created_at: Timestamp,
    pub retire_after: Option<Timestamp>,
}

impl SigningKey {
    /// Whether the key is in the published JWKS at `now`.
    pub fn published(&self, now: Timestamp) -> bool {
        match self.state {
            KeyState::Next | KeyState::Active => true,
            KeyState::Retired => self.retire_after.is_some_and(|t| now < t),
        }
    }

    /// The public JWK (RFC 7517/7518) of the key.
    pub fn jwk(&self) -> serde_json::Value {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let (x, y) = if self.public_sec1.len() == 65 {
            (&self.public_sec1[1..33], &self.public_sec1[33..65])
        } else {
            (&[][..], &[][..])
        };
        serde_json::json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
            "kid": self.kid, "x": b64(x), "y": b64(y),
        })
    }
}

/// The keys of a new installation: one that signs now, one published for the next rotation.
pub fn initial(mut active: SigningKey, mut next: SigningKey) -> Vec<SigningKey> {
    active.state = KeyState::Active;
    next.state = KeyState::Next;
    vec![active, next]
}

/// One rotation: the active key retires (published until `now` + the retention), the next
/// key becomes active, `new_next` is published to sign after the following rotation, and
/// retired keys past their time drop out.
pub fn rotate(keys: &[SigningKey], new_next: SigningKey, now: Timestamp) -> Vec<SigningKey> {
    let mut out: Vec<SigningKey> = keys
        .iter()
        .filter(|k| k.published(now))
        .cloned()
        .map(|mut k| {
            match k.state {
                KeyState::Active => {
                    k.state = KeyState::Retired;
                    k.retire_after = Some(now.plus_seconds(RETIRED_PUBLISHED_SECONDS));
                }
                KeyState::Next => k.state = KeyState::Active,
                KeyState::Retired => {}
            }
            k
        })
        .collect();
    if !out.iter().any(|k| k.state == KeyState::Active) {
        // No next key existed (first start): the new key signs at once.
        let mut first = new_next;
        first.state = KeyState::Active;
        out.push(first);
    } else {
        out.push(new_next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, state: KeyState) -> SigningKey {
        SigningKey {
            kid: kid.into(),
            state,
            public_sec1: vec![4; 65],
            private_sealed: vec![],
            created_at: Timestamp::from_millis(0),
            retire_after: None,
        }
    }

    #[test]
    fn rotation_publishes_before_signing_and_keeps_retired_keys_for_a_day() {
        let t0 = Timestamp::from_millis(1_000_000);
        let second = initial(key("a", KeyState::Next), key("b", KeyState::Active));
        assert_eq!(
            second
                .iter()
                .map(|k| (k.kid.as_str(), k.state))
                .collect::<Vec<_>>(),
            [("a", KeyState::Active), ("b", KeyState::Next)]
        );
        let third = rotate(&second, key("c", KeyState::Next), t0.plus_seconds(60));
        let states: Vec<_> = third.iter().map(|k| (k.kid.as_str(), k.state)).collect();
        assert_eq!(
            states,
            [
                ("a", KeyState::Retired),
                ("b", KeyState::Active),
                ("c", KeyState::Next)
            ]
        );
        assert!(third.iter().all(|k| k.published(t0.plus_seconds(120))));
        let later = t0.plus_seconds(60 + RETIRED_PUBLISHED_SECONDS);
        let fourth = rotate(&third, key("d", KeyState::Next), later);
        assert_eq!(
            fourth.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
            ["b", "c", "d"]
        );
        assert_eq!(key("a", KeyState::Active).jwk()["kty"], "EC");
    }
}
