//! The SQLite adapter: one file in the data directory, WAL mode, so a running server and
//! operator commands can use it at the same time.

use std::path::Path;

use sesam_domain::AuditKey;

use crate::StoreError;

mod connection;
pub mod db;
mod dialect;
mod migrate;
mod readers;
/// The shared SQL adapter, compiled here with this backend's `db` and `dialect`
/// (see `sql/mod.rs`). Its `StoreError::from(e)` converts sqlx's errors on PostgreSQL;
/// here `db` already answers with a `StoreError`.
#[path = "../sql/mod.rs"]
#[allow(clippy::duplicate_mod, clippy::useless_conversion)]
mod sql;
mod writer;

pub use sql::SqlStore;

/// Reader connections: reads run on the caller's thread, so more than the cores buys
/// little; a few spare ones cover reads waiting on the disk.
const READERS: usize = 8;

impl SqlStore {
    /// Opens (or creates) the database file and applies pending migrations.
    pub async fn open(path: &Path, audit_key: AuditKey) -> Result<Self, StoreError> {
        let mut writer = connection::open_writer(path)?;
        migrate::run(&mut writer, dialect::MIGRATIONS)?;
        let feed = dialect::Feed::default();
        let pool = db::WritePool::start(writer, feed.clone())?;
        let read_pool = db::ReadPool::new(path.to_owned(), READERS);
        Ok(Self::from_pools(pool, read_pool, audit_key, feed))
    }
}
