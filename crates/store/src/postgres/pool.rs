//! A small pool of PostgreSQL connections, and the unit of work on one of them.
//!
//! Why not sqlx's pool: it checks every connection with a round trip when it hands it
//! back (a `Sync`, answered before the connection is idle again), from a task it spawns
//! per checkout. A login checks a connection out about 35 times, so that was a third of
//! its round trips to the database. Here a connection goes back to the pool as it is:
//! sqlx waits for whatever a dropped query left on the connection before it sends the
//! next one, a unit of work dropped without a commit is rolled back before its connection
//! is used again, and a connection that failed is closed instead of returned. A connection
//! idle for a while is checked before it is handed out, so one that went away while idle
//! (a database restart) is replaced rather than failing a request.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Timeouts;
use crate::StoreError;

/// How long closing waits for the connections in use.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// A connection idle for longer than this is checked with a round trip before use.
const CHECK_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Connections to one database, at most `max` at once.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    options: PgConnectOptions,
    max: usize,
    timeouts: Timeouts,
    check_when_idle_for: Duration,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<(PgConnection, Instant)>>,
}

impl Pool {
    /// A pool that connects when a connection is first needed.
    /// Waiting for a connection and opening one are bounded by `timeouts`.
    pub fn new(options: PgConnectOptions, max: usize, timeouts: Timeouts) -> Self {
        Self::checking_when_idle_for(options, max, timeouts, CHECK_WHEN_IDLE_FOR)
    }

    fn checking_when_idle_for(
        options: PgConnectOptions,
        max: usize,
        timeouts: Timeouts,
        idle: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                options,
                max,
                timeouts,
                check_when_idle_for: idle,
                permits: Arc::new(Semaphore::new(max)),
                idle: Mutex::new(Vec::with_capacity(max)),
            }),
        }
    }

    /// A connection of the pool, for as long as the returned value lives.
    pub async fn acquire(&self) -> Result<Pooled, StoreError> {
        let wait = self.inner.timeouts.acquire;
        let permit = tokio::time::timeout(wait, self.inner.permits.clone().acquire_owned())
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "no database connection free within {} ms",
                    wait.as_millis()
                ))
            })?
            .map_err(|_| StoreError::Unavailable("the database pool is closed".into()))?;
        loop {
            let idle = self.lock_idle().pop();
            let Some((mut conn, since)) = idle else { break };
            if since.elapsed() < self.inner.check_when_idle_for || conn.ping().await.is_ok() {
                return Ok(self.pooled(conn, permit));
            }
            // Gone while idle: dropped (its socket with it), and the next one tried.
        }
        let connect = self.inner.timeouts.connect;
        let conn = tokio::time::timeout(connect, PgConnection::connect_with(&self.inner.options))
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "no answer from the database within {} ms",
                    connect.as_millis()
                ))
            })??;
        Ok(self.pooled(conn, permit))
    }

    /// A unit of work: a transaction on a connection of the pool.
    pub async fn begin(&self) -> Result<Transaction<'static>, StoreError> {
        let mut conn = self.acquire().await?;
        match conn.execute("BEGIN").await {
            Ok(_) => Ok(Transaction::begun(conn)),
            Err(e) => {
                conn.discard();
                Err(e.into())
            }
        }
    }

    /// Waits (up to 10 seconds) for the connections in use to be given back, then closes
    /// them all and lets no one take a new one.
    pub async fn close(&self) {
        let all = u32::try_from(self.inner.max).unwrap_or(u32::MAX);
        let _all_back =
            tokio::time::timeout(CLOSE_WAIT, self.inner.permits.acquire_many(all)).await;
        self.inner.permits.close();
        let idle: Vec<_> = self.lock_idle().drain(..).collect();
        for (conn, _) in idle {
            let _ = conn.close().await;
        }
    }

    fn pooled(&self, conn: PgConnection, permit: OwnedSemaphorePermit) -> Pooled {
        Pooled {
            conn: Some(conn),
            pool: self.inner.clone(),
            _permit: permit,
        }
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<(PgConnection, Instant)>> {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A connection taken from the pool; given back when dropped, unless discarded.
pub struct Pooled {
    conn: Option<PgConnection>,
    pool: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl Pooled {
    /// Closes the connection instead of giving it back (after an error that may have
    /// left it broken).
    pub fn discard(&mut self) {
        self.conn = None;
    }
}

// `conn` is `None` only from `discard` or `drop` on, after which nothing derefs it.
impl Deref for Pooled {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match &self.conn {
            Some(conn) => conn,
            None => unreachable!("a discarded connection is not used"),
        }
    }
}

impl DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match &mut self.conn {
            Some(conn) => conn,
            None => unreachable!("a discarded connection is not used"),
        }
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && !self.pool.permits.is_closed()
        {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((conn, Instant::now()));
        }
    }
}

/// A unit of work on a connection of the pool. Dropped without [`Transaction::commit`],
/// it is rolled back at once, by a task of its own (so its row locks go with it), before
/// the connection is used again.
pub struct Transaction<'c> {
    /// `None` only once dropped.
    conn: Option<Pooled>,
    ended: bool,
    /// As sqlx's transactions, so the shared adapter names both alike.
    _life: PhantomData<&'c ()>,
}

impl Transaction<'_> {
    fn begun(conn: Pooled) -> Self {
        Self {
            conn: Some(conn),
            ended: false,
            _life: PhantomData,
        }
    }

    /// Commits the unit; the connection goes back to the pool.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        self.ended = true;
        let conn: &mut Pooled = match &mut self.conn {
            Some(conn) => conn,
            None => unreachable!("a unit has its connection until dropped"),
        };
        match conn.execute("COMMIT").await {
            Ok(_) => Ok(()),
            Err(e) => {
                conn.discard();
                Err(e.into())
            }
        }
    }
}

impl Deref for Transaction<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match &self.conn {
            Some(conn) => conn,
            None => unreachable!("a unit has its connection until dropped"),
        }
    }
}

impl DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match &mut self.conn {
            Some(conn) => conn,
            None => unreachable!("a unit has its connection until dropped"),
        }
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if self.ended {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if conn.execute("ROLLBACK").await.is_err() {
                        conn.discard();
                    }
                });
            }
            // No runtime to roll back on: the connection is closed, which rolls it back.
            Err(_) => conn.discard(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::Row as _;

    use super::*;

    async fn options() -> Option<PgConnectOptions> {
        let url = sesam_testkit::postgres_database().await?;
        Some(PgConnectOptions::from_str(&url).unwrap())
    }

    async fn backend_pid(pool: &Pool) -> i32 {
        let mut conn = pool.acquire().await.unwrap();
        sqlx::query("SELECT pg_backend_pid() AS pid")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .get("pid")
    }

    /// A unit dropped without a commit keeps nothing and holds no lock afterwards; a
    /// committed one keeps its writes.
    #[tokio::test]
    async fn a_dropped_unit_is_rolled_back_and_releases_its_locks() {
        let Some(options) = options().await else {
            return;
        };
        let pool = Pool::new(options, 2, Timeouts::default());
        let mut setup = pool.begin().await.unwrap();
        sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .execute(&mut *setup)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut *setup)
            .await
            .unwrap();
        setup.commit().await.unwrap();

        let mut dropped = pool.begin().await.unwrap();
        sqlx::query("SELECT n FROM t WHERE n = 1 FOR UPDATE")
            .execute(&mut *dropped)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&mut *dropped)
            .await
            .unwrap();
        drop(dropped);

        // Waits for the row lock if the dropped unit still held it (the guard only keeps
        // a broken test from hanging).
        let mut next = pool.begin().await.unwrap();
        let locked = tokio::time::timeout(
            Duration::from_secs(30),
            sqlx::query("SELECT n FROM t WHERE n = 1 FOR UPDATE").fetch_one(&mut *next),
        )
        .await;
        assert!(matches!(locked, Ok(Ok(_))), "the lock was released");
        let rows: i64 = sqlx::query("SELECT COUNT(*) AS c FROM t")
            .fetch_one(&mut *next)
            .await
            .unwrap()
            .get("c");
        assert_eq!(rows, 1, "the dropped unit's insert is gone");
        next.commit().await.unwrap();
    }

    /// A connection that went away while idle (a restart, an operator's kill) is found
    /// out by the check before use and replaced; without the check, the one statement
    /// that meets it fails, the connection is closed, and the next statement gets a new
    /// one.
    #[tokio::test]
    async fn a_connection_that_went_away_is_replaced() {
        let Some(options) = options().await else {
            return;
        };
        let admin = Pool::new(options.clone(), 1, Timeouts::default());
        let kill = |pid: i32| {
            let admin = admin.clone();
            async move {
                let mut conn = admin.acquire().await.unwrap();
                sqlx::query("SELECT pg_terminate_backend($1)")
                    .bind(pid)
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                // The backend ends after the call returns: wait until it is gone.
                loop {
                    let left: i64 =
                        sqlx::query("SELECT COUNT(*) AS c FROM pg_stat_activity WHERE pid = $1")
                            .bind(pid)
                            .fetch_one(&mut *conn)
                            .await
                            .unwrap()
                            .get("c");
                    if left == 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        };

        let checked =
            Pool::checking_when_idle_for(options.clone(), 1, Timeouts::default(), Duration::ZERO);
        let first = backend_pid(&checked).await;
        kill(first).await;
        let second = backend_pid(&checked).await;
        assert_ne!(first, second, "a new connection");

        let unchecked = Pool::checking_when_idle_for(
            options,
            1,
            Timeouts::default(),
            Duration::from_secs(3600),
        );
        let first = backend_pid(&unchecked).await;
        kill(first).await;
        let failed = super::super::db::query("SELECT 1 AS one")
            .fetch_one(&unchecked)
            .await;
        assert!(failed.is_err());
        let second = backend_pid(&unchecked).await;
        assert_ne!(first, second, "the broken connection was not given back");
    }
}
