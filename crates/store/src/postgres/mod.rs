//! The PostgreSQL adapter: any number of server nodes share one database.

use std::str::FromStr;
use std::time::Duration;

use sesam_domain::AuditKey;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};

use crate::StoreError;

/// A pooled connection idle for longer than this is checked with a round trip before it
/// is handed out (one that went away while idle, e.g. in a database restart, is replaced).
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

pub mod db;
mod dialect;
/// The shared SQL adapter, compiled here with this backend's `db` and `dialect`
/// (see `sql/mod.rs`).
#[path = "../sql/mod.rs"]
#[allow(clippy::duplicate_mod)]
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
        let read_pool = pool_options().connect_lazy_with(options.clone());
        let pool = pool_options().connect_with(options).await?;
        dialect::migrate(&pool).await?;
        Ok(Self::from_pools(pool, read_pool, audit_key))
    }
}

/// 16 connections per pool, two pools per node. sqlx's default pings every
/// connection on every checkout, one extra round trip per statement run on the pool and
/// per unit of work (a third of a login's round trips); a connection busy a moment ago
/// is known to be alive, so only one idle for a while is pinged.
fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}
