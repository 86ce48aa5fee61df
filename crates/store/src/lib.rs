//! sesam's storage: small ports (traits) per concern, and two adapters that implement all
//! of them: SQLite (the embedded default) and PostgreSQL (for scale-out).
//!
//! The SQL text is written once, in `sql/`, and compiled into each adapter module with
//! that module's database type; the few real dialect differences live in each adapter's
//! `dialect` module. One conformance suite (`tests/conformance.rs`) runs against both.
#![forbid(unsafe_code)]

mod error;
mod ports;
pub mod postgres;
pub mod sqlite;
pub mod stats;

use std::path::Path;
use std::sync::Arc;

pub use error::StoreError;
pub use ports::*;
use sesam_domain::AuditKey;
pub use stats::StoreStats;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file (created if missing).
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL URL (`postgres://…`).
    Postgres(String),
}

impl Location {
    /// The SQLite file inside a data directory.
    pub fn in_data_dir(dir: &Path) -> Self {
        Self::Sqlite(dir.join("sesam.db"))
    }

    /// Parses `--database-url`: only PostgreSQL URLs are accepted there.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else {
            Err(StoreError::BadUrl(
                "the database URL must start with postgres:// or postgresql://; for SQLite use --data-dir".into(),
            ))
        }
    }

    /// For logs: never prints a password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(p) => format!("SQLite at {}", p.display()),
            Self::Postgres(url) => format!("PostgreSQL at {}", redact_url(url)),
        }
    }
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// Opens the store at `location`, applying pending migrations.
pub async fn open(location: &Location, audit_key: AuditKey) -> Result<Arc<dyn Store>, StoreError> {
    open_with(location, audit_key, postgres::Timeouts::default()).await
}

/// [`open`] with PostgreSQL's timeouts (SQLite has none to set).
pub async fn open_with(
    location: &Location,
    audit_key: AuditKey,
    timeouts: postgres::Timeouts,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match location {
        Location::Sqlite(path) => Arc::new(sqlite::SqlStore::open(path, audit_key).await?),
        Location::Postgres(url) => {
            Arc::new(postgres::SqlStore::connect_with(url, audit_key, timeouts).await?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(Location::from_url("postgres://u:p@h/db").is_ok());
        assert!(matches!(
            Location::from_url("mysql://h/db"),
            Err(StoreError::BadUrl(_))
        ));
        assert!(matches!(
            Location::from_url("sesam.db"),
            Err(StoreError::BadUrl(_))
        ));
        assert_eq!(
            Location::Postgres("postgres://u:secret@h:5432/db".into()).describe(),
            "PostgreSQL at postgres://…@h:5432/db"
        );
    }
}
