//! Activated apps.

use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::device::Device;
use uuid::Uuid;

use super::Effects;
use crate::StoreError;

#[async_trait]
pub trait DeviceStore: Send + Sync {
    async fn device(&self, id: Uuid) -> Result<Option<Device>, StoreError>;

    async fn devices_of(&self, identity_id: Uuid) -> Result<Vec<Device>, StoreError>;

    /// Registers a request nonce; `false` if the device used it before (a replay).
    /// Nonces past their expiry are forgotten.
    async fn register_nonce(
        &self,
        device_id: Uuid,
        nonce: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Revokes one of the identity's active apps outside any app's unit (the person in
    /// self-service); `NotFound` if it is not theirs or not active.
    async fn revoke_device_of(
        &self,
        identity_id: Uuid,
        device_id: Uuid,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;
}
