//! Housekeeping: the expired rows of every short-lived table, in one transaction.

use async_trait::async_trait;

use super::db;
use super::dialect;
use super::store::SqlStore;
use crate::{StoreError, SweepCutoffs, SweepStore};

/// Tables whose rows carry `expires_at` and are useless after it.
const EXPIRING: [&str; 7] = [
    "par_requests",
    "login_flows",
    "browser_sessions",
    "app_nonces",
    "client_assertion_jtis",
    "webauthn_ceremonies",
    "self_service_sessions",
];

/// Grants removed per sweep at most (a sweep runs every 30 s).
const GRANT_BATCH: i64 = 10_000;
/// Finished messages removed per sweep at most.
const MESSAGE_BATCH: i64 = 10_000;

#[async_trait]
impl SweepStore for SqlStore {
    async fn sweep_expired(&self, cutoffs: SweepCutoffs) -> Result<u64, StoreError> {
        let SweepCutoffs {
            now,
            counts_before,
            grants_before,
            messages_before,
        } = cutoffs;
        let mut tx = dialect::begin_write(&self.pool).await?;
        let mut removed = 0;
        for table in EXPIRING {
            removed += db::query(db::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE expires_at <= $1"
            )))
            .bind(now.millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        removed += db::query("DELETE FROM request_counts WHERE window_start < $1")
            .bind(counts_before.millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        removed += db::query("DELETE FROM refresh_tokens WHERE expires_at < $1")
            .bind(grants_before.millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // In batches: a first sweep after an upgrade finds every grant ever issued.
        removed += db::query(
            "DELETE FROM oidc_grants WHERE id IN (SELECT g.id FROM oidc_grants g \
             WHERE g.code_expires_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id) LIMIT $2)",
        )
        .bind(grants_before.millis())
        .bind(GRANT_BATCH)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // Finished messages past their retention, attempts first (they refer to them).
        let finished = "SELECT id FROM outbox WHERE state IN ('sent', 'failed', 'skipped') \
             AND created_at < $1 ORDER BY created_at LIMIT $2";
        removed += db::query(db::AssertSqlSafe(format!(
            "DELETE FROM delivery_attempts WHERE outbox_id IN ({finished})"
        )))
        .bind(messages_before.millis())
        .bind(MESSAGE_BATCH)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        removed += db::query(db::AssertSqlSafe(format!(
            "DELETE FROM outbox WHERE id IN ({finished})"
        )))
        .bind(messages_before.millis())
        .bind(MESSAGE_BATCH)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(removed)
    }
}
