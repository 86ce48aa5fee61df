//! The SQLite adapter: one file in the data directory, WAL mode, so a running server and
//! operator commands can use it at the same time.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sesam_domain::AuditKey;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::StoreError;

type Db = sqlx::Sqlite;

mod dialect;
/// The shared SQL adapter, compiled here with `Db` = this backend (see `sql/mod.rs`).
#[path = "../sql/mod.rs"]
#[allow(clippy::duplicate_mod)]
mod sql;

pub use sql::SqlStore;

/// How long a writer waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a write waits for its turn on the one writer connection.
const WRITE_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pages in the WAL before a commit copies them into the database file: 10× SQLite's
/// default, so hot index pages are copied once per 40 MiB of writes, not once per 4 MiB.
const WAL_CHECKPOINT_PAGES: i64 = 10_000;

/// The writer's page cache, as SQLite's negative `cache_size` (KiB): 32 MiB.
const WRITER_CACHE_KIB: i64 = -32 * 1024;

impl SqlStore {
    /// Opens (or creates) the database file and applies pending migrations.
    pub async fn open(path: &Path, audit_key: AuditKey) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|e| StoreError::BadUrl(e.to_string()))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let read_pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(BUSY_TIMEOUT * 2)
            .connect_lazy_with(options.clone());
        // One writer connection: SQLite runs one write transaction at a time anyway, and
        // writers queued on the pool wait without the busy handler's sleeps (1, 2, 5, …
        // 100 ms), which under load cost more than the writes. Its page cache is larger
        // (allocated as used) so big transactions do not spill to disk before commit.
        let write_options = options
            .pragma("cache_size", WRITER_CACHE_KIB.to_string())
            .pragma("temp_store", "memory")
            .pragma("wal_autocheckpoint", WAL_CHECKPOINT_PAGES.to_string());
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(WRITE_QUEUE_TIMEOUT)
            .connect_with(write_options)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Unavailable(m) => {
                    StoreError::Unavailable(format!("{}: {m}", path.display()))
                }
                other => other,
            })?;
        let store = Self::from_pools(pool, read_pool, audit_key);
        store.migrate(&dialect::migrator()).await?;
        Ok(store)
    }
}
