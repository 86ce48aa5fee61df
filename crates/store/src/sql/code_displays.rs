//! Code displays and passwords.

use super::db::{RowExt as _, Transaction};
use async_trait::async_trait;
use sesam_domain::code_display::{CodeDisplay, CodeDisplayKind, CodeDisplayState};
use sesam_domain::totp::TotpState;
use sesam_domain::{AuditDraft, Timestamp};
use uuid::Uuid;

use super::effects::write_effects;
use super::rows::Row;
use super::store::SqlStore;
use super::{audit, db, dialect};
use crate::{
    CodeDisplayStore, CodeDisplayUnit, Effects, ImportOutcome, ImportedCodeDisplay, StoreError,
};

macro_rules! code_display_columns {
    () => {
        "serial, kind, seed_sealed, identity_id, state, last_used_step, drift_steps, failures, locked_until, temporary_locks, lock_window_start, blocked, imported_at, activated_at"
    };
}

pub(super) fn code_display(row: &Row) -> Result<CodeDisplay, StoreError> {
    let state: String = row.try_get("state")?;
    let kind: String = row.try_get("kind")?;
    let ts = |name: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(row
            .try_get::<Option<i64>, _>(name)?
            .map(Timestamp::from_millis))
    };
    let last: Option<i64> = row.try_get("last_used_step")?;
    Ok(CodeDisplay {
        serial: row.try_get("serial")?,
        kind: CodeDisplayKind::parse(&kind)
            .ok_or_else(|| StoreError::InvalidData(format!("code display kind '{kind}'")))?,
        identity_id: row.try_get("identity_id")?,
        state: CodeDisplayState::parse(&state)
            .ok_or_else(|| StoreError::InvalidData(format!("code display state '{state}'")))?,
        totp: TotpState {
            last_used_step: last.map(|s| s.max(0) as u64),
            drift_steps: row.try_get("drift_steps")?,
        },
        lockout: super::rows::lockout(row)?,
        imported_at: Timestamp::from_millis(row.try_get("imported_at")?),
        activated_at: ts("activated_at")?,
    })
}

pub(super) use code_display_columns;

/// Writes a code display's state, lockout and TOTP counters in `tx`.
pub(super) async fn update(
    tx: &mut Transaction<'static>,
    d: &CodeDisplay,
) -> Result<(), StoreError> {
    let l = &d.lockout;
    db::query(
        "UPDATE code_displays SET identity_id = $1, state = $2, last_used_step = $3, drift_steps = $4, failures = $5, \
         locked_until = $6, temporary_locks = $7, lock_window_start = $8, blocked = $9, activated_at = $10 WHERE serial = $11",
    )
    .bind(d.identity_id)
    .bind(d.state.as_str())
    .bind(d.totp.last_used_step.map(|s| s.min(i64::MAX as u64) as i64))
    .bind(d.totp.drift_steps)
    .bind(l.failures)
    .bind(l.locked_until.map(Timestamp::millis))
    .bind(l.temporary_locks)
    .bind(l.window_start.map(Timestamp::millis))
    .bind(l.blocked)
    .bind(d.activated_at.map(Timestamp::millis))
    .bind(&d.serial)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sets the identity's password hash in `tx`. A new password starts with no wrong
/// entries and no lock: those were counted against the password it replaces.
pub(super) async fn set_password(
    tx: &mut Transaction<'static>,
    identity_id: Uuid,
    phc: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO passwords (identity_id, phc, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (identity_id) DO UPDATE SET phc = $2, updated_at = $3, failures = 0, locked_until = NULL, \
                 temporary_locks = 0, lock_window_start = NULL, blocked = FALSE, pending = 0, pending_since = NULL",
    )
    .bind(identity_id)
    .bind(phc)
    .bind(at.millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

struct SqlCodeDisplayUnit {
    tx: Transaction<'static>,
    display: CodeDisplay,
    seed_sealed: Vec<u8>,
}

#[async_trait]
impl CodeDisplayUnit for SqlCodeDisplayUnit {
    fn code_display(&self) -> &CodeDisplay {
        &self.display
    }

    fn seed_sealed(&self) -> &[u8] {
        &self.seed_sealed
    }

    async fn active_of(&mut self, identity_id: Uuid) -> Result<Vec<CodeDisplay>, StoreError> {
        db::query(concat!(
            "SELECT ",
            code_display_columns!(),
            " FROM code_displays WHERE identity_id = $1 AND state = 'active'"
        ))
        .bind(identity_id)
        .fetch_all(&mut *self.tx)
        .await?
        .iter()
        .map(code_display)
        .collect()
    }

    async fn save(
        mut self: Box<Self>,
        d: &CodeDisplay,
        password: Option<(Uuid, &str)>,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        update(&mut self.tx, d).await?;
        if let Some((identity_id, phc)) = password {
            set_password(&mut self.tx, identity_id, phc, at).await?;
        }
        write_effects(&mut self.tx, at, &effects).await?;
        self.tx.commit().await?;
        Ok(())
    }
}

impl SqlStore {
    async fn lock_display_where(
        &self,
        sql: &'static str,
        bind: impl FnOnce(db::Query<'static>) -> db::Query<'static>,
    ) -> Result<Option<Box<dyn CodeDisplayUnit>>, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let Some(row) = bind(db::query(sql)).fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let display = code_display(&row)?;
        let seed_sealed: Vec<u8> = row.try_get("seed_sealed")?;
        Ok(Some(Box::new(SqlCodeDisplayUnit {
            tx,
            display,
            seed_sealed,
        })))
    }
}

#[async_trait]
impl CodeDisplayStore for SqlStore {
    async fn import_code_displays(
        &self,
        batch: &[ImportedCodeDisplay],
        audit_draft: &AuditDraft,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for cd in batch {
            let existing = db::query("SELECT seed_check FROM code_displays WHERE serial = $1")
                .bind(&cd.serial)
                .fetch_optional(&mut *tx)
                .await?;
            let outcome = match existing {
                Some(row) => {
                    let check: Vec<u8> = row.try_get("seed_check")?;
                    if sesam_domain::secrets::ct_eq(&check, &cd.seed_check) {
                        ImportOutcome::AlreadyPresent
                    } else {
                        ImportOutcome::SerialConflict
                    }
                }
                None => {
                    db::query(
                        "INSERT INTO code_displays (serial, kind, seed_sealed, seed_check, state, imported_at) VALUES ($1, $5, $2, $3, 'unassigned', $4)",
                    )
                    .bind(&cd.serial)
                    .bind(&cd.seed_sealed)
                    .bind(&cd.seed_check[..])
                    .bind(cd.imported_at.millis())
                    .bind(cd.kind.as_str())
                    .execute(&mut *tx)
                    .await?;
                    ImportOutcome::Imported
                }
            };
            outcomes.push(outcome);
        }
        let at = batch
            .first()
            .map_or(Timestamp::from_millis(0), |c| c.imported_at);
        audit::append(&mut tx, at, audit_draft).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn code_display(&self, serial: &str) -> Result<Option<CodeDisplay>, StoreError> {
        db::query(concat!(
            "SELECT ",
            code_display_columns!(),
            " FROM code_displays WHERE serial = $1"
        ))
        .bind(serial)
        .fetch_optional(&self.read_pool)
        .await?
        .as_ref()
        .map(code_display)
        .transpose()
    }

    async fn code_displays_of(&self, identity_id: Uuid) -> Result<Vec<CodeDisplay>, StoreError> {
        db::query(concat!(
            "SELECT ",
            code_display_columns!(),
            " FROM code_displays WHERE identity_id = $1 ORDER BY activated_at"
        ))
        .bind(identity_id)
        .fetch_all(&self.read_pool)
        .await?
        .iter()
        .map(code_display)
        .collect()
    }

    async fn lock_code_display(
        &self,
        serial: &str,
    ) -> Result<Option<Box<dyn CodeDisplayUnit>>, StoreError> {
        let serial = serial.to_owned();
        self.lock_display_where(
            concat!(
                "SELECT ",
                code_display_columns!(),
                " FROM code_displays WHERE serial = $1",
                dialect::for_update!()
            ),
            |q| q.bind(serial),
        )
        .await
    }

    async fn lock_active_code_display_of(
        &self,
        identity_id: Uuid,
    ) -> Result<Option<Box<dyn CodeDisplayUnit>>, StoreError> {
        self.lock_display_where(
            concat!(
                "SELECT ",
                code_display_columns!(),
                " FROM code_displays WHERE identity_id = $1 AND state = 'active'",
                dialect::for_update!()
            ),
            |q| q.bind(identity_id),
        )
        .await
    }

    async fn revoke_code_display(
        &self,
        serial: &str,
        identity_id: Uuid,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let done = db::query("UPDATE code_displays SET state = 'revoked' WHERE serial = $1 AND identity_id = $2 AND state = 'active'")
            .bind(serial)
            .bind(identity_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("code display"));
        }
        write_effects(&mut tx, at, &effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn password_of(&self, identity_id: Uuid) -> Result<Option<String>, StoreError> {
        Ok(
            db::query("SELECT phc FROM passwords WHERE identity_id = $1")
                .bind(identity_id)
                .fetch_optional(&self.read_pool)
                .await?
                .map(|r| r.try_get("phc"))
                .transpose()?,
        )
    }
}
