//! The storage layer's error: what went wrong, in words an operator can act on.

use thiserror::Error;

#[derive(Debug, Clone, Error)]
pub enum StoreError {
    #[error("this national ID number is already enrolled")]
    NationalIdTaken,
    #[error("this user ID is taken")]
    UserIdTaken,
    #[error("this user ID was given up less than 365 days ago and is reserved")]
    UserIdReserved,
    #[error("a service provider with this client id already exists")]
    ClientIdTaken,
    #[error("this device key is already registered")]
    DeviceKeyTaken,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the {0} was changed at the same time by someone else; nothing was written, try again")]
    Conflict(&'static str),
    #[error("bad database URL: {0}")]
    BadUrl(String),
    #[error("cannot reach the database: {0}")]
    Unavailable(String),
    #[error("the database is locked by another process and stayed locked; nothing was written")]
    Locked,
    #[error(
        "the database is read-only (check the file's and directory's permissions); nothing was written"
    )]
    ReadOnly,
    #[error("the database file is corrupt or not a sesam database: {0}")]
    Corrupt(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("stored data is invalid: {0}")]
    InvalidData(String),
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match e {
            E::Database(db) => classify_database_error(db.as_ref()),
            E::PoolTimedOut => {
                Self::Unavailable("timed out waiting for a database connection".into())
            }
            E::PoolClosed => Self::Unavailable("the connection pool is closed".into()),
            E::Io(io) => Self::Unavailable(io.to_string()),
            E::Tls(t) => Self::Unavailable(format!("TLS: {t}")),
            E::Configuration(c) => Self::BadUrl(c.to_string()),
            E::Protocol(p) => Self::Unavailable(format!("protocol error: {p}")),
            E::ColumnDecode { index, source } => {
                Self::InvalidData(format!("column {index}: {source}"))
            }
            E::Decode(d) => Self::InvalidData(d.to_string()),
            E::RowNotFound => Self::NotFound("row"),
            other => Self::Database(other.to_string()),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::Error as E;
        match e {
            E::SqliteFailure(failure, message) => {
                let message = message.unwrap_or_else(|| failure.to_string());
                let unique = matches!(
                    failure.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                );
                if unique {
                    unique_violation(&message, &message)
                } else {
                    by_code(&failure.extended_code.to_string(), &message)
                }
            }
            E::QueryReturnedNoRows => Self::NotFound("row"),
            E::FromSqlConversionFailure(..)
            | E::InvalidColumnType(..)
            | E::IntegralValueOutOfRange(..) => Self::InvalidData(e.to_string()),
            other => Self::Database(other.to_string()),
        }
    }
}

/// Maps SQLite result codes and PostgreSQL SQLSTATEs to what they mean here.
fn classify_database_error(db: &dyn sqlx::error::DatabaseError) -> StoreError {
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    let message = db.message();
    if db.is_unique_violation() {
        let what = format!("{} {}", db.constraint().unwrap_or_default(), message);
        return unique_violation(&what, message);
    }
    by_code(&code, message)
}

/// `what` names the constraint (PostgreSQL) or the columns (SQLite's message).
fn unique_violation(what: &str, message: &str) -> StoreError {
    if what.contains("national_id_index") {
        StoreError::NationalIdTaken
    } else if what.contains("user_id") || what.contains("claims") {
        StoreError::UserIdTaken
    } else if what.contains("public_key")
        || what.contains("devices")
        || what.contains("credential_id")
    {
        StoreError::DeviceKeyTaken
    } else if what.contains("service_providers") {
        StoreError::ClientIdTaken
    } else {
        StoreError::Database(message.to_owned())
    }
}

fn by_code(code: &str, message: &str) -> StoreError {
    // SQLite primary result code is the low byte of the extended code.
    let sqlite_primary = code.parse::<i32>().ok().map(|c| c & 0xff);
    match (sqlite_primary, code) {
        (Some(5 | 6), _) => StoreError::Locked,
        (Some(8), _) => StoreError::ReadOnly,
        (Some(11 | 26), _) => StoreError::Corrupt(message.to_owned()),
        (Some(14), _) => {
            StoreError::Unavailable(format!("cannot open the database file: {message}"))
        }
        (_, "57P01" | "57P02" | "57P03" | "08000" | "08003" | "08006") => {
            StoreError::Unavailable(message.to_owned())
        }
        (_, "25006") => StoreError::ReadOnly,
        _ => StoreError::Database(message.to_owned()),
    }
}
