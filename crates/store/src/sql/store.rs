//! The adapter object. This file is compiled once per backend (see `sqlite/mod.rs` and
//! `postgres/mod.rs`), with `Db` being that backend's database type.

use sesam_domain::AuditKey;
use sqlx::Pool;
use sqlx::migrate::{MigrateError, Migrator};

use super::Db;
use crate::{Store, StoreError};

/// Two pools: writers take `pool` (and may hold a row lock while they work), plain reads
/// take `read_pool`. A lock holder that needs a read can then always get a connection,
/// even when every writer connection is waiting for its lock.
pub struct SqlStore {
    pub(super) pool: Pool<Db>,
    pub(super) read_pool: Pool<Db>,
    pub(super) audit_key: AuditKey,
}

impl SqlStore {
    pub(crate) fn from_pools(pool: Pool<Db>, read_pool: Pool<Db>, audit_key: AuditKey) -> Self {
        Self {
            pool,
            read_pool,
            audit_key,
        }
    }

    pub(crate) async fn migrate(&self, migrator: &Migrator) -> Result<(), StoreError> {
        migrator.run(&self.pool).await.map_err(|e| match e {
            MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => StoreError::from(e),
            MigrateError::VersionMissing(v) => StoreError::Migration(format!(
                "the database has migration {v}, which this version of sesam does not know; it was last used by a newer version"
            )),
            other => StoreError::Migration(other.to_string()),
        })
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
        self.read_pool.close().await;
    }
}

impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        <Db as sqlx::Database>::NAME
    }
}
