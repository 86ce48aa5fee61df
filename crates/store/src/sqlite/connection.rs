//! Opening SQLite connections with sesam's settings.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// How long a reader waits on SQLite's locks (rare in WAL mode: during recovery).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Pages in the WAL before a commit copies them into the database file: 10× SQLite's
/// default, so hot index pages are copied once per 40 MiB of writes, not once per 4 MiB.
const WAL_CHECKPOINT_PAGES: i64 = 10_000;

/// The writer's page cache, as SQLite's negative `cache_size` (KiB): 8 MiB, room for the
/// interior pages of every index the writer touches. Not more: SQLite walks the whole
/// page cache's hash table at every commit (`pcache1TruncateUnsafe`, 3.4 % of the server's
/// CPU with 32 MiB, 1.2 % with 8), and pages the writer misses are in the OS's page cache.
const WRITER_CACHE_KIB: i64 = -8 * 1024;

/// Prepared statements kept per connection: every statement of the adapter fits.
const STATEMENT_CACHE: usize = 256;

fn open(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| with_path(path, e.into()))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

fn with_path(path: &Path, e: StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(format!("{}: {m}", path.display())),
        other => other,
    }
}

/// The writer: creates the file if missing, WAL mode, durable commits (`synchronous =
/// FULL`: a commit is on disk before anyone is told it happened; group commit in
/// `writer.rs` keeps that affordable), foreign keys enforced.
pub(super) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = open(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    )?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| with_path(path, e.into()))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database(format!(
            "{}: SQLite refused WAL mode (journal mode is {mode})",
            path.display()
        )));
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
         PRAGMA cache_size = {WRITER_CACHE_KIB}; PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES};"
    ))?;
    Ok(conn)
}

/// A reader: never writes (`query_only`), so a bug cannot write outside the writer.
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = open(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.execute_batch("PRAGMA query_only = ON; PRAGMA foreign_keys = ON;")?;
    Ok(conn)
}
