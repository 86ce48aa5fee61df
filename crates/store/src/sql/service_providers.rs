//! Registered service providers.

use async_trait::async_trait;
use sesam_domain::AuditDraft;

use super::db;
use super::rows::{self, sp_columns};
use super::store::SqlStore;
use super::{audit, dialect, signals};
use crate::{ServiceProviderRecord, ServiceProviderStore, Signal, StoreError};

#[async_trait]
impl ServiceProviderStore for SqlStore {
    async fn add_service_provider(
        &self,
        sp: &ServiceProviderRecord,
        audit: &AuditDraft,
    ) -> Result<(), StoreError> {
        let uris = serde_json::to_string(&sp.redirect_uris)
            .map_err(|e| StoreError::InvalidData(e.to_string()))?;
        let mut tx = dialect::begin_write(&self.pool).await?;
        db::query(
            "INSERT INTO service_providers (client_id, display_name, redirect_uris, secret_hash, allow_national_id, require_par, ciba, jwks, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&sp.client_id)
        .bind(&sp.display_name)
        .bind(uris)
        .bind(&sp.secret_hash[..])
        .bind(sp.allow_national_id)
        .bind(sp.require_par)
        .bind(sp.ciba)
        .bind(&sp.jwks)
        .bind(sp.created_at.millis())
        .execute(&mut *tx)
        .await?;
        audit::append(&mut tx, sp.created_at, audit).await?;
        signals::publish(
            &mut tx,
            Signal::ServiceProviderChanged {
                client_id: sp.client_id.clone(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn service_provider(
        &self,
        client_id: &str,
    ) -> Result<Option<ServiceProviderRecord>, StoreError> {
        db::query(concat!(
            "SELECT ",
            sp_columns!(),
            " FROM service_providers WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(&self.read_pool)
        .await?
        .as_ref()
        .map(rows::service_provider)
        .transpose()
    }

    async fn service_providers(&self) -> Result<Vec<ServiceProviderRecord>, StoreError> {
        db::query(concat!(
            "SELECT ",
            sp_columns!(),
            " FROM service_providers ORDER BY created_at, client_id"
        ))
        .fetch_all(&self.read_pool)
        .await?
        .iter()
        .map(rows::service_provider)
        .collect()
    }
}
