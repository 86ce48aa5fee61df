//! The keys that sign ID tokens.

use async_trait::async_trait;
use sesam_domain::signing_keys::SigningKey;
use sesam_domain::{AuditDraft, Timestamp};

use crate::StoreError;

#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError>;

    /// Replaces the key set (keys not in `keys` are deleted), with its audit entry.
    async fn replace_signing_keys(
        &self,
        keys: &[SigningKey],
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<(), StoreError>;
}
