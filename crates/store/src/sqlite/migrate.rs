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

#[cfg(test)]
mod tests {
    use super::*;

    /// A database made before migration 14 keeps its user-ID claims and history, now in
    /// tables without row ids, and the claims still refuse a user ID taken twice.
    #[test]
    fn migration_14_keeps_the_user_id_tables_rows() {
        let (_dir, path) = sesam_testkit::sqlite_path();
        let mut conn = super::super::connection::open_writer(&path).unwrap();
        let migrations = super::super::dialect::MIGRATIONS;
        let before = migrations.iter().position(|m| m.0 == 14).unwrap();
        run(&mut conn, &migrations[..before]).unwrap();
        conn.execute_batch(
            "INSERT INTO identities (id, national_id_sealed, national_id_index, national_id_masked, name, birthdate, ial, state, phone, user_id, user_id_key, created_at, updated_at) \
             VALUES (x'01', x'00', x'0a', '010150-****', 'A', '1950-01-01', 'substantial', 'active', '+4512345678', 'Anna.B', 'anna.b', 1, 1); \
             INSERT INTO user_id_claims (key, identity_id, released_at, reserved_until) VALUES ('anna.b', x'01', NULL, NULL), ('old.name', x'01', 5, 99); \
             INSERT INTO user_id_history (identity_id, user_id, from_at, to_at) VALUES (x'01', 'Old.Name', 1, 5), (x'01', 'Anna.B', 5, NULL);",
        )
        .unwrap();

        run(&mut conn, migrations).unwrap();

        let three = |sql: &str| -> Vec<(String, Option<i64>, Option<i64>)> {
            conn.prepare(sql)
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(
            three("SELECT key, released_at, reserved_until FROM user_id_claims ORDER BY key"),
            [
                ("anna.b".to_owned(), None, None),
                ("old.name".to_owned(), Some(5), Some(99))
            ]
        );
        assert_eq!(
            three("SELECT user_id, from_at, to_at FROM user_id_history ORDER BY from_at"),
            [
                ("Old.Name".to_owned(), Some(1), Some(5)),
                ("Anna.B".to_owned(), Some(5), None)
            ]
        );
        for table in ["user_id_claims", "user_id_history"] {
            let sql: String = conn
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(sql.contains("WITHOUT ROWID"), "{table}: {sql}");
        }
        let taken = conn.execute(
            "INSERT INTO user_id_claims (key, identity_id) VALUES ('anna.b', x'01')",
            [],
        );
        assert!(taken.is_err(), "a user ID taken twice must be refused");
        let orphan = conn.execute(
            "INSERT INTO user_id_claims (key, identity_id) VALUES ('nobody', x'02')",
            [],
        );
        assert!(orphan.is_err(), "a claim must belong to an identity");
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
        let dangling = conn
            .prepare("PRAGMA foreign_key_check")
            .unwrap()
            .query_map([], |_| Ok(()))
            .unwrap()
            .count();
        assert_eq!(dangling, 0);
    }
}
