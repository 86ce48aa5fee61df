//! The store's own counters: statements, units of work and commits since the process
//! started, for `/metrics` and the benchmark's "statements per login".

use std::sync::atomic::{AtomicU64, Ordering};

static STATEMENTS: AtomicU64 = AtomicU64::new(0);
static UNITS: AtomicU64 = AtomicU64::new(0);
static COMMITS: AtomicU64 = AtomicU64::new(0);

/// Totals since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// SQL statements run by the adapter (transaction control not included).
    pub statements: u64,
    /// Write units of work (each one atomic).
    pub units: u64,
    /// Commits: on SQLite one per group of units (group commit), on PostgreSQL one per unit.
    pub commits: u64,
}

pub fn snapshot() -> StoreStats {
    StoreStats {
        statements: STATEMENTS.load(Ordering::Relaxed),
        units: UNITS.load(Ordering::Relaxed),
        commits: COMMITS.load(Ordering::Relaxed),
    }
}

pub(crate) fn statement() {
    STATEMENTS.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn unit() {
    UNITS.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn commit() {
    COMMITS.fetch_add(1, Ordering::Relaxed);
}
