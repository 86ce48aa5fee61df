//! Schema migrations for SQLite, kept in sqlx's `_sqlx_migrations` table and format (the
//! SHA-384 of each script as its checksum), so databases made by earlier versions of
//! sesam, which migrated with sqlx, carry on where they were.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha384};

use crate::StoreError;

/// One migration: version, description, script.
pub(super) type Migration = (i64, &'static str, &'static str);

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);";

/// Applies the migrations the database does not have yet, each in its own transaction
/// (taken with the write lock, so two processes starting at once apply each one once).
pub(super) fn run(conn: &mut Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    conn.execute_batch(CREATE_TABLE)?;
    check_applied(conn, migrations)?;
    for (version, description, sql) in migrations {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let applied: Option<i64> = tx
            .query_row(
                "SELECT version FROM _sqlx_migrations WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .optional()?;
        if applied.is_some() {
            continue;
        }
        let started = tokio::time::Instant::now();
        tx.execute_batch(sql).map_err(|e| {
            StoreError::Migration(format!(
                "migration {version} ({description}): {}",
                StoreError::from(e)
            ))
        })?;
        let elapsed = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?1, ?2, TRUE, ?3, ?4)",
            rusqlite::params![version, description, checksum(sql), elapsed],
        )?;
        tx.commit()?;
    }
    Ok(())
}

fn checksum(sql: &str) -> Vec<u8> {
    Sha384::digest(sql.as_bytes()).to_vec()
}

/// Refuses a database that a newer version migrated, one whose scripts were changed
/// after they ran, and one a migration failed half-way in.
fn check_applied(conn: &Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")?;
    let applied = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (version, success, sum) in applied {
        if !success {
            return Err(StoreError::Migration(format!(
                "migration {version} failed part-way earlier; restore the database from a backup"
            )));
        }
        match migrations.iter().find(|(v, _, _)| *v == version) {
            None => {
                return Err(StoreError::Migration(format!(
                    "the database has migration {version}, which this version of sesam does not know; it was last used by a newer version"
                )));
            }
            Some((_, _, sql)) if checksum(sql) != sum => {
                return Err(StoreError::Migration(format!(
                    "migration {version} was applied from a different script than this version of sesam has"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}
