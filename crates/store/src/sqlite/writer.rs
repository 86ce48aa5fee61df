//! The one SQLite writer, with group commit.
//!
//! SQLite runs one write transaction at a time, and a durable commit is an fsync (about
//! 0.85 ms on the reference machine), so committing each unit of work alone caps a server
//! at roughly a thousand writes a second whatever else it does. Here concurrent units
//! share a transaction: each runs in its own savepoint (a unit that fails is rolled back
//! to it and the others are not touched), and one commit, made on a thread of its own,
//! makes the whole group durable. Every caller is answered only after that commit.
//!
//! Units queue on a fair async mutex. The first unit of a group begins the transaction
//! and wakes the committer thread, which queues on the same mutex behind the units already
//! waiting: everything that arrived before it is in the group, everything after it goes
//! into the next one.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

use crate::stats;
use crate::{Signal, SignalSender, StoreError};

/// How long a unit waits for its turn on the writer before giving up.
const WRITE_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a unit waits for another process (an operator command) to release SQLite's
/// write lock. Waited asynchronously, so a busy database does not block a thread.
const LOCK_WAIT: Duration = Duration::from_secs(5);
const LOCK_RETRY: Duration = Duration::from_millis(5);

/// The writer's page cache from the first bulk write on, as SQLite's negative
/// `cache_size` (KiB): 256 MiB, so that an import's batch finds the index pages it changes
/// in memory and SQLite need not write them out before the commit. Bulk writes are made
/// by operator commands (an import), whose process ends with them.
const BULK_CACHE_KIB: i64 = -256 * 1024;

/// The writer connection: units and the committer take turns with it.
pub struct WritePool {
    state: Arc<Mutex<WriterState>>,
    committer: mpsc::Sender<()>,
    /// Where the signals of committed units go (this process is the only server on the
    /// file, so in-process delivery reaches every subscriber).
    signals: SignalSender,
}

pub(super) struct WriterState {
    conn: Connection,
    /// A group's transaction is open (units have written, or are writing, into it).
    open: bool,
    /// The committer has been woken for the open group.
    commit_requested: bool,
    /// The units of the open group that finished, waiting for its commit.
    waiting: Vec<oneshot::Sender<Result<(), StoreError>>>,
    /// Groups committed by this writer.
    commits: u64,
}

impl WritePool {
    /// Takes over `conn` (already configured and migrated) and starts the committer.
    pub(super) fn start(conn: Connection, signals: SignalSender) -> Result<Self, StoreError> {
        let state = Arc::new(Mutex::new(WriterState {
            conn,
            open: false,
            commit_requested: false,
            waiting: Vec::new(),
            commits: 0,
        }));
        let (committer, wake) = mpsc::channel();
        let shared = state.clone();
        std::thread::Builder::new()
            .name("sesam-sqlite-commit".into())
            .spawn(move || commit_groups(&shared, &wake))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the commit thread: {e}")))?;
        Ok(Self {
            state,
            committer,
            signals,
        })
    }

    /// Starts a unit of work: its statements run in a savepoint of the open group.
    pub async fn begin(&self) -> Result<Transaction<'static>, StoreError> {
        let mut guard = tokio::time::timeout(WRITE_QUEUE_TIMEOUT, self.state.clone().lock_owned())
            .await
            .map_err(|_| {
                StoreError::Unavailable("timed out waiting for the database writer".into())
            })?;
        if !guard.open {
            begin_immediate(&mut guard.conn).await?;
            guard.open = true;
        }
        if let Err(e) = guard.conn.execute_batch("SAVEPOINT unit") {
            self.request_commit(&mut guard);
            return Err(e.into());
        }
        Ok(Transaction {
            guard,
            committer: self.committer.clone(),
            released: false,
            alone: false,
            signals: Vec::new(),
            feed: self.signals.clone(),
            _life: std::marker::PhantomData,
        })
    }

    /// Starts a unit that is a transaction of its own, for a bulk write (an import's
    /// batch): it waits until the open group is committed, and its statements run outside
    /// any savepoint. Inside a savepoint SQLite copies every page a statement changes to
    /// the savepoint's journal, and every statement's end walks that journal; a batch of
    /// an import changes tens of thousands of pages, and the profile showed the walk alone
    /// at 8 % of the import. Dropped without [`Transaction::commit`], the transaction is
    /// rolled back, which holds nothing else. Units that start after it share its commit.
    pub async fn begin_alone(&self) -> Result<Transaction<'static>, StoreError> {
        loop {
            let mut guard =
                tokio::time::timeout(WRITE_QUEUE_TIMEOUT, self.state.clone().lock_owned())
                    .await
                    .map_err(|_| {
                        StoreError::Unavailable("timed out waiting for the database writer".into())
                    })?;
            if !guard.open {
                guard
                    .conn
                    .execute_batch(&format!("PRAGMA cache_size = {BULK_CACHE_KIB}"))?;
                begin_immediate(&mut guard.conn).await?;
                guard.open = true;
                return Ok(Transaction {
                    guard,
                    committer: self.committer.clone(),
                    released: false,
                    alone: true,
                    signals: Vec::new(),
                    feed: self.signals.clone(),
                    _life: std::marker::PhantomData,
                });
            }
            // Other units' group is open: wait for its commit (its outcome is theirs).
            let (tx, rx) = oneshot::channel();
            guard.waiting.push(tx);
            self.request_commit(&mut guard);
            drop(guard);
            let _ = rx.await;
        }
    }

    fn request_commit(&self, state: &mut WriterState) {
        request_commit(state, &self.committer);
    }

    /// Waits for the open group (if any) to be committed.
    pub async fn close(&self) {
        let mut guard = self.state.lock().await;
        if guard.open {
            commit_group(&mut guard);
        }
    }
}

/// `BEGIN IMMEDIATE`, waiting (without blocking the thread) while another process holds
/// SQLite's write lock.
async fn begin_immediate(conn: &mut Connection) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + LOCK_WAIT;
    loop {
        match conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(StoreError::from)
        {
            Err(StoreError::Locked) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(LOCK_RETRY).await;
            }
            other => return other,
        }
    }
}

fn request_commit(state: &mut WriterState, committer: &mpsc::Sender<()>) {
    if state.open && !state.commit_requested {
        state.commit_requested = true;
        if committer.send(()).is_err() {
            // The committer is gone (the store is being dropped): commit here.
            commit_group(state);
        }
    }
}

/// The committer thread: one commit per wake-up, for every unit that got in before it.
fn commit_groups(state: &Mutex<WriterState>, wake: &mpsc::Receiver<()>) {
    while wake.recv().is_ok() {
        let mut guard = state.blocking_lock();
        if guard.open {
            commit_group(&mut guard);
        }
        guard.commit_requested = false;
    }
}

fn commit_group(state: &mut WriterState) {
    stats::commit();
    state.commits += 1;
    let result = state.conn.execute_batch("COMMIT").map_err(StoreError::from);
    if result.is_err() && !state.conn.is_autocommit() {
        let _ = state.conn.execute_batch("ROLLBACK");
    }
    state.open = false;
    state.commit_requested = false;
    for unit in state.waiting.drain(..) {
        let _ = unit.send(result.clone());
    }
}

/// A unit of work on the writer. Dropped without [`Transaction::commit`], its savepoint is
/// rolled back and nothing it wrote is kept.
pub struct Transaction<'c> {
    guard: OwnedMutexGuard<WriterState>,
    committer: mpsc::Sender<()>,
    released: bool,
    /// Begun with [`WritePool::begin_alone`]: no savepoint of its own.
    alone: bool,
    /// Signals of this unit, delivered once its group is committed (dropped with it).
    signals: Vec<Signal>,
    feed: SignalSender,
    _life: std::marker::PhantomData<&'c ()>,
}

impl Transaction<'_> {
    /// Keeps the unit's writes and waits until the group they are in is durable; then
    /// delivers the unit's signals.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        if !self.alone {
            self.guard.conn.execute_batch("RELEASE unit")?;
        }
        self.released = true;
        let (tx, rx) = oneshot::channel();
        self.guard.waiting.push(tx);
        let signals = std::mem::take(&mut self.signals);
        let feed = self.feed.clone();
        drop(self);
        rx.await.map_err(|_| {
            StoreError::Unavailable("the database writer stopped before the commit".into())
        })??;
        for signal in signals {
            feed.send(signal);
        }
        Ok(())
    }

    /// Announces `signal` once this unit is committed (never if it is rolled back).
    pub fn signal_after_commit(&mut self, signal: Signal) {
        if !self.signals.contains(&signal) {
            self.signals.push(signal);
        }
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        let state = &mut *self.guard;
        if !self.released && self.alone {
            if !state.conn.is_autocommit() {
                let _ = state.conn.execute_batch("ROLLBACK");
            }
            state.open = false;
        } else if !self.released {
            let _ = state.conn.execute_batch("ROLLBACK TO unit; RELEASE unit");
            if state.conn.is_autocommit() && state.open {
                // SQLite gave up the whole transaction (a full disk, an I/O error): the
                // units that finished before this one are lost too, and are told so.
                state.open = false;
                for unit in state.waiting.drain(..) {
                    let _ = unit.send(Err(StoreError::Database(
                        "the transaction was rolled back by the database".into(),
                    )));
                }
            }
        }
        request_commit(state, &self.committer);
    }
}

impl Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.guard.conn
    }
}

impl DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.guard.conn
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::sqlite::connection;

    async fn pool() -> (tempfile::TempDir, Arc<WritePool>) {
        let dir = tempfile::tempdir().unwrap();
        let conn = connection::open_writer(&dir.path().join("w.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .unwrap();
        (
            dir,
            Arc::new(WritePool::start(conn, SignalSender::default()).unwrap()),
        )
    }

    async fn rows(pool: &WritePool) -> Vec<i64> {
        let tx = pool.begin().await.unwrap();
        let mut stmt = tx.prepare("SELECT n FROM t ORDER BY n").unwrap();
        let all = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<Vec<i64>, _>>()
            .unwrap();
        drop(stmt);
        tx.commit().await.unwrap();
        all
    }

    /// Units queued behind an open one share its commit; a unit that fails takes only
    /// its own writes with it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_units_share_one_commit_and_a_failed_unit_undoes_only_itself() {
        let (_dir, pool) = pool().await;
        let commits_before = pool.state.lock().await.commits;
        let first = pool.begin().await.unwrap();
        first.execute("INSERT INTO t (n) VALUES (0)", []).unwrap();
        let mut units = Vec::new();
        for n in 1..=20_i64 {
            let pool = pool.clone();
            units.push(tokio::spawn(async move {
                let tx = pool.begin().await?;
                tx.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                if n % 5 == 0 {
                    // Fails after writing: dropped without commit.
                    return Err(StoreError::Conflict("test"));
                }
                tx.commit().await
            }));
        }
        // Let the twenty queue behind the open unit.
        while Arc::strong_count(&pool.state) < 22 {
            tokio::task::yield_now().await;
        }
        first.commit().await.unwrap();
        for (i, u) in units.into_iter().enumerate() {
            let n = i as i64 + 1;
            assert_eq!(u.await.unwrap().is_ok(), n % 5 != 0, "unit {n}");
        }
        let expected: Vec<i64> = (0..=20).filter(|n| n % 5 != 0 || *n == 0).collect();
        assert_eq!(rows(&pool).await, expected);
        let groups = pool.state.lock().await.commits - commits_before;
        assert!(groups <= 3, "21 units took {groups} commits");
    }

    /// A unit that is abandoned part-way (its task cancelled) leaves no trace, and the
    /// writer carries on.
    #[tokio::test]
    async fn an_abandoned_unit_is_rolled_back() {
        let (_dir, pool) = pool().await;
        {
            let tx = pool.begin().await.unwrap();
            tx.execute("INSERT INTO t (n) VALUES (1)", []).unwrap();
        }
        let tx = pool.begin().await.unwrap();
        tx.execute("INSERT INTO t (n) VALUES (2)", []).unwrap();
        tx.commit().await.unwrap();
        assert_eq!(rows(&pool).await, vec![2]);
    }

    /// A unit alone (a bulk write) waits for the open group's commit, undoes all it wrote
    /// when dropped, and commits what it wrote when asked; the writer carries on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_unit_alone_waits_for_the_open_group_and_is_kept_or_undone_whole() {
        let (_dir, pool) = pool().await;
        let first = pool.begin().await.unwrap();
        first.execute("INSERT INTO t (n) VALUES (1)", []).unwrap();
        let abandoned = tokio::spawn({
            let pool = pool.clone();
            async move {
                let tx = pool.begin_alone().await?;
                tx.execute("INSERT INTO t (n) VALUES (2)", [])?;
                tx.execute("INSERT INTO t (n) VALUES (3)", [])?;
                // Fails part-way (a crash of the batch): nothing of it stays.
                Err::<(), _>(StoreError::Conflict("test"))
            }
        });
        while Arc::strong_count(&pool.state) < 4 {
            tokio::task::yield_now().await;
        }
        first.commit().await.unwrap();
        assert!(abandoned.await.unwrap().is_err());
        assert_eq!(rows(&pool).await, vec![1]);

        let alone = pool.begin_alone().await.unwrap();
        alone.execute("INSERT INTO t (n) VALUES (4)", []).unwrap();
        let after = tokio::spawn({
            let pool = pool.clone();
            async move {
                let tx = pool.begin().await?;
                tx.execute("INSERT INTO t (n) VALUES (5)", [])?;
                tx.commit().await
            }
        });
        alone.commit().await.unwrap();
        after.await.unwrap().unwrap();
        assert_eq!(rows(&pool).await, vec![1, 4, 5]);
    }

    /// A unit's constraint violation is its own error; the group's other units commit.
    #[tokio::test]
    async fn a_failing_statement_fails_its_unit_only() {
        let (_dir, pool) = pool().await;
        let tx = pool.begin().await.unwrap();
        tx.execute("INSERT INTO t (n) VALUES (1)", []).unwrap();
        tx.commit().await.unwrap();
        let tx = pool.begin().await.unwrap();
        let err = tx.execute("INSERT INTO t (n) VALUES (1)", []).unwrap_err();
        assert!(matches!(StoreError::from(err), StoreError::Database(_)));
        drop(tx);
        let tx = pool.begin().await.unwrap();
        tx.execute("INSERT INTO t (n) VALUES (3)", []).unwrap();
        tx.commit().await.unwrap();
        assert_eq!(rows(&pool).await, vec![1, 3]);
    }
}
