//! Housekeeping of expired short-lived rows.

use async_trait::async_trait;
use sesam_domain::Timestamp;

use crate::StoreError;

/// Removes what has expired: PAR objects, login flows, browser sessions, app nonces,
/// client-assertion ids, chip ceremonies, request counts of past windows, and the
/// authorization grants and refresh tokens no token can use any more. Reads check
/// expiry themselves, so sweeping is housekeeping, done now and then by one background
/// task instead of a `DELETE` in every request's transaction.
#[async_trait]
pub trait SweepStore: Send + Sync {
    /// Deletes rows that expired before `now`, request counts of windows that started
    /// before `counts_before`, refresh tokens that expired before `grants_before`, and
    /// authorization grants whose code expired before `grants_before` and that have no
    /// refresh token left (nothing can use them any more); returns how many rows went.
    async fn sweep_expired(
        &self,
        now: Timestamp,
        counts_before: Timestamp,
        grants_before: Timestamp,
    ) -> Result<u64, StoreError>;
}
