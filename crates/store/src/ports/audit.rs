//! The hash-chained audit log.

use async_trait::async_trait;
use sesam_domain::{AuditDraft, AuditEntry, ChainHead, Timestamp};

use crate::StoreError;

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry that belongs to no other change (e.g. a failed operator action).
    async fn append_audit(
        &self,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<AuditEntry, StoreError>;

    /// Entries with `seq > after`, in order, at most `limit`.
    async fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError>;

    async fn audit_head(&self) -> Result<ChainHead, StoreError>;
}
