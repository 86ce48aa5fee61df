//! The database API the shared adapter (`sql/`) is written against, for SQLite: the same
//! names and shapes as sqlx's (`query(…).bind(…).fetch_one(…)`, `QueryBuilder`,
//! `Transaction`), over rusqlite.
//!
//! Why not sqlx here: sqlx runs each SQLite connection on a thread of its own and hands it
//! every statement and every result over channels, two thread switches per statement;
//! the profile showed the scheduler at 40 % of the server's CPU. Here a statement runs
//! where it is called, on a cached prepared statement; a write unit holds the one writer
//! connection for the few microseconds its statements take, and only the commit (an
//! fsync, shared by every unit of a group) runs on a thread of its own (`writer.rs`).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Statement};
use uuid::Uuid;

pub use super::readers::ReadPool;
pub use super::writer::{Transaction, WritePool};
use crate::StoreError;
use crate::stats;

/// Marks SQL text built at run time (never from input: only table names and placeholders).
pub struct AssertSqlSafe<T>(pub T);

/// SQL text a query can be made from: a literal, or text marked with [`AssertSqlSafe`].
pub trait SqlText<'q> {
    fn into_sql(self) -> Cow<'q, str>;
}

impl SqlText<'static> for &'static str {
    fn into_sql(self) -> Cow<'static, str> {
        Cow::Borrowed(self)
    }
}

impl<'q> SqlText<'q> for AssertSqlSafe<String> {
    fn into_sql(self) -> Cow<'q, str> {
        Cow::Owned(self.0)
    }
}

/// A statement with its arguments, not yet run.
pub struct Query<'q> {
    sql: Cow<'q, str>,
    args: Vec<Value>,
    /// Built by [`QueryBuilder`]: `?N` placeholders, run once, so not worth caching.
    built: bool,
    /// Built with [`BuildReused::build_reused`]: its text recurs, so it is cached.
    reused: bool,
}

/// Starts a statement with `$1`, `$2`, … placeholders (as in PostgreSQL).
pub fn query<'q>(sql: impl SqlText<'q>) -> Query<'q> {
    Query {
        sql: sql.into_sql(),
        args: Vec::new(),
        built: false,
        reused: false,
    }
}

/// What a statement runs on: the connection of a write unit, a reader, or (for a single
/// statement) a write unit of its own.
pub enum On<'e> {
    Unit(&'e mut Connection),
    Read(&'e ReadPool),
    Write(&'e WritePool),
}

impl<'e> From<&'e mut Connection> for On<'e> {
    fn from(c: &'e mut Connection) -> Self {
        Self::Unit(c)
    }
}

impl<'e> From<&'e ReadPool> for On<'e> {
    fn from(p: &'e ReadPool) -> Self {
        Self::Read(p)
    }
}

impl<'e> From<&'e WritePool> for On<'e> {
    fn from(p: &'e WritePool) -> Self {
        Self::Write(p)
    }
}

impl On<'_> {
    async fn run<R>(
        self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        match self {
            Self::Unit(conn) => f(conn),
            Self::Read(pool) => pool.with(f).await,
            Self::Write(pool) => {
                let tx = pool.begin().await?;
                let r = f(&tx)?;
                tx.commit().await?;
                Ok(r)
            }
        }
    }
}

/// What an `execute` did.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    rows_affected: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

impl<'q> Query<'q> {
    pub fn bind(mut self, value: impl Bind) -> Self {
        self.args.push(value.into_value());
        self
    }

    pub async fn execute<'e>(self, on: impl Into<On<'e>>) -> Result<Done, StoreError> {
        on.into()
            .run(|conn| {
                let mut stmt = self.prepare(conn)?;
                let mut rows = stmt.raw_query();
                while rows.next()?.is_some() {}
                Ok(Done {
                    rows_affected: conn.changes(),
                })
            })
            .await
    }

    pub async fn fetch_all<'e>(self, on: impl Into<On<'e>>) -> Result<Vec<Row>, StoreError> {
        on.into().run(|conn| self.rows(conn, usize::MAX)).await
    }

    pub async fn fetch_optional<'e>(
        self,
        on: impl Into<On<'e>>,
    ) -> Result<Option<Row>, StoreError> {
        on.into().run(|conn| Ok(self.rows(conn, 1)?.pop())).await
    }

    pub async fn fetch_one<'e>(self, on: impl Into<On<'e>>) -> Result<Row, StoreError> {
        self.fetch_optional(on)
            .await?
            .ok_or(StoreError::NotFound("row"))
    }

    fn prepare<'c>(&self, conn: &'c Connection) -> Result<StatementRef<'c>, StoreError> {
        stats::statement();
        tracing::trace!(target: "sesam_store::sql", sql = %self.sql);
        let mut stmt = if self.built && !self.reused {
            StatementRef::Once(conn.prepare(&self.sql)?)
        } else {
            StatementRef::Cached(conn.prepare_cached(&self.sql)?)
        };
        let s = stmt.statement();
        for i in 1..=s.parameter_count() {
            let n = if self.built {
                i
            } else {
                dollar_index(s.parameter_name(i)).ok_or_else(|| {
                    StoreError::Database(format!("placeholder {i} is not of the form $n"))
                })?
            };
            let v = self.args.get(n - 1).ok_or_else(|| {
                StoreError::Database(format!("no value bound for placeholder ${n}"))
            })?;
            s.raw_bind_parameter(i, v)?;
        }
        Ok(stmt)
    }

    fn rows(&self, conn: &Connection, at_most: usize) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.prepare(conn)?;
        let s = stmt.statement();
        let names: Arc<[Box<str>]> = s.column_names().into_iter().map(Box::from).collect();
        let width = names.len();
        let mut rows = s.raw_query();
        let mut out = Vec::new();
        while out.len() < at_most {
            let Some(r) = rows.next()? else { break };
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(owned(r.get_ref(i)?));
            }
            out.push(Row {
                names: names.clone(),
                values,
            });
        }
        Ok(out)
    }
}

fn owned(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        // Text that is not UTF-8 stays bytes, so reading it as text fails loudly.
        ValueRef::Text(t) => match String::from_utf8(t.to_vec()) {
            Ok(s) => Value::Text(s),
            Err(e) => Value::Blob(e.into_bytes()),
        },
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// The number in a `$n` placeholder.
fn dollar_index(name: Option<&str>) -> Option<usize> {
    name?
        .strip_prefix('$')?
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
}

enum StatementRef<'c> {
    Cached(rusqlite::CachedStatement<'c>),
    Once(Statement<'c>),
}

impl<'c> StatementRef<'c> {
    fn statement(&mut self) -> &mut Statement<'c> {
        match self {
            Self::Cached(s) => s,
            Self::Once(s) => s,
        }
    }

    fn raw_query(&mut self) -> rusqlite::Rows<'_> {
        self.statement().raw_query()
    }
}

/// One result row, read out of the statement (so it outlives it).
#[derive(Debug, Clone)]
pub struct Row {
    names: Arc<[Box<str>]>,
    values: Vec<Value>,
}

/// A column by name or by position.
pub trait ColumnIndex {
    fn position(&self, row: &Row) -> Result<usize, StoreError>;
}

impl ColumnIndex for &str {
    fn position(&self, row: &Row) -> Result<usize, StoreError> {
        row.names
            .iter()
            .position(|n| n.as_ref() == *self)
            .ok_or_else(|| StoreError::InvalidData(format!("no column {self}")))
    }
}

impl ColumnIndex for usize {
    fn position(&self, row: &Row) -> Result<usize, StoreError> {
        if *self < row.values.len() {
            Ok(*self)
        } else {
            Err(StoreError::InvalidData(format!("no column {self}")))
        }
    }
}

/// `row.try_get::<T, _>("column")`, as in sqlx.
pub trait RowExt {
    fn try_get<'r, T: Decode<'r>, I: ColumnIndex>(&'r self, index: I) -> Result<T, StoreError>;
}

impl RowExt for Row {
    fn try_get<'r, T: Decode<'r>, I: ColumnIndex>(&'r self, index: I) -> Result<T, StoreError> {
        let i = index.position(self)?;
        let value = ValueRef::from(&self.values[i]);
        T::decode(value).ok_or_else(|| {
            StoreError::InvalidData(format!(
                "column {}: unexpected {}",
                self.names[i],
                value.data_type()
            ))
        })
    }
}

/// A column value as a Rust value; `None` when the stored type does not fit.
pub trait Decode<'r>: Sized {
    fn decode(v: ValueRef<'r>) -> Option<Self>;
}

impl<'r> Decode<'r> for i64 {
    fn decode(v: ValueRef<'r>) -> Option<Self> {
        match v {
            ValueRef::Integer(i) => Some(i),
            _ => None,
        }
    }
}

impl<'r> Decode<'r> for i32 {
    fn decode(v: ValueRef<'r>) -> Option<Self> {
        i64::decode(v).and_then(|i| i32::try_from(i).ok())
    }
}

impl<'r> Decode<'r> for bool {
    fn decode(v: ValueRef<'r>) -> Option<Self> {
        i64::decode(v).map(|i| i != 0)
    }
}

impl<'r> Decode<'r> for &'r str {
    fn decode(v: ValueRef<'r>) -> Option<Self> {
        match v {
            ValueRef::Text(t) => std::str::from_utf8(t).ok(),
            _ => None,
        }
    }
}

impl<'r> Decode<'r> for String {
    fn decode(v: ValueRef<'r>) -> Option<Self> {
        <&str>::decode(v).map(str::to_owned)
    }
}

impl<'r> Decode<'r> for &'r [u8] {
    fn decode(v: ValueRef<'r>) -> Option<Self> {
        match v {
            ValueRef::Blob(b) => Some(b),
            _ => None,
        }
    }
}

impl<'r> Decode<'r> for Vec<u8> {
    fn decode(v: ValueRef<'r>) -> Option<Self> {
        <&[u8]>::decode(v).map(<[u8]>::to_vec)
    }
}

/// As sqlx stores it in SQLite: 16 bytes.
impl<'r> Decode<'r> for Uuid {
    fn decode(v: ValueRef<'r>) -> Option<Self> {
        <&[u8]>::decode(v).and_then(|b| Uuid::from_slice(b).ok())
    }
}

impl<'r, T: Decode<'r>> Decode<'r> for Option<T> {
    fn decode(v: ValueRef<'r>) -> Option<Self> {
        match v {
            ValueRef::Null => Some(None),
            other => T::decode(other).map(Some),
        }
    }
}

/// A Rust value as a statement argument.
pub trait Bind {
    fn into_value(self) -> Value;
}

macro_rules! bind_by_value_and_ref {
    ($($t:ty => |$v:ident| $e:expr;)*) => {$(
        impl Bind for $t {
            fn into_value(self) -> Value {
                let $v = &self;
                $e
            }
        }
        impl Bind for &$t {
            fn into_value(self) -> Value {
                let $v = self;
                $e
            }
        }
    )*};
}

bind_by_value_and_ref! {
    i64 => |v| Value::Integer(*v);
    i32 => |v| Value::Integer(i64::from(*v));
    u32 => |v| Value::Integer(i64::from(*v));
    bool => |v| Value::Integer(i64::from(*v));
    String => |v| Value::Text(v.clone());
    Vec<u8> => |v| Value::Blob(v.clone());
    Uuid => |v| Value::Blob(v.as_bytes().to_vec());
    [u8; 32] => |v| Value::Blob(v.to_vec());
}

impl Bind for &str {
    fn into_value(self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl Bind for &&str {
    fn into_value(self) -> Value {
        Value::Text((*self).to_owned())
    }
}

impl Bind for &[u8] {
    fn into_value(self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl<T: Bind> Bind for Option<T> {
    fn into_value(self) -> Value {
        self.map_or(Value::Null, Bind::into_value)
    }
}

impl<'a, T> Bind for &'a Option<T>
where
    &'a T: Bind,
{
    fn into_value(self) -> Value {
        self.as_ref().map_or(Value::Null, Bind::into_value)
    }
}

/// Builds a statement with a variable number of rows, as sqlx's `QueryBuilder`.
#[derive(Default)]
pub struct QueryBuilder {
    sql: String,
    args: Vec<Value>,
}

impl QueryBuilder {
    pub fn new(init: impl Into<String>) -> Self {
        Self {
            sql: init.into(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.sql, "{sql}");
        self
    }

    pub fn push_bind(&mut self, value: impl Bind) -> &mut Self {
        self.args.push(value.into_value());
        let _ = write!(self.sql, "?{}", self.args.len());
        self
    }

    /// `VALUES (…), (…)`, one tuple per item.
    pub fn push_values<I: IntoIterator>(
        &mut self,
        items: I,
        mut each: impl FnMut(Separated<'_>, I::Item),
    ) -> &mut Self {
        self.sql.push_str("VALUES ");
        self.tuples(items, &mut each)
    }

    /// `((…), (…))`, one tuple per item (for `IN`).
    pub fn push_tuples<I: IntoIterator>(
        &mut self,
        items: I,
        mut each: impl FnMut(Separated<'_>, I::Item),
    ) -> &mut Self {
        self.sql.push('(');
        self.tuples(items, &mut each);
        self.sql.push(')');
        self
    }

    fn tuples<I: IntoIterator>(
        &mut self,
        items: I,
        each: &mut impl FnMut(Separated<'_>, I::Item),
    ) -> &mut Self {
        for (n, item) in items.into_iter().enumerate() {
            if n > 0 {
                self.sql.push_str(", ");
            }
            self.sql.push('(');
            each(
                Separated {
                    builder: self,
                    first: true,
                },
                item,
            );
            self.sql.push(')');
        }
        self
    }

    /// The statement built so far; the builder is left empty.
    pub fn build(&mut self) -> Query<'static> {
        Query {
            sql: Cow::Owned(std::mem::take(&mut self.sql)),
            args: std::mem::take(&mut self.args),
            built: true,
            reused: false,
        }
    }
}

/// [`QueryBuilder::build`] for a statement whose text recurs, as the 1,000-row inserts of
/// an import do: it stays prepared on the connection like a literal statement, so SQLite
/// parses it once, not once per 1,000 rows (parsing was 8 % of an import's profile).
pub trait BuildReused {
    fn build_reused(&mut self) -> Query<'static>;
}

impl BuildReused for QueryBuilder {
    fn build_reused(&mut self) -> Query<'static> {
        let mut q = self.build();
        q.reused = true;
        q
    }
}

/// The values of one tuple, comma-separated.
pub struct Separated<'b> {
    builder: &'b mut QueryBuilder,
    first: bool,
}

impl Separated<'_> {
    pub fn push_bind(&mut self, value: impl Bind) -> &mut Self {
        if !self.first {
            self.builder.sql.push_str(", ");
        }
        self.first = false;
        self.builder.push_bind(value);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_placeholders_are_numbers_from_one() {
        assert_eq!(dollar_index(Some("$1")), Some(1));
        assert_eq!(dollar_index(Some("$12")), Some(12));
        assert_eq!(dollar_index(Some("$0")), None);
        assert_eq!(dollar_index(Some(":a")), None);
        assert_eq!(dollar_index(Some("$x")), None);
        assert_eq!(dollar_index(None), None);
    }

    #[test]
    fn built_statements_number_their_placeholders_in_order() {
        let mut q = QueryBuilder::new("INSERT INTO t (a, b) ");
        q.push_values([(1_i64, "x"), (2, "y")], |mut b, (a, s)| {
            b.push_bind(a).push_bind(s);
        });
        let built = q.build();
        assert_eq!(built.sql, "INSERT INTO t (a, b) VALUES (?1, ?2), (?3, ?4)");
        assert_eq!(built.args.len(), 4);
        let mut q = QueryBuilder::new("DELETE FROM t WHERE a IN ");
        q.push_tuples([7_i64, 8], |mut b, a| {
            b.push_bind(a);
        });
        assert_eq!(q.build().sql, "DELETE FROM t WHERE a IN ((?1), (?2))");
    }

    #[tokio::test]
    async fn reordered_and_repeated_placeholders_bind_by_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        drop(Connection::open(&path).unwrap());
        let pool = ReadPool::new(path, 1);
        let row = query("SELECT $2 AS b, $1 AS a, $2 || $1 AS ba")
            .bind("a")
            .bind("b")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(row.try_get::<&str, _>("a").unwrap(), "a");
        assert_eq!(row.try_get::<String, _>("b").unwrap(), "b");
        assert_eq!(row.try_get::<String, _>(2).unwrap(), "ba");
        assert!(row.try_get::<i64, _>("a").is_err());
        assert!(row.try_get::<String, _>("missing").is_err());
        let missing = query("SELECT $1 AS a, $2 AS b")
            .bind(1_i64)
            .fetch_one(&pool)
            .await;
        assert!(matches!(missing, Err(StoreError::Database(_))));
    }
}
