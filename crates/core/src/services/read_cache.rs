//! Copies of what every login step reads and almost never changes: the registered SPs
//! (read about ten times per login) and the signing keys (three times). A change made
//! anywhere (this node, another node, `sesam admin` on PostgreSQL) drops the copy on
//! every node through the change feed (`services/signals.rs`), so it is used at once.
//! The TTL is only the fallback for a lost signal (and for `sesam admin` on SQLite, a
//! second process whose signals stay in it). Unknown client ids are not remembered, so
//! a newly registered SP works immediately everywhere.

use sesam_domain::Timestamp;
use sesam_domain::signing_keys::SigningKey;
use sesam_store::{ServiceProviderRecord, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::context::Sesam;

/// How long (ms) an SP record is used before it is read again, when no signal said it
/// changed (the fallback).
const SP_TTL_MS: i64 = 10_000;
/// How long the signing-key list is used before it is read again, when no signal said it
/// changed (the fallback). A rotation publishes
/// the next key a day ahead and keeps the old one published, so a node that signs with
/// the old key for a few more seconds issues tokens that still verify.
const KEYS_TTL_MS: i64 = 5_000;
/// More SPs than this and the cache starts over (a national service has hundreds).
const MAX_SPS: usize = 10_000;

/// Whether a copy read at `at` may still be used at `now` (a clock set back makes it stale).
fn fresh(at: Timestamp, now: Timestamp, ttl_ms: i64) -> bool {
    (0..ttl_ms).contains(&(now.millis() - at.millis()))
}

#[derive(Default)]
pub struct ReadCache {
    sps: Mutex<HashMap<String, (Timestamp, ServiceProviderRecord)>>,
    keys: Mutex<Option<(Timestamp, Vec<SigningKey>)>>,
    /// Both TTLs in ms when set (above 0): tests make the fallback long to show that the
    /// change feed, not the TTL, brought a change.
    ttl_override_ms: AtomicI64,
}

impl ReadCache {
    fn ttl_ms(&self, default: i64) -> i64 {
        match self.ttl_override_ms.load(Ordering::Relaxed) {
            0 => default,
            set => set,
        }
    }
}

impl Sesam {
    /// The registered SP, from the cache when it was read less than [`SP_TTL_MS`] ago.
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn registered_sp(
        &self,
        client_id: &str,
    ) -> Result<Option<ServiceProviderRecord>, StoreError> {
        if let Ok(sps) = self.read_cache.sps.lock()
            && let Some((at, sp)) = sps.get(client_id)
            && fresh(*at, self.clock.now(), self.read_cache.ttl_ms(SP_TTL_MS))
        {
            return Ok(Some(sp.clone()));
        }
        let sp = self.store.service_provider(client_id).await?;
        if let (Some(sp), Ok(mut sps)) = (&sp, self.read_cache.sps.lock()) {
            if sps.len() >= MAX_SPS {
                sps.clear();
            }
            sps.insert(client_id.to_owned(), (self.clock.now(), sp.clone()));
        }
        Ok(sp)
    }

    /// The signing keys, from the cache when they were read less than [`KEYS_TTL_MS`] ago.
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn current_signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        if let Ok(keys) = self.read_cache.keys.lock()
            && let Some((at, keys)) = keys.as_ref()
            && fresh(*at, self.clock.now(), self.read_cache.ttl_ms(KEYS_TTL_MS))
        {
            return Ok(keys.clone());
        }
        let keys = self.store.signing_keys().await?;
        if let Ok(mut cached) = self.read_cache.keys.lock() {
            *cached = Some((self.clock.now(), keys.clone()));
        }
        Ok(keys)
    }

    /// Sets both cache TTLs (the fallback for a lost signal) instead of the defaults.
    pub fn with_cache_ttl(self, ttl: std::time::Duration) -> Self {
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        self.read_cache.ttl_override_ms.store(ms, Ordering::Relaxed);
        self
    }

    /// After this process changed the keys: the next read goes to the store.
    pub(crate) fn forget_signing_keys(&self) {
        self.read_cache.forget_keys();
    }
}

impl ReadCache {
    /// The SP changed: its next read goes to the store.
    pub(crate) fn forget_sp(&self, client_id: &str) {
        if let Ok(mut sps) = self.sps.lock() {
            sps.remove(client_id);
        }
    }

    /// The signing keys changed: the next read goes to the store.
    pub(crate) fn forget_keys(&self) {
        if let Ok(mut cached) = self.keys.lock() {
            *cached = None;
        }
    }

    /// Signals may have been missed: every next read goes to the store.
    pub(crate) fn forget_all(&self) {
        if let Ok(mut sps) = self.sps.lock() {
            sps.clear();
        }
        self.forget_keys();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sesam_domain::signing_keys::KeyState;
    use sesam_domain::{AuditKey, FixedClock, MasterKey, OsRandom, Timestamp};
    use sesam_store::Location;

    use super::*;
    use crate::services::Actor;

    fn active(keys: &[SigningKey]) -> String {
        keys.iter()
            .find(|k| k.state == KeyState::Active)
            .map(|k| k.kid.clone())
            .unwrap_or_default()
    }

    /// A rotation by another process that sends this one no signal (a second SQLite
    /// store on the file, like `sesam admin`) is seen once the copy is older than the TTL
    /// by the injected clock, and not before (the wall clock plays no part).
    #[tokio::test]
    async fn cached_keys_age_by_the_injected_clock() {
        let (_dir, path) = sesam_testkit::sqlite_path();
        let clock = Arc::new(FixedClock::at(Timestamp::from_millis(1_796_126_400_000)));
        let node = |keys| async {
            let store = sesam_store::open(&Location::Sqlite(path.clone()), AuditKey::from(&keys))
                .await
                .unwrap();
            Sesam::assemble(store, keys, clock.clone(), Arc::new(OsRandom))
        };
        let master = MasterKey::from_hex(&"5a".repeat(32)).unwrap();
        let this = node(master.keys()).await;
        let other = node(master.keys()).await;

        this.ensure_signing_keys().await.unwrap();
        // This node's own signal of the keys it just made drops its (empty) copy: let the
        // follower (on this single-threaded runtime) apply it before the copy is made.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let before = active(&this.current_signing_keys().await.unwrap());
        let rotated = other
            .rotate_signing_keys(&Actor::operator("other node").unwrap())
            .await
            .unwrap();
        assert_ne!(active(&rotated), before);

        clock.advance_seconds(4);
        assert_eq!(active(&this.current_signing_keys().await.unwrap()), before);
        clock.advance_seconds(2);
        assert_eq!(
            active(&this.current_signing_keys().await.unwrap()),
            active(&rotated)
        );
    }
}
