//! What a change causes besides itself, written in its transaction.

use sesam_domain::AuditDraft;
use sesam_domain::notification::OutgoingMessage;

/// What a change causes besides itself: audit entries and outgoing messages, written in
/// the same transaction.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    pub audit: Vec<AuditDraft>,
    pub messages: Vec<QueuedMessage>,
}

impl From<AuditDraft> for Effects {
    /// A change that is only audited.
    fn from(audit: AuditDraft) -> Self {
        Self {
            audit: vec![audit],
            messages: vec![],
        }
    }
}

/// A message ready for the outbox. A secret text (a temporary PIN) is stored sealed under
/// the master key, with a description in its place.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub message: OutgoingMessage,
    pub sealed_text: Option<Vec<u8>>,
}
