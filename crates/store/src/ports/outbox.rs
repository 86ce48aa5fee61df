//! The outbox of messages to deliver, and their delivery attempts.

use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::notification::Channel;
use uuid::Uuid;

use crate::StoreError;

/// One stored outgoing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: Uuid,
    pub message_id: Uuid,
    pub identity_id: Option<Uuid>,
    pub event: String,
    pub channel: Channel,
    pub destination: String,
    /// The text; for secret messages a description, the text itself being in `sealed`.
    pub body: String,
    pub sealed: Option<Vec<u8>>,
    pub language: sesam_domain::notification::Language,
    pub delivery: String,
    pub position: i32,
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Sent,
    /// Worth trying again at `retry_at`; `None` when the retries are used up.
    Temporary {
        error: String,
        retry_at: Option<Timestamp>,
    },
    /// Trying this channel again will not help.
    Permanent {
        error: String,
    },
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub message_id: Uuid,
    pub channel: Channel,
    pub at: Timestamp,
    pub outcome: String,
    pub error: Option<String>,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims due messages for sending until `lease_until`: pending ones whose time has
    /// come, and ones whose earlier claim ran out (a dispatcher died mid-send). On
    /// PostgreSQL rows claimed by another dispatcher are skipped (`SKIP LOCKED`). With
    /// `only`, messages on that channel alone (a node that can deliver nothing else).
    async fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
        only: Option<Channel>,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Records an attempt and moves the message on: sent (a secret text is scrubbed, the
    /// other channels of a first-working message are skipped), retried later, or failed
    /// (a first-working message fails over to its next channel). Returns `true` when the
    /// message has now failed on every channel (undeliverable).
    async fn record_attempt(
        &self,
        entry: &OutboxEntry,
        at: Timestamp,
        outcome: &AttemptOutcome,
    ) -> Result<bool, StoreError>;

    /// The newest messages, for the development outbox page and activity views.
    async fn recent_messages(
        &self,
        identity_id: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Every attempt to deliver a message, oldest first.
    async fn attempts_of(&self, message_id: Uuid) -> Result<Vec<DeliveryAttempt>, StoreError>;
}
