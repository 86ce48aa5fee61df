//! The PostgreSQL adapter: any number of server nodes share one database.

use std::str::FromStr;
use std::time::Duration;

use sesam_domain::AuditKey;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::StoreError;

/// Connections per pool; each node has two (writers, and reads that must not wait for
/// a writer's lock).
const POOL_SIZE: usize = 16;

pub mod db;
mod dialect;
mod pool;
/// The shared SQL adapter, compiled here with this backend's `db` and `dialect`
/// (see `sql/mod.rs`). Its `StoreError::from(e)` converts the errors of statements run
/// with sqlx directly (multi-row statements); `db` already answers with a `StoreError`.
#[path = "../sql/mod.rs"]
#[allow(clippy::duplicate_mod, clippy::useless_conversion)]
mod sql;

pub use sql::SqlStore;

impl SqlStore {
    /// Connects and applies pending migrations (under PostgreSQL's advisory lock, so
    /// several nodes starting at once migrate once).
    pub async fn connect(url: &str, audit_key: AuditKey) -> Result<Self, StoreError> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl(e.to_string()))?;
        // One direct connection first: a pool retries until its timeout and then reports
        // only that it timed out, while this shows the real cause (refused, bad password…).
        let probe = tokio::time::timeout(
            Duration::from_secs(10),
            PgConnection::connect_with(&options),
        )
        .await
        .map_err(|_| StoreError::Unavailable("no answer from the server within 10 seconds".into()))?
        .map_err(|e| match StoreError::from(e) {
            StoreError::Unavailable(m) => StoreError::Unavailable(format!(
                "{}:{}: {m}",
                options.get_host(),
                options.get_port()
            )),
            other => other,
        })?;
        let _ = probe.close().await;
        let read_pool = pool::Pool::new(options.clone(), POOL_SIZE);
        let pool = pool::Pool::new(options, POOL_SIZE);
        dialect::migrate(&pool).await?;
        Ok(Self::from_pools(pool, read_pool, audit_key))
    }
}
