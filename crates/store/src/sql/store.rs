//! The adapter object. This file is compiled once per backend (see `sqlite/mod.rs` and
//! `postgres/mod.rs`), with that backend's `db` types.

use sesam_domain::AuditKey;

use super::db::{ReadPool, WritePool};
use super::dialect;
use crate::{Signal, SignalStore, Store};

/// Two pools: writers take `pool` (and may hold a row lock while they work), plain reads
/// take `read_pool`. A lock holder that needs a read can then always get a connection,
/// even when every writer connection is waiting for its lock.
pub struct SqlStore {
    pub(super) pool: WritePool,
    pub(super) read_pool: ReadPool,
    pub(super) audit_key: AuditKey,
    /// The change feed of this database as this process receives it.
    pub(super) feed: dialect::Feed,
}

impl SqlStore {
    pub(crate) fn from_pools(
        pool: WritePool,
        read_pool: ReadPool,
        audit_key: AuditKey,
        feed: dialect::Feed,
    ) -> Self {
        Self {
            pool,
            read_pool,
            audit_key,
            feed,
        }
    }

    /// Both pools, for the adapter's own tests.
    #[cfg(test)]
    #[allow(dead_code)]
    pub(crate) fn pools(&self) -> (&WritePool, &ReadPool) {
        (&self.pool, &self.read_pool)
    }

    /// Closes the pools, waiting for work in progress to be committed.
    pub async fn close(&self) {
        self.pool.close().await;
        self.read_pool.close().await;
    }
}

impl SignalStore for SqlStore {
    fn signals(&self) -> tokio::sync::broadcast::Receiver<Signal> {
        self.feed.subscribe()
    }
}

impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        dialect::NAME
    }
}
