//! Security chips (WebAuthn) and their registration ceremonies.

use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::chip::{Ceremony, Chip};
use uuid::Uuid;

use super::Effects;
use crate::StoreError;

#[async_trait]
pub trait ChipStore: Send + Sync {
    /// Stores a WebAuthn ceremony in progress.
    async fn save_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError>;

    /// Takes a ceremony out (single use): a second take finds nothing.
    async fn take_ceremony(&self, id: Uuid) -> Result<Option<Ceremony>, StoreError>;

    /// Registers a chip (and the password set with it, which starts with a clean
    /// lockout); refused with `Conflict("chip")` if the identity already has an active chip.
    async fn add_chip(
        &self,
        chip: &Chip,
        password_phc: Option<&str>,
        effects: Effects,
    ) -> Result<(), StoreError>;

    async fn chips_of(&self, identity_id: Uuid) -> Result<Vec<Chip>, StoreError>;

    /// Stores a chip's updated credential (signature counter) after a use.
    async fn chip_used(&self, id: Uuid, credential: &str, at: Timestamp) -> Result<(), StoreError>;

    /// Revokes one of the identity's chips; `NotFound` if it is not theirs or not active.
    async fn revoke_chip(
        &self,
        id: Uuid,
        identity_id: Uuid,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;
}
