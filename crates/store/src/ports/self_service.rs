//! The self-service site's sessions, kept server-side (the cookie holds only a random
//! value whose keyed hash is the key here).

use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::self_service::SelfServiceSession;

use super::Effects;
use crate::StoreError;

#[async_trait]
pub trait SelfServiceStore: Send + Sync {
    /// Stores a new session with its effects (the audit entry of the start).
    async fn create_self_service_session(
        &self,
        session: &SelfServiceSession,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// The session under `id_hash` before its absolute end, whether idle or not (the
    /// domain's `SelfServiceSession::live` decides).
    async fn self_service_session(
        &self,
        id_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<SelfServiceSession>, StoreError>;

    /// Records a request of the session at `at` (its idle timeout starts again); `false`
    /// if the session is gone.
    async fn touch_self_service_session(
        &self,
        id_hash: &[u8; 32],
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Ends a session (logout, idle, blocked identity) with its effects; `false` if there
    /// was none.
    async fn end_self_service_session(
        &self,
        id_hash: &[u8; 32],
        at: Timestamp,
        effects: Effects,
    ) -> Result<bool, StoreError>;
}
