//! The apps' web push subscriptions, one per device.

use async_trait::async_trait;
use sesam_domain::web_push::PushSubscription;
use uuid::Uuid;

use crate::{Effects, StoreError};

#[async_trait]
pub trait PushStore: Send + Sync {
    /// Keeps `subscription` as its device's only one (a browser has one per app), replacing
    /// what the device had, with `effects` (its audit) in the same transaction. `NotFound`
    /// when the device is not active (and nothing is written).
    async fn save_push_subscription(
        &self,
        subscription: &PushSubscription,
        effects: &Effects,
    ) -> Result<(), StoreError>;

    /// Removes the device's subscription; whether it had one. `effects` (its audit) are
    /// written in the same transaction, and only when there was one.
    async fn remove_push_subscriptions(
        &self,
        device_id: Uuid,
        at: sesam_domain::Timestamp,
        effects: &Effects,
    ) -> Result<bool, StoreError>;

    /// The subscriptions of the person's active devices.
    async fn push_subscriptions_of(
        &self,
        identity_id: Uuid,
    ) -> Result<Vec<PushSubscription>, StoreError>;

    /// One subscription, while its device is active.
    async fn push_subscription(&self, id: Uuid) -> Result<Option<PushSubscription>, StoreError>;

    /// Forgets a subscription the push service no longer knows; whether it was there.
    async fn forget_push_subscription(&self, id: Uuid) -> Result<bool, StoreError>;
}
