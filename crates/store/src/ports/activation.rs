//! Activation with a letter: grants loaded for change, and activating an app.

use async_trait::async_trait;
use sesam_domain::code_display::CodeDisplay;
use sesam_domain::device::Device;
use sesam_domain::{ActivationGrant, Identity, Timestamp, UserIdKey};
use uuid::Uuid;

use super::{Effects, UserIdChange};
use crate::StoreError;

/// An activation grant loaded for change: its row (and its identity's row) stay locked
/// until the unit is saved or dropped, so attempts are evaluated one at a time.
#[async_trait]
pub trait GrantUnit: Send {
    fn grant(&self) -> &ActivationGrant;
    fn identity(&self) -> &Identity;

    /// The identity's active devices, read inside the unit.
    async fn active_devices(&mut self) -> Result<Vec<Device>, StoreError>;

    /// Whether the identity could claim user ID `key` now: `UserIdTaken` or
    /// `UserIdReserved` if not (checked inside the unit, so a refusal can be counted on
    /// the grant before anything else is written).
    async fn user_id_free(&mut self, key: &UserIdKey, at: Timestamp) -> Result<(), StoreError>;

    /// Writes the grant's new state and the effects, and commits.
    async fn save(
        self: Box<Self>,
        grant: &ActivationGrant,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// A code display, locked inside this unit, with its sealed seed.
    async fn lock_code_display(
        &mut self,
        serial: &str,
    ) -> Result<Option<(CodeDisplay, Vec<u8>)>, StoreError>;

    /// The identity's active code displays, read inside the unit.
    async fn active_code_displays(&mut self) -> Result<Vec<CodeDisplay>, StoreError>;

    /// Completes an activation with a code display instead of an app: the consumed grant,
    /// the assigned display, the password, the user ID, the identity made active.
    async fn activate_code_display(
        self: Box<Self>,
        grant: &ActivationGrant,
        display: &CodeDisplay,
        password_phc: Option<&str>,
        user_id: Option<&UserIdChange>,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// Completes an activation: the consumed grant, the new device, the user ID (if the
    /// person chose one now), the identity made active, and the effects; then commits.
    async fn activate(
        self: Box<Self>,
        grant: &ActivationGrant,
        device: &Device,
        user_id: Option<&UserIdChange>,
        effects: Effects,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait ActivationStore: Send + Sync {
    async fn lock_grant_by_code_hash(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<Box<dyn GrantUnit>>, StoreError>;

    async fn lock_grant(&self, id: Uuid) -> Result<Option<Box<dyn GrantUnit>>, StoreError>;
}
