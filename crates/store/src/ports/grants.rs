//! Activation grants as the operator issues and lists them.

use async_trait::async_trait;
use sesam_domain::ActivationGrant;
use uuid::Uuid;

use super::Effects;
use crate::StoreError;

#[async_trait]
pub trait GrantStore: Send + Sync {
    async fn grant_by_code_hash(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<ActivationGrant>, StoreError>;

    async fn grants_of(&self, identity_id: Uuid) -> Result<Vec<ActivationGrant>, StoreError>;

    /// Issues a new grant (a new activation letter); the identity's open grants are voided.
    async fn issue_grant(
        &self,
        grant: &ActivationGrant,
        effects: Effects,
    ) -> Result<(), StoreError>;
}
