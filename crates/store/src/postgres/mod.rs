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
mod listener;
mod pool;
/// The shared SQL adapter, compiled here with this backend's `db` and `dialect`
/// (see `sql/mod.rs`). Its `StoreError::from(e)` converts the errors of statements run
/// with sqlx directly (multi-row statements); `db` already answers with a `StoreError`.
#[path = "../sql/mod.rs"]
#[allow(clippy::duplicate_mod, clippy::useless_conversion)]
mod sql;

pub use listener::LISTENER_APPLICATION_NAME;
pub use sql::SqlStore;

/// How long the database may take before a node gives up on it, so that a slow or dead
/// database makes requests fail (and `/readyz` answer 503) instead of hanging the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The longest one statement may run (PostgreSQL's `statement_timeout`).
    pub statement: Duration,
    /// The longest a transaction may sit idle holding its locks
    /// (`idle_in_transaction_session_timeout`), say of a node that stopped answering.
    pub idle_in_transaction: Duration,
    /// The longest a request waits for a pooled connection.
    pub acquire: Duration,
    /// The longest connecting (at start-up and when the pool opens a new connection).
    pub connect: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            statement: Duration::from_secs(30),
            idle_in_transaction: Duration::from_secs(60),
            acquire: Duration::from_secs(5),
            connect: Duration::from_secs(5),
        }
    }
}

fn millis(d: Duration) -> String {
    // 0 would switch the PostgreSQL timeout off: at least 1 ms.
    d.as_millis().max(1).to_string()
}

impl SqlStore {
    /// Connects and applies pending migrations (under PostgreSQL's advisory lock, so
    /// several nodes starting at once migrate once).
    pub async fn connect(url: &str, audit_key: AuditKey) -> Result<Self, StoreError> {
        Self::connect_with(url, audit_key, Timeouts::default()).await
    }

    /// [`Self::connect`] with the given timeouts.
    pub async fn connect_with(
        url: &str,
        audit_key: AuditKey,
        timeouts: Timeouts,
    ) -> Result<Self, StoreError> {
        let statement = millis(timeouts.statement);
        let idle = millis(timeouts.idle_in_transaction);
        let plain =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl(e.to_string()))?;
        let options = plain.clone().options([
            ("statement_timeout", statement.as_str()),
            ("idle_in_transaction_session_timeout", idle.as_str()),
        ]);
        // One direct connection first: a pool retries until its timeout and then reports
        // only that it timed out, while this shows the real cause (refused, bad password…).
        // It applies the migrations, without the statement timeout.
        let mut probe = tokio::time::timeout(timeouts.connect, PgConnection::connect_with(&plain))
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "no answer from the server within {} ms",
                    timeouts.connect.as_millis()
                ))
            })?
            .map_err(|e| match StoreError::from(e) {
                StoreError::Unavailable(m) => StoreError::Unavailable(format!(
                    "{}:{}: {m}",
                    options.get_host(),
                    options.get_port()
                )),
                other => other,
            })?;
        let migrated = dialect::migrate(&mut probe).await;
        let _ = probe.close().await;
        migrated?;
        // A pooled connection idle for a while is tested before use, so after a
        // PostgreSQL restart the dead ones are replaced instead of failing one request
        // each; one that fails in use is closed (`pool.rs`).
        let read_pool = pool::Pool::new(options.clone(), POOL_SIZE, timeouts);
        let pool = pool::Pool::new(options.clone(), POOL_SIZE, timeouts);
        let feed = dialect::Feed::start(&options, timeouts.connect);
        Ok(Self::from_pools(pool, read_pool, audit_key, feed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pooled connection carries the configured timeouts: a statement that runs
    /// longer is cancelled by the server instead of holding the request.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pooled_connections_carry_the_timeouts() {
        let Some(url) = sesam_testkit::postgres_database().await else {
            return;
        };
        let keys = sesam_domain::MasterKey::from_hex(&"5a".repeat(32))
            .unwrap()
            .keys();
        let timeouts = Timeouts {
            statement: Duration::from_millis(300),
            idle_in_transaction: Duration::from_secs(7),
            ..Timeouts::default()
        };
        let store = SqlStore::connect_with(&url, AuditKey::from(&keys), timeouts)
            .await
            .unwrap();
        let (write, read) = store.pools();
        for pool in [write, read] {
            let mut conn = pool.acquire().await.unwrap();
            let shown: String = sqlx::query_scalar("SHOW idle_in_transaction_session_timeout")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(shown, "7s");
            let slow = sqlx::query("SELECT pg_sleep(5)").execute(&mut *conn).await;
            let err = slow.expect_err("the statement timeout cancels it");
            assert!(err.to_string().contains("statement timeout"), "{err}");
        }
    }
}
