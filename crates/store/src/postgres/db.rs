//! The database API the shared adapter (`sql/`) is written against, for PostgreSQL:
//! sqlx's statements, run on a connection of a unit of work or on the pools of
//! `pool.rs`, under the names `sqlite/db.rs` gives its own.

use sqlx::postgres::{PgArguments, PgConnection, PgDatabaseError, PgQueryResult, PgSeverity};
pub use sqlx::{AssertSqlSafe, QueryBuilder as SqlxQueryBuilder, Row as RowExt};

pub use super::pool::{Pool as WritePool, Pool as ReadPool, Transaction};
use crate::StoreError;

pub type Row = sqlx::postgres::PgRow;
pub type QueryBuilder = SqlxQueryBuilder<sqlx::Postgres>;

/// A statement with its arguments, not yet run.
pub struct Query<'q>(sqlx::query::Query<'q, sqlx::Postgres, PgArguments>);

/// `sqlx::query`, counted.
pub fn query<'q>(sql: impl sqlx::SqlSafeStr) -> Query<'q> {
    crate::stats::statement();
    let sql = sql.into_sql_str();
    tracing::trace!(target: "sesam_store::sql", sql = %sql.as_str());
    Query(sqlx::query(sql))
}

/// What a statement runs on: the connection of a unit of work, or a connection of a
/// pool for this statement alone.
pub enum On<'e> {
    Conn(&'e mut PgConnection),
    Pool(&'e WritePool),
}

impl<'e> From<&'e mut PgConnection> for On<'e> {
    fn from(c: &'e mut PgConnection) -> Self {
        Self::Conn(c)
    }
}

impl<'e> From<&'e WritePool> for On<'e> {
    fn from(p: &'e WritePool) -> Self {
        Self::Pool(p)
    }
}

/// Whether an error may have left the connection unusable: anything but the database's
/// own answer to the statement, and that answer when it ends the session (`FATAL`, as
/// when the server shuts down or an operator ends the connection).
fn breaks_connection(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d
            .try_downcast_ref::<PgDatabaseError>()
            .is_none_or(|d| matches!(d.severity(), PgSeverity::Fatal | PgSeverity::Panic)),
        sqlx::Error::RowNotFound | sqlx::Error::ColumnDecode { .. } => false,
        _ => true,
    }
}

macro_rules! run_on {
    ($on:expr, |$conn:ident| $body:expr) => {
        match $on.into() {
            On::Conn($conn) => Ok($body.await?),
            On::Pool(pool) => {
                let mut pooled = pool.acquire().await?;
                let $conn = &mut *pooled;
                let result = $body.await;
                if let Err(e) = &result
                    && breaks_connection(e)
                {
                    pooled.discard();
                }
                Ok(result?)
            }
        }
    };
}

impl<'q> Query<'q> {
    pub fn bind<T: sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + 'q>(
        self,
        value: T,
    ) -> Self {
        Self(self.0.bind(value))
    }

    pub async fn execute<'e>(self, on: impl Into<On<'e>>) -> Result<PgQueryResult, StoreError> {
        run_on!(on, |conn| self.0.execute(conn))
    }

    pub async fn fetch_all<'e>(self, on: impl Into<On<'e>>) -> Result<Vec<Row>, StoreError> {
        run_on!(on, |conn| self.0.fetch_all(conn))
    }

    pub async fn fetch_optional<'e>(
        self,
        on: impl Into<On<'e>>,
    ) -> Result<Option<Row>, StoreError> {
        run_on!(on, |conn| self.0.fetch_optional(conn))
    }

    pub async fn fetch_one<'e>(self, on: impl Into<On<'e>>) -> Result<Row, StoreError> {
        run_on!(on, |conn| self.0.fetch_one(conn))
    }
}

/// `QueryBuilder::build` for a statement whose text recurs; sqlx keeps every statement
/// prepared on its connection already (`sqlite/db.rs` has the reason for the name).
pub trait BuildReused {
    fn build_reused(&mut self) -> sqlx::query::Query<'_, sqlx::Postgres, PgArguments>;
}

impl BuildReused for QueryBuilder {
    fn build_reused(&mut self) -> sqlx::query::Query<'_, sqlx::Postgres, PgArguments> {
        self.build()
    }
}
