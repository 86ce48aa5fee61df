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
        let kind = match &signal {
            Signal::AppRequestsChanged { .. } => "app_requests",
            Signal::OutboxQueued => "outbox",
            Signal::ServiceProviderChanged { .. } => "service_provider",
            Signal::SigningKeysChanged => "signing_keys",
            Signal::Resync => "resync",
        };
        metrics::counter!("sesam_signals_received_total", "kind" => kind).increment(1);
        match signal {
            Signal::AppRequestsChanged { identity_id } => self.pending.signal(identity_id),
            Signal::OutboxQueued => self.outbox.notify_one(),
            Signal::ServiceProviderChanged { client_id } => self.cache.forget_sp(&client_id),
            Signal::SigningKeysChanged => self.cache.forget_keys(),
            Signal::Resync => {
                self.cache.forget_all();
                self.pending.signal_all();
                self.outbox.notify_one();
                // Counted once done, so whoever sees the count sees the caches dropped.
                self.resyncs
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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
        self.resyncs.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use sesam_domain::signing_keys::{KeyState, SigningKey};
    use sesam_domain::{AuditKey, MasterKey, OsRandom, SystemClock};
    use sesam_store::Location;
    use sqlx::Connection;

    use super::*;
    use crate::services::Actor;
    use crate::services::service_providers::AddServiceProvider;

    /// The fallback TTL in these tests: far longer than any wait below, so only a signal
    /// can explain a change being used.
    const LONG_TTL: Duration = Duration::from_secs(3600);

    async fn node(url: &str) -> Sesam {
        let keys = MasterKey::from_hex(&"5a".repeat(32)).unwrap().keys();
        let store = sesam_store::open(&Location::Postgres(url.to_owned()), AuditKey::from(&keys))
            .await
            .unwrap();
        Sesam::assemble(store, keys, Arc::new(SystemClock), Arc::new(OsRandom))
            .with_cache_ttl(LONG_TTL)
    }

    fn active(keys: &[SigningKey]) -> String {
        keys.iter()
            .find(|k| k.state == KeyState::Active)
            .map(|k| k.kid.clone())
            .unwrap_or_default()
    }

    fn operator() -> Actor {
        Actor::operator("test").unwrap()
    }

    async fn add_sp(node: &Sesam, name: &str) -> String {
        node.add_service_provider(
            &operator(),
            &AddServiceProvider {
                name: name.into(),
                redirect_uris: vec!["https://sp.example/cb".into()],
                national_id: false,
                require_par: false,
                ciba: false,
                jwks: None,
            },
        )
        .await
        .unwrap()
        .record
        .client_id
    }

    /// Waits until `node`'s listener delivers: another node's changes reach it from now.
    async fn listening(from: &Sesam, node: &Sesam) {
        let mut feed = node.store.signals();
        for n in 0..100 {
            let probe = add_sp(from, &format!("Probe {n}")).await;
            let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
            while let Ok(Ok(s)) = tokio::time::timeout_at(deadline, feed.recv()).await {
                if s == (Signal::ServiceProviderChanged {
                    client_id: probe.clone(),
                }) {
                    return;
                }
            }
        }
        panic!("the node's listener never delivered");
    }

    /// Polls `read` until it gives `want`, for at most `within`; whether it did.
    async fn becomes<T: PartialEq, F: std::future::Future<Output = T>>(
        within: Duration,
        want: &T,
        mut read: impl FnMut() -> F,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if read().await == *want {
                return true;
            }
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn display_name(node: &Sesam, client_id: &str) -> String {
        node.registered_sp(client_id)
            .await
            .unwrap()
            .map(|sp| sp.display_name)
            .unwrap_or_default()
    }

    /// Two nodes on one PostgreSQL database: a key rotation made on one node, and one made
    /// by a separate process (as `sesam admin` does, with a store of its own that it
    /// drops at once), and an SP change are used by the other node within a second,
    /// with the TTL an hour. Then the listener's connection is killed: the node resyncs
    /// (drops its caches, so a change it was never told of is read), and its listener
    /// comes back by itself and delivers again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_on_one_node_are_used_by_another_within_a_second_and_resync_after_a_lost_listener()
     {
        let Some(url) = sesam_testkit::postgres_database().await else {
            return;
        };
        let a = node(&url).await;
        let b = node(&url).await;
        a.ensure_signing_keys().await.unwrap();
        listening(&a, &b).await;

        // B holds a copy of the keys before each rotation, and would keep it for an hour.
        let first = active(&b.current_signing_keys().await.unwrap());
        let rotated = active(&a.rotate_signing_keys(&operator()).await.unwrap());
        assert!(
            becomes(Duration::from_secs(1), &rotated, || async {
                active(&b.current_signing_keys().await.unwrap())
            })
            .await,
            "node B signs with the key node A rotated into use"
        );

        assert_ne!(rotated, first);
        let admin = node(&url).await;
        let by_admin = active(&admin.rotate_signing_keys(&operator()).await.unwrap());
        drop(admin);
        assert!(
            becomes(Duration::from_secs(1), &by_admin, || async {
                active(&b.current_signing_keys().await.unwrap())
            })
            .await,
            "node B signs with the key the operator's command rotated into use"
        );

        // An SP's record changes (what an SP update writes: the row and its signal, in
        // one transaction); B had it cached.
        let sp = add_sp(&a, "Danske Bank").await;
        assert_eq!(display_name(&b, &sp).await, "Danske Bank");
        let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        sqlx::query("UPDATE service_providers SET display_name = 'Nordea' WHERE client_id = $1")
            .bind(&sp)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(sesam_store::SIGNAL_CHANNEL)
            .bind(
                Signal::ServiceProviderChanged {
                    client_id: sp.clone(),
                }
                .payload(),
            )
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(
            becomes(Duration::from_secs(1), &"Nordea".to_owned(), || {
                display_name(&b, &sp)
            })
            .await,
            "node B uses the changed record"
        );

        // B applies signals in commit order: once it uses a rotation committed after the
        // SP's signals, it has applied those too and holds no late drop of its copy.
        b.current_signing_keys().await.unwrap();
        let settled = active(&a.rotate_signing_keys(&operator()).await.unwrap());
        assert!(
            becomes(Duration::from_secs(1), &settled, || async {
                active(&b.current_signing_keys().await.unwrap())
            })
            .await
        );
        assert_eq!(display_name(&b, &sp).await, "Nordea");

        // A change no one signals (as if its signal were lost) stays unseen behind the
        // long TTL ...
        sqlx::query(
            "UPDATE service_providers SET display_name = 'Jyske Bank' WHERE client_id = $1",
        )
        .bind(&sp)
        .execute(&mut db)
        .await
        .unwrap();
        assert_eq!(display_name(&b, &sp).await, "Nordea");
        // ... until the listener loses its connection: the node resyncs.
        let resyncs = b.signal_resyncs();
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND datname = current_database()",
        )
        .bind(sesam_store::postgres::LISTENER_APPLICATION_NAME)
        .fetch_all(&mut db)
        .await
        .unwrap();
        assert!(!killed.is_empty(), "the listeners were found");
        assert!(
            becomes(Duration::from_secs(10), &true, || async {
                b.signal_resyncs() > resyncs
            })
            .await,
            "node B resynced after its listener lost the connection"
        );
        assert_eq!(
            display_name(&b, &sp).await,
            "Jyske Bank",
            "the resync dropped node B's cached record"
        );
        // The listener is back by itself: signals arrive again.
        listening(&a, &b).await;
        let again = active(&a.rotate_signing_keys(&operator()).await.unwrap());
        assert!(
            becomes(Duration::from_secs(1), &again, || async {
                active(&b.current_signing_keys().await.unwrap())
            })
            .await,
            "node B sees rotations again after its listener came back"
        );
    }
}
