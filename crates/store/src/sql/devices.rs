//! Devices and the nonces of their signed requests.

use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::device::{Device, DeviceName};
use uuid::Uuid;

use super::db;
use super::dialect;
use super::effects::write_effects;
use super::rows::{self, device_columns};
use super::store::SqlStore;
use crate::{DeviceStore, Effects, StoreError};

#[async_trait]
impl DeviceStore for SqlStore {
    async fn device(&self, id: Uuid) -> Result<Option<Device>, StoreError> {
        db::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM devices WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.read_pool)
        .await?
        .as_ref()
        .map(rows::device)
        .transpose()
    }

    async fn devices_of(&self, identity_id: Uuid) -> Result<Vec<Device>, StoreError> {
        db::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM devices WHERE identity_id = $1 ORDER BY created_at"
        ))
        .bind(identity_id)
        .fetch_all(&self.read_pool)
        .await?
        .iter()
        .map(rows::device)
        .collect()
    }

    async fn register_nonce(
        &self,
        device_id: Uuid,
        nonce: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let inserted = db::query(
            "INSERT INTO app_nonces (device_id, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(device_id)
        .bind(nonce)
        .bind(expires_at.millis())
        .execute(dialect::one_statement_unit(&self.pool))
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn revoke_device_of(
        &self,
        identity_id: Uuid,
        device_id: Uuid,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let done = db::query(
            "UPDATE devices SET state = 'revoked', revoked_at = $1 WHERE id = $2 AND identity_id = $3 AND state = 'active'",
        )
        .bind(at.millis())
        .bind(device_id)
        .bind(identity_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("device"));
        }
        // A revoked app is not woken any more.
        db::query("DELETE FROM push_subscriptions WHERE device_id = $1")
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        write_effects(&mut tx, at, &effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn rename_device_of(
        &self,
        identity_id: Uuid,
        device_id: Uuid,
        name: &DeviceName,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let done = db::query(
            "UPDATE devices SET name = $1 WHERE id = $2 AND identity_id = $3 AND state = 'active'",
        )
        .bind(name.as_str())
        .bind(device_id)
        .bind(identity_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("device"));
        }
        write_effects(&mut tx, at, &effects).await?;
        tx.commit().await?;
        Ok(())
    }
}
