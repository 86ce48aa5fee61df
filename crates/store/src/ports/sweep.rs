//! Housekeeping: expired short-lived rows, and the rows kept only for a while.

use async_trait::async_trait;
use sesam_domain::Timestamp;

use crate::StoreError;

/// What one sweep removes, as moments: the service derives them from the clock and its
/// rules, the store only deletes what lies before them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepCutoffs {
    /// Rows whose `expires_at` is at or before this.
    pub now: Timestamp,
    /// Request counts of windows that started before this.
    pub counts_before: Timestamp,
    /// Refresh tokens that expired before this, and authorization grants whose code
    /// expired before this and that have no refresh token left.
    pub grants_before: Timestamp,
    /// Messages finished (sent, failed or skipped) and queued before this, with their
    /// delivery attempts.
    pub messages_before: Timestamp,
}

/// Removes what has expired: PAR objects, login flows, browser sessions, app nonces,
/// client-assertion ids, chip ceremonies, request counts of past windows, the
/// authorization grants and refresh tokens no token can use any more, and finished
/// messages past their retention. Reads check expiry themselves, so sweeping is
/// housekeeping, done now and then by one background task instead of a `DELETE` in every
/// request's transaction.
#[async_trait]
pub trait SweepStore: Send + Sync {
    /// Deletes what lies before the cutoffs; returns how many rows went.
    async fn sweep_expired(&self, cutoffs: SweepCutoffs) -> Result<u64, StoreError>;
}
