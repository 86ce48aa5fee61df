//! Following the change feed (`sesam_store::Signal`): what any node changes wakes this
//! node's long-polls and dispatcher and drops this node's cached copies, so neither has
//! to poll quickly. The slow re-checks (the long-poll's, the dispatcher's, the caches'
//! TTLs) stay only as the fallback for a signal that was lost.

use std::sync::Arc;

use sesam_store::Signal;
use tokio::sync::broadcast::error::RecvError;

use super::app_requests::PendingSignals;
use super::read_cache::ReadCache;
use crate::context::Sesam;

/// What the follower acts on: the parts of a [`Sesam`] that keep state because of
/// signals (not the store, so the follower ends when the store is dropped).
pub(crate) struct Followers {
    pub pending: Arc<PendingSignals>,
    pub cache: Arc<ReadCache>,
    pub outbox: Arc<tokio::sync::Notify>,
    pub resyncs: Arc<std::sync::atomic::AtomicU64>,
}

impl Followers {
    fn apply(&self, signal: Signal) {
        match signal {
            Signal::AppRequestsChanged { identity_id } => self.pending.signal(identity_id),
            Signal::OutboxQueued => self.outbox.notify_one(),
            Signal::ServiceProviderChanged { client_id } => self.cache.forget_sp(&client_id),
            Signal::SigningKeysChanged => self.cache.forget_keys(),
            Signal::Resync => {
                self.resyncs
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.cache.forget_all();
                self.pending.signal_all();
                self.outbox.notify_one();
            }
        }
    }

    /// Applies every signal until the feed closes (the store was dropped). A follower
    /// that fell behind has missed signals: that is a resync.
    pub(crate) async fn run(self, mut feed: tokio::sync::broadcast::Receiver<Signal>) {
        loop {
            match feed.recv().await {
                Ok(signal) => self.apply(signal),
                Err(RecvError::Lagged(_)) => self.apply(Signal::Resync),
                Err(RecvError::Closed) => return,
            }
        }
    }
}

impl Sesam {
    /// Starts following the store's change feed, when there is a runtime to run it on
    /// (an operator command built without one needs no wake-ups).
    pub(crate) fn follow_signals(self) -> Self {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let followers = Followers {
                pending: self.pending_signals.clone(),
                cache: self.read_cache.clone(),
                outbox: self.outbox_wake.clone(),
                resyncs: self.resyncs.clone(),
            };
            runtime.spawn(followers.run(self.store.signals()));
        }
        self
    }

    /// How often this node was told it may have missed signals (its listener lost the
    /// database, or it fell behind) and dropped its caches; for monitoring and tests.
    pub fn signal_resyncs(&self) -> u64 {
        self.resyncs.load(std::sync::atomic::Ordering::Relaxed)
    }
}
