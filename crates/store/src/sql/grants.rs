//! Activation grants.

use super::db::Transaction;
use async_trait::async_trait;
use sesam_domain::{ActivationGrant, Timestamp};
use uuid::Uuid;

use super::db;
use super::rows::{self, grant_columns};
use super::store::SqlStore;
use crate::{GrantStore, StoreError};

pub(super) async fn insert(
    tx: &mut Transaction<'_>,
    g: &ActivationGrant,
) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO activation_grants (id, identity_id, purpose, code_hash, state, failed_attempts, created_at, expires_at, sms_pin_hash, sms_pin_expires_at, sms_sent_count, user_id_refusals) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(g.id)
    .bind(g.identity_id)
    .bind(g.purpose.as_str())
    .bind(&g.code_hash[..])
    .bind(g.state.as_str())
    .bind(g.failed_attempts)
    .bind(g.created_at.millis())
    .bind(g.expires_at.millis())
    .bind(g.sms_pin_hash.map(|h| h.to_vec()))
    .bind(g.sms_pin_expires_at.map(Timestamp::millis))
    .bind(g.sms_sent_count)
    .bind(g.user_id_refusals)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl GrantStore for SqlStore {
    async fn issue_grant(
        &self,
        grant: &ActivationGrant,
        effects: crate::Effects,
    ) -> Result<(), StoreError> {
        let mut tx = super::dialect::begin_write(&self.pool).await?;
        db::query(
            "UPDATE activation_grants SET state = 'voided', sms_pin_hash = NULL WHERE identity_id = $1 AND state IN ('issued', 'code_accepted')",
        )
        .bind(grant.identity_id)
        .execute(&mut *tx)
        .await?;
        insert(&mut tx, grant).await?;
        super::effects::write_effects(&mut tx, grant.created_at, &effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn grant_by_code_hash(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<ActivationGrant>, StoreError> {
        db::query(concat!(
            "SELECT ",
            grant_columns!(),
            " FROM activation_grants WHERE code_hash = $1"
        ))
        .bind(&hash[..])
        .fetch_optional(&self.read_pool)
        .await?
        .as_ref()
        .map(rows::grant)
        .transpose()
    }

    async fn grants_of(&self, identity_id: Uuid) -> Result<Vec<ActivationGrant>, StoreError> {
        db::query(concat!(
            "SELECT ",
            grant_columns!(),
            " FROM activation_grants WHERE identity_id = $1 ORDER BY created_at"
        ))
        .bind(identity_id)
        .fetch_all(&self.read_pool)
        .await?
        .iter()
        .map(rows::grant)
        .collect()
    }
}
