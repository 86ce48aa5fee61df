//! Chips (WebAuthn credentials) and ceremonies in progress.

use super::db;
use super::db::RowExt as _;
use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::chip::{Ceremony, Chip, ChipState};
use uuid::Uuid;

use super::dialect;
use super::effects::write_effects;
use super::rows::Row;
use super::store::SqlStore;
use crate::{ChipStore, Effects, StoreError};

fn chip(row: &Row) -> Result<Chip, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(Chip {
        id: row.try_get("id")?,
        identity_id: row.try_get("identity_id")?,
        credential_id: row.try_get("credential_id")?,
        credential: row.try_get("credential")?,
        state: ChipState::parse(&state)
            .ok_or_else(|| StoreError::InvalidData(format!("chip state '{state}'")))?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        last_used_at: row
            .try_get::<Option<i64>, _>("last_used_at")?
            .map(Timestamp::from_millis),
    })
}

#[async_trait]
impl ChipStore for SqlStore {
    async fn save_ceremony(&self, c: &Ceremony) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        db::query("DELETE FROM webauthn_ceremonies WHERE expires_at < $1")
            .bind(c.created_at.millis())
            .execute(&mut *tx)
            .await?;
        db::query(
            "INSERT INTO webauthn_ceremonies (id, identity_id, kind, state_sealed, password_phc, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(c.id)
        .bind(c.identity_id)
        .bind(c.kind)
        .bind(&c.state_sealed)
        .bind(&c.password_phc)
        .bind(c.created_at.millis())
        .bind(c.expires_at.millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_ceremony(&self, id: Uuid) -> Result<Option<Ceremony>, StoreError> {
        let row = db::query(
            "DELETE FROM webauthn_ceremonies WHERE id = $1 RETURNING id, identity_id, kind, state_sealed, password_phc, created_at, expires_at",
        )
        .bind(id)
        .fetch_optional(dialect::one_statement_unit(&self.pool))
        .await?;
        let Some(row) = row else { return Ok(None) };
        let kind: String = row.try_get("kind")?;
        Ok(Some(Ceremony {
            id: row.try_get("id")?,
            identity_id: row.try_get("identity_id")?,
            kind: if kind == "registration" {
                "registration"
            } else {
                "authentication"
            },
            state_sealed: row.try_get("state_sealed")?,
            password_phc: row.try_get("password_phc")?,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        }))
    }

    async fn add_chip(
        &self,
        c: &Chip,
        password_phc: Option<&str>,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let active = db::query(concat!(
            "SELECT id FROM chips WHERE identity_id = $1 AND state = 'active'",
            dialect::for_update!()
        ))
        .bind(c.identity_id)
        .fetch_optional(&mut *tx)
        .await?;
        if active.is_some() {
            return Err(StoreError::Conflict("chip"));
        }
        db::query(
            "INSERT INTO chips (id, identity_id, credential_id, credential, state, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.id)
        .bind(c.identity_id)
        .bind(&c.credential_id)
        .bind(&c.credential)
        .bind(c.state.as_str())
        .bind(c.created_at.millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Database(m) if m.contains("credential_id") => StoreError::DeviceKeyTaken,
            StoreError::UserIdTaken | StoreError::DeviceKeyTaken => StoreError::DeviceKeyTaken,
            other => other,
        })?;
        if let Some(phc) = password_phc {
            db::query(
                "INSERT INTO passwords (identity_id, phc, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (identity_id) DO UPDATE SET phc = $2, updated_at = $3, failures = 0, locked_until = NULL, \
                 temporary_locks = 0, lock_window_start = NULL, blocked = FALSE, pending = 0, pending_since = NULL",
            )
            .bind(c.identity_id)
            .bind(phc)
            .bind(c.created_at.millis())
            .execute(&mut *tx)
            .await?;
        }
        write_effects(&mut tx, c.created_at, &effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn chips_of(&self, identity_id: Uuid) -> Result<Vec<Chip>, StoreError> {
        db::query(
            "SELECT id, identity_id, credential_id, credential, state, created_at, last_used_at FROM chips WHERE identity_id = $1 ORDER BY created_at",
        )
        .bind(identity_id)
        .fetch_all(&self.read_pool)
        .await?
        .iter()
        .map(chip)
        .collect()
    }

    async fn chip_used(&self, id: Uuid, credential: &str, at: Timestamp) -> Result<(), StoreError> {
        db::query("UPDATE chips SET credential = $1, last_used_at = $2 WHERE id = $3")
            .bind(credential)
            .bind(at.millis())
            .bind(id)
            .execute(dialect::one_statement_unit(&self.pool))
            .await?;
        Ok(())
    }

    async fn revoke_chip(
        &self,
        id: Uuid,
        identity_id: Uuid,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let done = db::query("UPDATE chips SET state = 'revoked' WHERE id = $1 AND identity_id = $2 AND state = 'active'")
            .bind(id)
            .bind(identity_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("chip"));
        }
        write_effects(&mut tx, at, &effects).await?;
        tx.commit().await?;
        Ok(())
    }
}
