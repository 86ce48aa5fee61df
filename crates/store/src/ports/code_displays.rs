//! Code displays: import, activation and use.

use async_trait::async_trait;
use sesam_domain::code_display::{CodeDisplay, CodeDisplayKind};
use sesam_domain::{AuditDraft, Timestamp};
use uuid::Uuid;

use super::Effects;
use crate::StoreError;

/// A code display as the import writes it.
#[derive(Debug, Clone)]
pub struct ImportedCodeDisplay {
    pub serial: String,
    pub kind: CodeDisplayKind,
    pub seed_sealed: Vec<u8>,
    pub seed_check: [u8; 32],
    pub imported_at: Timestamp,
}

/// What became of one imported token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported,
    /// The same serial with the same seed was imported before (imports are idempotent).
    AlreadyPresent,
    /// The serial exists with another seed: refused.
    SerialConflict,
}

/// A code display loaded for change (row-locked).
#[async_trait]
pub trait CodeDisplayUnit: Send {
    fn code_display(&self) -> &CodeDisplay;
    fn seed_sealed(&self) -> &[u8];

    /// Active code displays of an identity, read inside the unit.
    async fn active_of(&mut self, identity_id: Uuid) -> Result<Vec<CodeDisplay>, StoreError>;

    /// Saves the display (state, TOTP state, lockout), optionally the identity's password
    /// hash (a new password starts with a clean lockout), and the effects; commits.
    async fn save(
        self: Box<Self>,
        display: &CodeDisplay,
        password: Option<(Uuid, &str)>,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait CodeDisplayStore: Send + Sync {
    /// Imports a batch in one transaction with its audit entry; idempotent per serial.
    async fn import_code_displays(
        &self,
        batch: &[ImportedCodeDisplay],
        audit: &AuditDraft,
    ) -> Result<Vec<ImportOutcome>, StoreError>;

    async fn code_display(&self, serial: &str) -> Result<Option<CodeDisplay>, StoreError>;

    async fn code_displays_of(&self, identity_id: Uuid) -> Result<Vec<CodeDisplay>, StoreError>;

    async fn lock_code_display(
        &self,
        serial: &str,
    ) -> Result<Option<Box<dyn CodeDisplayUnit>>, StoreError>;

    /// The identity's active code display, locked.
    async fn lock_active_code_display_of(
        &self,
        identity_id: Uuid,
    ) -> Result<Option<Box<dyn CodeDisplayUnit>>, StoreError>;

    /// Revokes the identity's code display; `NotFound` if it is not theirs or not active.
    async fn revoke_code_display(
        &self,
        serial: &str,
        identity_id: Uuid,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// The identity's password hash (PHC string), if one is set.
    async fn password_of(&self, identity_id: Uuid) -> Result<Option<String>, StoreError>;
}
