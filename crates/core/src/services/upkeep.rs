//! What keeps a running node healthy: its readiness, the outbox dispatcher and the removal
//! of expired flow state.

use std::sync::Arc;

use sesam_notify::{DevOutbox, Dispatcher};

use crate::context::Sesam;
use crate::error::AppError;

impl Sesam {
    /// The database answers; the backend's name (`sqlite`, `postgres`) when it does.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn readiness(&self) -> Result<&'static str, AppError> {
        self.store.ping().await?;
        Ok(self.store.backend())
    }

    /// The dispatcher that delivers this node's share of the outbox over `channels`; it
    /// wakes whenever a service here wrote messages.
    pub fn outbox_dispatcher(
        &self,
        channels: sesam_notify::Channels,
        dev_outbox: Arc<DevOutbox>,
        lease_seconds: i64,
    ) -> Dispatcher {
        Dispatcher::new(
            self.store.clone(),
            self.keys.clone(),
            self.clock.clone(),
            channels,
            dev_outbox,
            self.outbox_wake.clone(),
        )
        .with_lease_seconds(lease_seconds)
    }

    /// Removes expired PAR objects, login flows, sessions, nonces and request counts; the
    /// number removed. Idempotent, so every node may run it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn sweep_expired(&self) -> Result<u64, AppError> {
        let now = self.clock.now();
        // Counts are kept for two of the longest counting window (login requests and
        // pairings are counted in the same table).
        let window = sesam_domain::auth_request::START_WINDOW_SECONDS
            .max(sesam_domain::pairing::PAIRING_WINDOW_SECONDS);
        let counts_before = now.plus_seconds(-2 * window);
        Ok(self.store.sweep_expired(now, counts_before).await?)
    }
}
