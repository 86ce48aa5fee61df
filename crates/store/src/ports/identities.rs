//! Identities: enrolment, state changes, user IDs and their history.

use async_trait::async_trait;
use sesam_domain::{
    ActivationGrant, Identity, IdentityState, Timestamp, UserId, UserIdKey, identity::Enrolment,
};
use uuid::Uuid;

use super::Effects;
use crate::StoreError;

/// A new identity as it is written: the validated enrolment plus what sesam derived.
#[derive(Debug, Clone)]
pub struct NewIdentity {
    pub id: Uuid,
    pub enrolment: Enrolment,
    pub national_id_sealed: Vec<u8>,
    pub national_id_index: [u8; 32],
    pub created_at: Timestamp,
}

/// A change of user ID, decided by the domain; the store enforces uniqueness and quarantine.
#[derive(Debug, Clone)]
pub struct UserIdChange {
    pub identity_id: Uuid,
    pub new: UserId,
    pub at: Timestamp,
    /// Until when the released ID stays reserved for this person.
    pub reserved_until: Timestamp,
}

/// One user ID a person had, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIdHistoryEntry {
    pub user_id: String,
    pub from: Timestamp,
    pub to: Option<Timestamp>,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Writes the identity, its user ID claim (if chosen), its first activation grant and
    /// the effects (audit entry, the letter's announcement), or nothing.
    async fn enrol(
        &self,
        identity: &NewIdentity,
        grant: &ActivationGrant,
        effects: &Effects,
    ) -> Result<(), StoreError>;

    async fn identity(&self, id: Uuid) -> Result<Option<Identity>, StoreError>;

    async fn identity_by_user_id(&self, key: &UserIdKey) -> Result<Option<Identity>, StoreError>;

    async fn identity_by_national_id(
        &self,
        index: &[u8; 32],
    ) -> Result<Option<Identity>, StoreError>;

    /// The sealed national ID number, for the few places that must show or send it.
    async fn national_id_sealed(&self, id: Uuid) -> Result<Option<Vec<u8>>, StoreError>;

    /// Moves the identity from `from` to `to`; fails with `Conflict` if it is no longer in
    /// `from` (someone else changed it first). The effects are written with it.
    async fn set_state(
        &self,
        id: Uuid,
        from: IdentityState,
        to: IdentityState,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<(), StoreError>;

    /// A user-ID reminder ("forgot your user ID?"): counted under both keys (the typed
    /// number, the asking address) in the window starting at `window`; within both
    /// limits the effects (the messages, the audit entry) are written, else nothing is
    /// and the count is not raised. Whether it was within.
    async fn remind_user_id(
        &self,
        counted: [(&[u8], sesam_domain::rate_limit::WindowLimit); 2],
        window: Timestamp,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<bool, StoreError>;

    /// Changes the user ID (the old one quarantined), with the effects.
    async fn change_user_id(
        &self,
        change: &UserIdChange,
        effects: &Effects,
    ) -> Result<(), StoreError>;

    async fn user_id_history(&self, id: Uuid) -> Result<Vec<UserIdHistoryEntry>, StoreError>;

    async fn count_identities(&self) -> Result<i64, StoreError>;
}
