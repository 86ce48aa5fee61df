//! The password's lockout state, changed in short units (see `PasswordGuard`).

use super::db::{RowExt as _, Transaction};
use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::password_guard::PasswordGuard;
use uuid::Uuid;

use super::effects::write_effects;
use super::store::SqlStore;
use super::{db, dialect};
use crate::{Effects, PasswordStore, PasswordUnit, StoreError};

struct SqlPasswordUnit {
    tx: Transaction<'static>,
    identity_id: Uuid,
    phc: String,
    guard: PasswordGuard,
}

#[async_trait]
impl PasswordUnit for SqlPasswordUnit {
    fn guard(&self) -> &PasswordGuard {
        &self.guard
    }

    fn phc(&self) -> &str {
        &self.phc
    }

    async fn save(
        mut self: Box<Self>,
        g: &PasswordGuard,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let l = &g.lockout;
        db::query(
            "UPDATE passwords SET failures = $1, locked_until = $2, temporary_locks = $3, lock_window_start = $4, \
             blocked = $5, pending = $6, pending_since = $7 WHERE identity_id = $8",
        )
        .bind(l.failures)
        .bind(l.locked_until.map(Timestamp::millis))
        .bind(l.temporary_locks)
        .bind(l.window_start.map(Timestamp::millis))
        .bind(l.blocked)
        .bind(g.pending)
        .bind(g.pending_since.map(Timestamp::millis))
        .bind(self.identity_id)
        .execute(&mut *self.tx)
        .await?;
        write_effects(&mut self.tx, at, &effects).await?;
        self.tx.commit().await?;
        Ok(())
    }

    async fn replace(
        mut self: Box<Self>,
        phc: &str,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        super::code_displays::set_password(&mut self.tx, self.identity_id, phc, at).await?;
        write_effects(&mut self.tx, at, &effects).await?;
        self.tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl PasswordStore for SqlStore {
    async fn lock_password(
        &self,
        identity_id: Uuid,
    ) -> Result<Option<Box<dyn PasswordUnit>>, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let row = db::query(concat!(
            "SELECT phc, failures, locked_until, temporary_locks, lock_window_start, blocked, pending, pending_since \
             FROM passwords WHERE identity_id = $1",
            dialect::for_update!()
        ))
        .bind(identity_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let guard = PasswordGuard {
            lockout: super::rows::lockout(&row)?,
            pending: row.try_get("pending")?,
            pending_since: row
                .try_get::<Option<i64>, _>("pending_since")?
                .map(Timestamp::from_millis),
        };
        Ok(Some(Box::new(SqlPasswordUnit {
            phc: row.try_get("phc")?,
            tx,
            identity_id,
            guard,
        })))
    }
}
