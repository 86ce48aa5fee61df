//! Token-signing keys.

use super::db;
use super::db::RowExt as _;
use async_trait::async_trait;
use sesam_domain::signing_keys::{KeyState, SigningKey};
use sesam_domain::{AuditDraft, Timestamp};

use super::store::SqlStore;
use super::{audit, dialect, signals};
use crate::{Signal, SigningKeyStore, StoreError};

#[async_trait]
impl SigningKeyStore for SqlStore {
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        db::query("SELECT kid, state, public_sec1, private_sealed, created_at, retire_after FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.read_pool)
            .await?
            .iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                Ok(SigningKey {
                    kid: r.try_get("kid")?,
                    state: KeyState::parse(&state).ok_or_else(|| StoreError::InvalidData(format!("key state '{state}'")))?,
                    public_sec1: r.try_get("public_sec1")?,
                    private_sealed: r.try_get("private_sealed")?,
                    created_at: Timestamp::from_millis(r.try_get("created_at")?),
                    retire_after: r.try_get::<Option<i64>, _>("retire_after")?.map(Timestamp::from_millis),
                })
            })
            .collect()
    }

    async fn replace_signing_keys(
        &self,
        keys: &[SigningKey],
        at: Timestamp,
        audit_draft: &AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        db::query("DELETE FROM signing_keys")
            .execute(&mut *tx)
            .await?;
        for k in keys {
            db::query(
                "INSERT INTO signing_keys (kid, state, public_sec1, private_sealed, created_at, retire_after) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&k.kid)
            .bind(k.state.as_str())
            .bind(&k.public_sec1)
            .bind(&k.private_sealed)
            .bind(k.created_at.millis())
            .bind(k.retire_after.map(Timestamp::millis))
            .execute(&mut *tx)
            .await?;
        }
        audit::append(&mut tx, at, audit_draft).await?;
        signals::publish(&mut tx, Signal::SigningKeysChanged).await?;
        tx.commit().await?;
        Ok(())
    }
}
