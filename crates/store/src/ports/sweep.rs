//! Housekeeping of expired short-lived rows.

use async_trait::async_trait;
use sesam_domain::Timestamp;

use crate::StoreError;

/// Removes what has expired: PAR objects, login flows, browser sessions, app nonces,
/// client-assertion ids, chip ceremonies, request counts of past windows. Reads check
/// expiry themselves, so sweeping is housekeeping, done now and then by one background
/// task instead of a `DELETE` in every request's transaction.
#[async_trait]
pub trait SweepStore: Send + Sync {
    /// Deletes rows that expired before `now` and request counts of windows that started
    /// before `counts_before`; returns how many rows went.
    async fn sweep_expired(
        &self,
        now: Timestamp,
        counts_before: Timestamp,
    ) -> Result<u64, StoreError>;
}
