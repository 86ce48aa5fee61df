//! Appending to and reading the hash-chained audit log (see `ports/audit.rs`).

use async_trait::async_trait;
use sesam_domain::{AuditDraft, AuditEntry, ChainHead, Timestamp, UnchainedEntry};

use super::db::{self, BuildReused as _, QueryBuilder, RowExt as _, Transaction};
use super::dialect;
use super::rows::{self, audit_columns};
use super::store::SqlStore;
use crate::{AuditBacklog, AuditStore, ChainProgress, StoreError};

/// Rows per multi-row statement (9 columns: well inside both backends' parameter limits).
const ROWS_PER_STATEMENT: usize = 1000;

/// Appends one entry, unchained, in the caller's transaction.
pub(super) async fn append(
    tx: &mut Transaction<'_>,
    at: Timestamp,
    draft: &AuditDraft,
) -> Result<(), StoreError> {
    append_all(tx, at, std::slice::from_ref(draft)).await
}

/// Appends a change's entries, unchained, with one statement.
pub(super) async fn append_all(
    tx: &mut Transaction<'_>,
    at: Timestamp,
    drafts: &[AuditDraft],
) -> Result<(), StoreError> {
    match drafts {
        [] => Ok(()),
        [d] => {
            db::query(
                "INSERT INTO audit_pending (at, actor, action, subject, reason, details) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(at.millis())
            .bind(&d.actor)
            .bind(&d.action)
            .bind(&d.subject)
            .bind(&d.reason)
            .bind(d.details.to_string())
            .execute(&mut **tx)
            .await?;
            Ok(())
        }
        many => {
            let mut q = QueryBuilder::new(
                "INSERT INTO audit_pending (at, actor, action, subject, reason, details) ",
            );
            q.push_values(many, |mut b, d| {
                b.push_bind(at.millis())
                    .push_bind(d.actor.clone())
                    .push_bind(d.action.clone())
                    .push_bind(d.subject.clone())
                    .push_bind(d.reason.clone())
                    .push_bind(d.details.to_string());
            });
            q.build().execute(&mut **tx).await?;
            Ok(())
        }
    }
}

/// Links `entries` to the chain in order, inside `tx`: the head is read (and on
/// PostgreSQL locked) once, the entries written with multi-row statements, and the
/// `audit_head_follows` trigger moves the head.
pub(super) async fn chain(
    tx: &mut Transaction<'_>,
    store: &SqlStore,
    entries: impl IntoIterator<Item = UnchainedEntry>,
) -> Result<u64, StoreError> {
    let row = db::query(dialect::SELECT_AUDIT_HEAD_FOR_UPDATE)
        .fetch_one(&mut **tx)
        .await?;
    let mut head = ChainHead {
        seq: row.try_get("seq")?,
        hash: rows::hash32(row.try_get("hash")?, "audit head")?,
    };
    let chained: Vec<AuditEntry> = entries
        .into_iter()
        .map(|e| {
            let entry = store.audit_key.chain(head, e);
            head = ChainHead {
                seq: entry.seq,
                hash: entry.hash,
            };
            entry
        })
        .collect();
    for part in chained.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::new(
            "INSERT INTO audit_log (seq, at, actor, action, subject, reason, details, prev_hash, hash) ",
        );
        q.push_values(part, |mut b, e| {
            b.push_bind(e.seq)
                .push_bind(e.at.millis())
                .push_bind(e.actor.clone())
                .push_bind(e.action.clone())
                .push_bind(e.subject.clone())
                .push_bind(e.reason.clone())
                .push_bind(e.details.clone())
                .push_bind(e.prev_hash.to_vec())
                .push_bind(e.hash.to_vec());
        });
        // Full statements recur (an import chains thousands of entries): kept prepared.
        let q = if part.len() == ROWS_PER_STATEMENT {
            q.build_reused()
        } else {
            q.build()
        };
        q.execute(&mut **tx).await?;
    }
    Ok(chained.len() as u64)
}

impl SqlStore {
    /// Chains everything committed so far (waiting for another node that is chaining).
    async fn chain_everything(&self) -> Result<(), StoreError> {
        const BATCH: i64 = 1000;
        loop {
            match self.chain_batch(BATCH, true).await? {
                ChainProgress::Chained(n) if n < BATCH as u64 => return Ok(()),
                _ => {}
            }
        }
    }

    async fn chain_batch(&self, max: i64, wait: bool) -> Result<ChainProgress, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let lock = if wait {
            dialect::WAIT_FOR_AUDIT_SEQUENCER
        } else {
            dialect::TRY_AUDIT_SEQUENCER
        };
        if let Some(lock) = lock {
            let taken: bool = db::query(lock)
                .fetch_one(&mut *tx)
                .await?
                .try_get("taken")?;
            if !taken {
                return Ok(ChainProgress::Busy);
            }
        }
        let waiting = db::query(
            "SELECT id, at, actor, action, subject, reason, details FROM audit_pending \
             ORDER BY id LIMIT $1",
        )
        .bind(max)
        .fetch_all(&mut *tx)
        .await?;
        if waiting.is_empty() {
            tx.commit().await?;
            return Ok(ChainProgress::Chained(0));
        }
        let mut ids = Vec::with_capacity(waiting.len());
        let mut entries = Vec::with_capacity(waiting.len());
        for r in &waiting {
            ids.push(r.try_get::<i64, _>("id")?);
            entries.push(UnchainedEntry {
                at: Timestamp::from_millis(r.try_get("at")?),
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                subject: r.try_get("subject")?,
                reason: r.try_get("reason")?,
                details: r.try_get("details")?,
            });
        }
        let n = chain(&mut tx, self, entries).await?;
        let mut q = QueryBuilder::new("DELETE FROM audit_pending WHERE id IN ");
        q.push_tuples(&ids, |mut b, id| {
            b.push_bind(*id);
        });
        q.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(ChainProgress::Chained(n))
    }
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, at: Timestamp, audit: &AuditDraft) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        append(&mut tx, at, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn chain_pending_audit(&self, max: i64) -> Result<ChainProgress, StoreError> {
        self.chain_batch(max, false).await
    }

    async fn audit_backlog(&self) -> Result<AuditBacklog, StoreError> {
        let row = db::query("SELECT COUNT(*) AS n, MIN(at) AS oldest FROM audit_pending")
            .fetch_one(&self.read_pool)
            .await?;
        Ok(AuditBacklog {
            waiting: row.try_get("n")?,
            oldest: row
                .try_get::<Option<i64>, _>("oldest")?
                .map(Timestamp::from_millis),
        })
    }

    async fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        self.chain_everything().await?;
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

    async fn audit_entries_of(
        &self,
        subject: &str,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.chain_everything().await?;
        db::query(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_log WHERE subject = $1 ORDER BY seq DESC LIMIT $2"
        ))
        .bind(subject)
        .bind(limit)
        .fetch_all(&self.read_pool)
        .await?
        .iter()
        .map(rows::audit_entry)
        .collect()
    }

    async fn audit_head(&self) -> Result<ChainHead, StoreError> {
        self.chain_everything().await?;
        let row = db::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.read_pool)
            .await?;
        Ok(ChainHead {
            seq: row.try_get("seq")?,
            hash: rows::hash32(row.try_get("hash")?, "audit head")?,
        })
    }
}
