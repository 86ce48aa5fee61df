//! The self-service site's sessions.

use super::db;
use super::db::RowExt as _;
use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::authorization::Authentication;
use sesam_domain::self_service::SelfServiceSession;

use super::dialect;
use super::effects::write_effects;
use super::rows::hash32;
use super::store::SqlStore;
use crate::{Effects, SelfServiceStore, StoreError};

#[async_trait]
impl SelfServiceStore for SqlStore {
    async fn create_self_service_session(
        &self,
        s: &SelfServiceSession,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let authentication = serde_json::to_string(&s.authentication)
            .map_err(|e| StoreError::InvalidData(e.to_string()))?;
        let mut tx = dialect::begin_write(&self.pool).await?;
        db::query(
            "INSERT INTO self_service_sessions (id_hash, identity_id, authentication, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.id_hash[..])
        .bind(s.authentication.identity_id)
        .bind(authentication)
        .bind(s.created_at.millis())
        .bind(s.last_seen_at.millis())
        .bind(s.expires_at.millis())
        .execute(&mut *tx)
        .await?;
        write_effects(&mut tx, s.created_at, &effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn self_service_session(
        &self,
        id_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<SelfServiceSession>, StoreError> {
        let row = db::query(
            "SELECT id_hash, authentication, created_at, last_seen_at, expires_at \
             FROM self_service_sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(&id_hash[..])
        .bind(now.millis())
        .fetch_optional(&self.read_pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let text: String = row.try_get("authentication")?;
        let authentication: Authentication = serde_json::from_str(&text)
            .map_err(|e| StoreError::InvalidData(format!("authentication: {e}")))?;
        Ok(Some(SelfServiceSession {
            id_hash: hash32(row.try_get("id_hash")?, "id_hash")?,
            authentication,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            last_seen_at: Timestamp::from_millis(row.try_get("last_seen_at")?),
            expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        }))
    }

    async fn touch_self_service_session(
        &self,
        id_hash: &[u8; 32],
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let done =
            db::query("UPDATE self_service_sessions SET last_seen_at = $1 WHERE id_hash = $2")
                .bind(at.millis())
                .bind(&id_hash[..])
                .execute(dialect::one_statement_unit(&self.pool))
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn end_self_service_session(
        &self,
        id_hash: &[u8; 32],
        at: Timestamp,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let done = db::query("DELETE FROM self_service_sessions WHERE id_hash = $1")
            .bind(&id_hash[..])
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        write_effects(&mut tx, at, &effects).await?;
        tx.commit().await?;
        Ok(true)
    }
}
