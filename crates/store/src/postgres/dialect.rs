//! What PostgreSQL does differently.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Pool, Transaction};

use super::Db;

pub(super) async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
    pool.begin().await
}

/// The head row is the chain's lock: appends from every node take it in turn.
pub(super) const SELECT_AUDIT_HEAD_FOR_UPDATE: &str =
    "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";
pub(super) const SELECT_IDENTITY_FOR_UPDATE: &str =
    "SELECT state, user_id, user_id_key FROM identities WHERE id = $1 FOR UPDATE";

pub(super) fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        Cow::Borrowed("init"),
        MigrationType::Simple,
        sqlx::SqlSafeStr::into_sql_str(include_str!("../../migrations/postgres/0001_init.sql")),
        false,
    )])
}
