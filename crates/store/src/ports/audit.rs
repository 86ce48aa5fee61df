//! The hash-chained audit log.
//!
//! A change appends its entries unchained, in its own transaction and without a lock any
//! other request needs; the sequencer ([`AuditStore::chain_pending_audit`], run by every
//! node every few hundred milliseconds) links them into the chain in order shortly after
//! they commit. Reading the log chains what is waiting first, so a reader sees every
//! committed entry.

use async_trait::async_trait;
use sesam_domain::{AuditDraft, AuditEntry, ChainHead, Timestamp};

use crate::StoreError;

/// What a call of the sequencer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainProgress {
    /// Chained this many entries (fewer than asked for: nothing more was waiting).
    Chained(u64),
    /// Another node is chaining right now.
    Busy,
}

/// Entries written but not yet chained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditBacklog {
    pub waiting: i64,
    /// When the oldest of them happened.
    pub oldest: Option<Timestamp>,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry that belongs to no other change (e.g. a failed operator action).
    async fn append_audit(&self, at: Timestamp, audit: &AuditDraft) -> Result<(), StoreError>;

    /// Chains up to `max` waiting entries, oldest first. Any number of nodes may call it at
    /// once: one chains, the others get [`ChainProgress::Busy`] at once.
    async fn chain_pending_audit(&self, max: i64) -> Result<ChainProgress, StoreError>;

    async fn audit_backlog(&self) -> Result<AuditBacklog, StoreError>;

    /// Entries with `seq > after`, in order, at most `limit`; everything committed before
    /// the call is chained first.
    async fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError>;

    /// The newest entries about `subject` (e.g. an identity id), newest first, at most
    /// `limit`; everything committed before the call is chained first.
    async fn audit_entries_of(
        &self,
        subject: &str,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// The chain's head, after chaining everything committed before the call.
    async fn audit_head(&self) -> Result<ChainHead, StoreError>;
}
