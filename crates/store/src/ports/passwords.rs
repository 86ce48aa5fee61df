//! Passwords and their lockout.

use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::password_guard::PasswordGuard;
use uuid::Uuid;

use super::Effects;
use crate::StoreError;

/// An identity's password loaded for change (row-locked only for the short transaction:
/// Argon2 runs between two units, see `PasswordGuard`).
#[async_trait]
pub trait PasswordUnit: Send {
    fn guard(&self) -> &PasswordGuard;
    fn phc(&self) -> &str;

    /// Saves the lockout state and the effects; commits.
    async fn save(
        self: Box<Self>,
        guard: &PasswordGuard,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// Replaces the password hash (the new password starts with a clean lockout) and
    /// saves the effects; commits.
    async fn replace(
        self: Box<Self>,
        phc: &str,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait PasswordStore: Send + Sync {
    /// The identity's password with its lockout state, locked; `None` without a password.
    async fn lock_password(
        &self,
        identity_id: Uuid,
    ) -> Result<Option<Box<dyn PasswordUnit>>, StoreError>;
}
