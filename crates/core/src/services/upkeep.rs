//! What keeps a running node healthy: its readiness, the outbox dispatcher, the audit
//! sequencer and the removal of expired flow state.

use std::sync::Arc;

use sesam_notify::{DevOutbox, Dispatcher};
use sesam_store::ChainProgress;

use crate::context::Sesam;
use crate::error::AppError;

impl Sesam {
    /// The database answers (the backend's name, `SQLite` or `PostgreSQL`), and how far
    /// the audit sequencer is behind.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn readiness(&self) -> Result<Readiness, AppError> {
        self.store.ping().await?;
        Ok(Readiness {
            backend: self.store.backend(),
            audit: self.audit_backlog().await?,
        })
    }

    /// The node was told to stop: from now on it reports not ready (so the load
    /// balancer takes it out) while it still serves what reaches it.
    pub fn start_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether [`Self::start_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn audit_backlog(&self) -> Result<AuditBacklog, AppError> {
        let b = self.store.audit_backlog().await?;
        let oldest_seconds = b.oldest.map_or(0.0, |t| {
            (self.clock.now().millis() - t.millis()).max(0) as f64 / 1000.0
        });
        Ok(AuditBacklog {
            waiting: b.waiting,
            oldest_seconds,
            behind: oldest_seconds > AUDIT_CHAIN_WINDOW_SECONDS,
        })
    }

    /// This node's turn of the audit sequencer: chains every entry that is waiting (unless
    /// another node is chaining right now) and reports what still waits, also as the
    /// metrics `sesam_audit_unchained_entries` and `sesam_audit_unchained_oldest_seconds`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn chain_audit(&self) -> Result<AuditBacklog, AppError> {
        const BATCH: i64 = 1000;
        // Read first (a reader, no write unit), so an idle node's tick costs one cheap read.
        if self.store.audit_backlog().await?.waiting > 0 {
            while self.store.chain_pending_audit(BATCH).await?
                == ChainProgress::Chained(BATCH as u64)
            {}
        }
        let backlog = self.audit_backlog().await?;
        metrics::gauge!("sesam_audit_unchained_entries").set(backlog.waiting as f64);
        metrics::gauge!("sesam_audit_unchained_oldest_seconds").set(backlog.oldest_seconds);
        Ok(backlog)
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
        .with_poll_interval(self.outbox_poll)
    }

    /// How often the outbox dispatcher looks without a wake-up (retries come due, and the
    /// fallback for a lost signal); `sesam_notify::DEFAULT_POLL` unless set.
    pub fn with_outbox_poll(mut self, every: std::time::Duration) -> Self {
        self.parts_mut().outbox_poll = every;
        self
    }

    /// Removes expired PAR objects, login flows, sessions, nonces, request counts, the
    /// grants and refresh tokens no token can use any more, and finished messages older
    /// than the retention; the number removed. Idempotent, so every node may run it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn sweep_expired(&self) -> Result<u64, AppError> {
        let now = self.clock.now();
        // Counts are kept for two of the longest counting window (login requests,
        // pairings and user-ID reminders are counted in the same table).
        let window = sesam_domain::auth_request::START_WINDOW_SECONDS
            .max(sesam_domain::pairing::PAIRING_WINDOW_SECONDS)
            .max(sesam_domain::user_id_reminder::REMINDER_WINDOW_SECONDS);
        let counts_before = now.plus_seconds(-2 * window);
        // An access token issued at the last moment of a code or a refresh token still
        // reads userinfo for its lifetime: the grant stays that long.
        let grants_before = now.plus_seconds(-sesam_domain::authorization::ACCESS_TOKEN_SECONDS);
        let cutoffs = sesam_store::SweepCutoffs {
            now,
            counts_before,
            grants_before,
            messages_before: now.plus_seconds(-self.messages_kept_days * 86_400),
        };
        Ok(self.store.sweep_expired(cutoffs).await?)
    }
}

/// How long a committed audit entry may wait to be chained (the sequencer runs every
/// 200 ms on every node); beyond it readiness reports the chain as behind.
pub const AUDIT_CHAIN_WINDOW_SECONDS: f64 = 1.0;

/// What `readyz` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Readiness {
    pub backend: &'static str,
    pub audit: AuditBacklog,
}

/// Audit entries committed but not yet chained.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditBacklog {
    pub waiting: i64,
    pub oldest_seconds: f64,
    /// The oldest has waited longer than [`AUDIT_CHAIN_WINDOW_SECONDS`].
    pub behind: bool,
}
