//! What PostgreSQL does differently.

use std::borrow::Cow;

use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};

use super::db::{Transaction, WritePool};
use crate::{SIGNAL_CHANNEL, Signal, StoreError};

/// The change feed: every node's listener (`listener.rs`).
pub(super) use super::listener::Feed;

/// A store on a fresh database, for the adapter's own tests (`None` where there is no
/// PostgreSQL to test with).
#[cfg(test)]
pub(super) async fn test_store() -> Option<(Option<tempfile::TempDir>, super::SqlStore)> {
    let url = sesam_testkit::postgres_database().await?;
    let keys = sesam_domain::MasterKey::from_hex(&"5a".repeat(32))
        .ok()?
        .keys();
    let store = super::SqlStore::connect(&url, sesam_domain::AuditKey::from(&keys))
        .await
        .ok()?;
    Some((None, store))
}

/// Announces `signal` to every node's listener: `pg_notify` in the change's transaction,
/// which PostgreSQL delivers at its commit and drops at a rollback.
pub(super) async fn publish(
    tx: &mut Transaction<'static>,
    signal: Signal,
) -> Result<(), StoreError> {
    super::db::query("SELECT pg_notify($1, $2)")
        .bind(SIGNAL_CHANNEL)
        .bind(signal.payload())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A unit of work: a transaction of its own (each commits alone; PostgreSQL's commits
/// from many connections already share WAL flushes).
pub(super) async fn begin_write(pool: &WritePool) -> Result<Transaction<'static>, StoreError> {
    crate::stats::unit();
    crate::stats::commit();
    pool.begin().await
}

/// A unit of work that is one statement: the statement runs on the pool, outside any
/// transaction, so PostgreSQL commits it by itself (as durably as any commit). One round
/// trip instead of three (`BEGIN`, the statement, `COMMIT`).
pub(super) fn one_statement_unit(pool: &WritePool) -> &WritePool {
    crate::stats::unit();
    crate::stats::commit();
    pool
}

/// A bulk write (an import's batch): a transaction, as any other on PostgreSQL.
pub(super) async fn begin_bulk(pool: &WritePool) -> Result<Transaction<'static>, StoreError> {
    begin_write(pool).await
}

/// People per bulk-enrolment transaction: 50,000 made an import three times slower than
/// 10,000 here (docs/performance.md).
pub(super) const BULK_ENROL_BATCH: usize = 10_000;

/// Bulk-enrolment batches written at once, each on a connection of its own, so the
/// database works on one batch while the other waits for its commit or its next
/// statement (docs/performance.md).
pub(super) const BULK_ENROL_AT_ONCE: usize = 2;

/// How the backend names itself.
pub(super) const NAME: &str = "PostgreSQL";

/// Applies pending migrations (under PostgreSQL's advisory lock, so several nodes
/// starting at once migrate once), on `conn`: a connection without the statement
/// timeout, since a migration of a large table may rightly take long.
pub(super) async fn migrate(conn: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    migrator().run(conn).await.map_err(|e| match e {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => StoreError::from(e),
        MigrateError::VersionMissing(v) => StoreError::Migration(format!(
            "the database has migration {v}, which this version of sesam does not know; it was last used by a newer version"
        )),
        other => StoreError::Migration(other.to_string()),
    })
}

/// The head row is locked by whoever chains (the sequencer, or a bulk import) while it
/// does: requests never touch it.
pub(super) const SELECT_AUDIT_HEAD_FOR_UPDATE: &str =
    "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";
pub(super) const SELECT_IDENTITY_FOR_UPDATE: &str =
    "SELECT state, user_id, user_id_key FROM identities WHERE id = $1 FOR UPDATE";

/// One audit sequencer at a time across all nodes: a transaction-scoped advisory lock
/// (the key is "sesamaud" in ASCII).
pub(super) const TRY_AUDIT_SEQUENCER: Option<&str> =
    Some("SELECT pg_try_advisory_xact_lock(8315179149293614436) AS taken");
pub(super) const WAIT_FOR_AUDIT_SEQUENCER: Option<&str> =
    Some("SELECT TRUE AS taken FROM pg_advisory_xact_lock(8315179149293614436)");

/// Serialises one person's starts (of logins, of pairings) so that the cap on their
/// pending requests holds under concurrency: a transaction-scoped advisory lock on the
/// subject, which only that person's requests ever wait for.
pub(super) const LOCK_SUBJECT: Option<&str> =
    Some("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))");

/// Appended to a `SELECT` whose rows the transaction will change.
macro_rules! for_update {
    () => {
        " FOR UPDATE"
    };
}
pub(super) use for_update;

/// Appended to a `SELECT` that claims rows other transactions may be claiming too.
macro_rules! skip_locked {
    () => {
        " FOR UPDATE SKIP LOCKED"
    };
}
pub(super) use skip_locked;

fn migrator() -> Migrator {
    let migration = |version, description, sql: &'static str| {
        Migration::new(
            version,
            Cow::Borrowed(description),
            MigrationType::Simple,
            sqlx::SqlSafeStr::into_sql_str(sql),
            false,
        )
    };
    Migrator::with_migrations(vec![
        migration(
            1,
            "init",
            include_str!("../../migrations/postgres/0001_init.sql"),
        ),
        migration(
            2,
            "activation",
            include_str!("../../migrations/postgres/0002_activation.sql"),
        ),
        migration(
            3,
            "signing keys",
            include_str!("../../migrations/postgres/0003_signing_keys.sql"),
        ),
        migration(
            4,
            "oidc",
            include_str!("../../migrations/postgres/0004_oidc.sql"),
        ),
        migration(
            5,
            "auth requests",
            include_str!("../../migrations/postgres/0005_auth_requests.sql"),
        ),
        migration(
            6,
            "request counts",
            include_str!("../../migrations/postgres/0006_request_counts.sql"),
        ),
        migration(
            7,
            "user ID choices per activation",
            include_str!("../../migrations/postgres/0007_user_id_choices.sql"),
        ),
        migration(
            8,
            "pairing limits",
            include_str!("../../migrations/postgres/0008_pairing_limits.sql"),
        ),
        migration(
            9,
            "audit pending",
            include_str!("../../migrations/postgres/0009_audit_pending.sql"),
        ),
        migration(
            10,
            "push subscriptions",
            include_str!("../../migrations/postgres/0010_push_subscriptions.sql"),
        ),
        migration(
            11,
            "code display kind",
            include_str!("../../migrations/postgres/0011_code_display_kind.sql"),
        ),
        migration(
            12,
            "self-service sessions",
            include_str!("../../migrations/postgres/0012_self_service_sessions.sql"),
        ),
        migration(
            13,
            "housekeeping indexes",
            include_str!("../../migrations/postgres/0013_housekeeping.sql"),
        ),
        migration(
            14,
            "audit head per statement",
            include_str!("../../migrations/postgres/0014_audit_head_per_statement.sql"),
        ),
    ])
}
