//! Notification channels a person chose, and their confirmation.

use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::channels::ChannelChoice;
use uuid::Uuid;

use super::Effects;
use crate::StoreError;

/// One notification channel loaded for change (row-locked).
#[async_trait]
pub trait ChannelUnit: Send {
    fn choice(&self) -> &ChannelChoice;

    /// The identity's other channels, read inside the unit.
    async fn others(&mut self) -> Result<Vec<ChannelChoice>, StoreError>;

    /// Saves the channel (confirmation state) and the effects; commits.
    async fn save(
        self: Box<Self>,
        choice: &ChannelChoice,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// Removes the channel and writes the effects; commits.
    async fn remove(self: Box<Self>, at: Timestamp, effects: Effects) -> Result<(), StoreError>;
}

#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// The identity's channels in their order.
    async fn channel_choices(&self, identity_id: Uuid) -> Result<Vec<ChannelChoice>, StoreError>;

    /// Adds a channel (unconfirmed, with its confirmation code) and the effects (the
    /// message carrying the code); `Conflict("channel")` if it is already registered.
    async fn add_channel(&self, choice: &ChannelChoice, effects: Effects)
    -> Result<(), StoreError>;

    async fn lock_channel(&self, id: Uuid) -> Result<Option<Box<dyn ChannelUnit>>, StoreError>;

    /// Puts the identity's channels in the given order (every id exactly once).
    async fn reorder_channels(
        &self,
        identity_id: Uuid,
        order: &[Uuid],
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;

    async fn set_notify_every_use(
        &self,
        identity_id: Uuid,
        enabled: bool,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;
}
