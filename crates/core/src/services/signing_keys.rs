//! The token-signing keys: created on first start, rotated by the operator, published as
//! a JWKS before they sign and after they stop.

use p256::SecretKey;
use p256::elliptic_curve::sec1::ToSec1Point;
use serde_json::{Value, json};
use sesam_domain::signing_keys::{self, SigningKey};
use sesam_domain::{AuditDraft, random::random_bytes};
use zeroize::Zeroize;

use crate::context::Sesam;
use crate::error::AppError;

const SEAL_PURPOSE: &str = "token-signing-key";

impl Sesam {
    fn new_signing_key(&self) -> SigningKey {
        let now = self.clock.now();
        let secret = loop {
            let mut m: [u8; 32] = random_bytes(&*self.random);
            if let Ok(k) = SecretKey::from_slice(&m) {
                m.zeroize();
                break k;
            }
        };
        let mut raw = secret.to_bytes().to_vec();
        let sealed = self.keys.seal_data(SEAL_PURPOSE, &raw, &*self.random);
        raw.zeroize();
        let date = now.to_rfc3339().chars().take(10).collect::<String>();
        SigningKey {
            kid: format!("{date}-{}", hex_lower(&random_bytes::<4>(&*self.random))),
            state: signing_keys::KeyState::Next,
            public_sec1: secret.public_key().to_sec1_point(false).as_bytes().to_vec(),
            private_sealed: sealed,
            created_at: now,
            retire_after: None,
        }
    }

    /// Creates the first two keys (one signing, one published for the next rotation) when
    /// there are none: at the first start.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn ensure_signing_keys(&self) -> Result<(), AppError> {
        if !self.store.signing_keys().await?.is_empty() {
            return Ok(());
        }
        let keys = signing_keys::initial(self.new_signing_key(), self.new_signing_key());
        let audit = AuditDraft::new("system", "keys.created")
            .details(json!({ "kids": keys.iter().map(|k| &k.kid).collect::<Vec<_>>() }));
        self.store
            .replace_signing_keys(&keys, self.clock.now(), &audit)
            .await?;
        self.forget_signing_keys();
        Ok(())
    }

    /// One rotation step: the published next key starts signing, the signing key retires
    /// (published for another day), and a new next key is published.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn rotate_signing_keys(
        &self,
        actor: &super::Actor,
    ) -> Result<Vec<SigningKey>, AppError> {
        self.ensure_signing_keys().await?;
        let now = self.clock.now();
        let current = self.store.signing_keys().await?;
        let keys = signing_keys::rotate(&current, self.new_signing_key(), now);
        let audit = AuditDraft::new(actor.audit_name(), "keys.rotated").details(json!({
            "keys": keys.iter().map(|k| json!({ "kid": k.kid, "state": k.state.as_str() })).collect::<Vec<_>>(),
        }));
        self.store.replace_signing_keys(&keys, now, &audit).await?;
        self.forget_signing_keys();
        Ok(keys)
    }

    /// Every stored token-signing key (created at the first call), for operators.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn signing_keys(&self) -> Result<Vec<SigningKey>, AppError> {
        self.ensure_signing_keys().await?;
        Ok(self.store.signing_keys().await?)
    }

    /// The published JWKS, as stored now (what `/jwks.json` serves: a rotation by another
    /// process is published at once).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn jwks(&self) -> Result<Value, AppError> {
        Ok(self.jwks_of(&self.store.signing_keys().await?))
    }

    /// The published JWKS from the read cache, for verifying this server's own tokens on
    /// the hot path (a key is published a day before it signs, so a cache a few seconds
    /// old always has the signing key).
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn cached_jwks(&self) -> Result<Value, AppError> {
        Ok(self.jwks_of(&self.current_signing_keys().await?))
    }

    fn jwks_of(&self, keys: &[SigningKey]) -> Value {
        let now = self.clock.now();
        let keys: Vec<Value> = keys
            .iter()
            .filter(|k| k.published(now))
            .map(SigningKey::jwk)
            .collect();
        json!({ "keys": keys })
    }
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
