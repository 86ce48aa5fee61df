//! Appending to and reading the hash-chained audit log.

use super::db::{RowExt as _, Transaction};
use async_trait::async_trait;
use sesam_domain::{AuditDraft, AuditEntry, AuditKey, ChainHead, Timestamp};

use super::db;
use super::dialect;
use super::rows::{self, audit_columns};
use super::store::SqlStore;
use crate::{AuditStore, StoreError};

/// Appends `draft` inside `tx`: reads (and on PostgreSQL locks) the head, links the new
/// entry to it and moves the head, all in the caller's transaction.
pub(super) async fn append(
    tx: &mut Transaction<'_>,
    key: &AuditKey,
    at: Timestamp,
    draft: &AuditDraft,
) -> Result<AuditEntry, StoreError> {
    let row = db::query(dialect::SELECT_AUDIT_HEAD_FOR_UPDATE)
        .fetch_one(&mut **tx)
        .await?;
    let head = ChainHead {
        seq: row.try_get("seq")?,
        hash: rows::hash32(row.try_get("hash")?, "audit head")?,
    };
    let e = key.seal(head, at, draft);
    db::query(
        "INSERT INTO audit_log (seq, at, actor, action, subject, reason, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(e.seq)
    .bind(e.at.millis())
    .bind(&e.actor)
    .bind(&e.action)
    .bind(&e.subject)
    .bind(&e.reason)
    .bind(&e.details)
    .bind(&e.prev_hash[..])
    .bind(&e.hash[..])
    .execute(&mut **tx)
    .await?;
    // The `audit_head_follows` trigger moves the head to this entry.
    Ok(e)
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(
        &self,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<AuditEntry, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let e = append(&mut tx, &self.audit_key, at, audit).await?;
        tx.commit().await?;
        Ok(e)
    }

    async fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        db::query(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read_pool)
        .await?
        .iter()
        .map(rows::audit_entry)
        .collect()
    }

    async fn audit_head(&self) -> Result<ChainHead, StoreError> {
        let row = db::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.read_pool)
            .await?;
        Ok(ChainHead {
            seq: row.try_get("seq")?,
            hash: rows::hash32(row.try_get("hash")?, "audit head")?,
        })
    }
}
