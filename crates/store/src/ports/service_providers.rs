//! Registered service providers (OIDC clients).

use async_trait::async_trait;
use sesam_domain::{AuditDraft, Timestamp};

use crate::StoreError;

/// A service provider as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderRecord {
    pub client_id: String,
    pub display_name: String,
    pub redirect_uris: Vec<String>,
    pub secret_hash: [u8; 32],
    pub allow_national_id: bool,
    pub require_par: bool,
    pub ciba: bool,
    /// The SP's public keys (JWKS JSON) for `private_key_jwt`.
    pub jwks: Option<String>,
    pub created_at: Timestamp,
}

#[async_trait]
pub trait ServiceProviderStore: Send + Sync {
    async fn add_service_provider(
        &self,
        sp: &ServiceProviderRecord,
        audit: &AuditDraft,
    ) -> Result<(), StoreError>;

    async fn service_provider(
        &self,
        client_id: &str,
    ) -> Result<Option<ServiceProviderRecord>, StoreError>;

    async fn service_providers(&self) -> Result<Vec<ServiceProviderRecord>, StoreError>;
}
