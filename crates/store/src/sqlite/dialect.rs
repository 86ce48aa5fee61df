//! What SQLite does differently.

use super::db::{Transaction, WritePool};
use super::migrate::Migration;
use crate::{Signal, SignalSender, StoreError};

/// The change feed: this process is the only server on its file, so the signals of its
/// committed units are delivered in process (`writer.rs`).
pub(super) type Feed = SignalSender;

/// A store on a fresh file, for the adapter's own tests.
#[cfg(test)]
pub(super) async fn test_store() -> Option<(Option<tempfile::TempDir>, super::SqlStore)> {
    let (dir, path) = sesam_testkit::sqlite_path();
    let keys = sesam_domain::MasterKey::from_hex(&"5a".repeat(32))
        .ok()?
        .keys();
    let store = super::SqlStore::open(&path, sesam_domain::AuditKey::from(&keys))
        .await
        .ok()?;
    Some((Some(dir), store))
}

/// Announces `signal` when the unit commits (delivered by [`Transaction::commit`]).
pub(super) async fn publish(
    tx: &mut Transaction<'static>,
    signal: Signal,
) -> Result<(), StoreError> {
    tx.signal_after_commit(signal);
    Ok(())
}

/// A unit of work on the one writer, in the open group's transaction (`writer.rs`).
pub(super) async fn begin_write(pool: &WritePool) -> Result<Transaction<'static>, StoreError> {
    crate::stats::unit();
    pool.begin().await
}

/// A unit of work that is one statement: run on the pool, it is a unit of its own on the
/// one writer, in the open group's transaction (`db.rs`, `On::Write`).
pub(super) fn one_statement_unit(pool: &WritePool) -> &WritePool {
    crate::stats::unit();
    pool
}

/// A bulk write (an import's batch): a transaction of its own, without a savepoint
/// (see `WritePool::begin_alone`).
pub(super) async fn begin_bulk(pool: &WritePool) -> Result<Transaction<'static>, StoreError> {
    crate::stats::unit();
    pool.begin_alone().await
}

/// People per bulk-enrolment transaction: a batch changes pages all over the indexes on
/// random keys (the national-ID and activation-code hashes, the user-ID key), and a page
/// is written once per commit however many of the batch's people it holds; at a million
/// people 50,000 per batch cost a fifth less than 10,000 (docs/performance.md).
pub(super) const BULK_ENROL_BATCH: usize = 50_000;

/// Bulk-enrolment batches written at once: one, as SQLite has one writer.
pub(super) const BULK_ENROL_AT_ONCE: usize = 1;

/// How the backend names itself.
pub(super) const NAME: &str = "SQLite";

/// SQLite has no row locks; `BEGIN IMMEDIATE` already serialises writers.
pub(super) const SELECT_AUDIT_HEAD_FOR_UPDATE: &str =
    "SELECT seq, hash FROM audit_head WHERE id = 1";
pub(super) const SELECT_IDENTITY_FOR_UPDATE: &str =
    "SELECT state, user_id, user_id_key FROM identities WHERE id = $1";

/// The audit sequencer needs no lock of its own: the one writer runs one unit at a time.
pub(super) const TRY_AUDIT_SEQUENCER: Option<&str> = None;
pub(super) const WAIT_FOR_AUDIT_SEQUENCER: Option<&str> = None;

/// The one writer already runs one person's starts one at a time.
pub(super) const LOCK_SUBJECT: Option<&str> = None;

/// Appended to a `SELECT` whose rows the transaction will change.
macro_rules! for_update {
    () => {
        ""
    };
}
pub(super) use for_update;

/// Appended to a `SELECT` that claims rows other transactions may be claiming too.
macro_rules! skip_locked {
    () => {
        ""
    };
}
pub(super) use skip_locked;

/// The schema, in order (see `migrate.rs`).
pub(super) const MIGRATIONS: &[Migration] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "activation",
        include_str!("../../migrations/sqlite/0002_activation.sql"),
    ),
    (
        3,
        "signing keys",
        include_str!("../../migrations/sqlite/0003_signing_keys.sql"),
    ),
    (
        4,
        "oidc",
        include_str!("../../migrations/sqlite/0004_oidc.sql"),
    ),
    (
        5,
        "auth requests",
        include_str!("../../migrations/sqlite/0005_auth_requests.sql"),
    ),
    (
        6,
        "request counts",
        include_str!("../../migrations/sqlite/0006_request_counts.sql"),
    ),
    (
        7,
        "user ID choices per activation",
        include_str!("../../migrations/sqlite/0007_user_id_choices.sql"),
    ),
    (
        8,
        "pairing limits",
        include_str!("../../migrations/sqlite/0008_pairing_limits.sql"),
    ),
    (
        9,
        "audit pending",
        include_str!("../../migrations/sqlite/0009_audit_pending.sql"),
    ),
    (
        10,
        "push subscriptions",
        include_str!("../../migrations/sqlite/0010_push_subscriptions.sql"),
    ),
    (
        11,
        "code display kind",
        include_str!("../../migrations/sqlite/0011_code_display_kind.sql"),
    ),
    (
        12,
        "self-service sessions",
        include_str!("../../migrations/sqlite/0012_self_service_sessions.sql"),
    ),
    (
        13,
        "housekeeping indexes",
        include_str!("../../migrations/sqlite/0013_housekeeping.sql"),
    ),
    (
        14,
        "user-ID tables without row ids",
        include_str!("../../migrations/sqlite/0014_user_id_tables_without_rowid.sql"),
    ),
];
