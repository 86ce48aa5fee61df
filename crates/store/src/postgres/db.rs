//! The database API the shared adapter (`sql/`) is written against, for PostgreSQL:
//! sqlx itself, under the names `sqlite/db.rs` gives its own.

pub use sqlx::{AssertSqlSafe, QueryBuilder as SqlxQueryBuilder, Row as RowExt};

pub type Row = sqlx::postgres::PgRow;
pub type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;
pub type QueryBuilder = SqlxQueryBuilder<sqlx::Postgres>;
pub type Transaction<'c> = sqlx::Transaction<'c, sqlx::Postgres>;
pub type WritePool = sqlx::PgPool;
pub type ReadPool = sqlx::PgPool;

/// `sqlx::query`, counted.
pub fn query<'q>(sql: impl sqlx::SqlSafeStr) -> Query<'q> {
    crate::stats::statement();
    let sql = sql.into_sql_str();
    tracing::trace!(target: "sesam_store::sql", sql = %sql.as_str());
    sqlx::query(sql)
}

/// `QueryBuilder::build` for a statement whose text recurs; sqlx keeps every statement
/// prepared on its connection already (`sqlite/db.rs` has the reason for the name).
pub trait BuildReused {
    fn build_reused(&mut self) -> Query<'_>;
}

impl BuildReused for QueryBuilder {
    fn build_reused(&mut self) -> Query<'_> {
        self.build()
    }
}
