//! The outbox: messages written with the events that cause them, sent by the dispatcher.

use async_trait::async_trait;
use sesam_domain::Timestamp;
use sqlx::Transaction;
use uuid::Uuid;

use super::rows::{self, outbox_columns};
use super::store::SqlStore;
use super::{Db, dialect};
use crate::{OutboxEntry, OutboxStore, QueuedMessage, StoreError};

/// What a sent secret message's text is replaced with.
const SCRUBBED: &str = "[contained a one-time code; removed after delivery]";

pub(super) async fn enqueue(
    tx: &mut Transaction<'static, Db>,
    messages: &[QueuedMessage],
) -> Result<(), StoreError> {
    for q in messages {
        let m = &q.message;
        sqlx::query(
            "INSERT INTO outbox (id, message_id, identity_id, event, channel, destination, body, body_sealed, state, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9)",
        )
        .bind(Uuid::now_v7())
        .bind(m.message_id)
        .bind(m.identity_id)
        .bind(m.event)
        .bind(m.channel.as_str())
        .bind(&m.destination)
        .bind(&m.text)
        .bind(&q.sealed_text)
        .bind(m.created_at.millis())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn due_messages(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2"
        ))
        .bind(now.millis())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::outbox_entry)
        .collect()
    }

    async fn mark_sent(&self, id: Uuid, at: Timestamp) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        sqlx::query(
            "UPDATE outbox SET state = 'sent', sent_at = $1, attempts = attempts + 1, last_error = NULL, \
             body = CASE WHEN body_sealed IS NULL THEN body ELSE $2 END, body_sealed = NULL WHERE id = $3",
        )
        .bind(at.millis())
        .bind(SCRUBBED)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: Uuid,
        at: Timestamp,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let error: String = error.chars().take(500).collect();
        let mut tx = dialect::begin_write(&self.pool).await?;
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1, \
             state = CASE WHEN $2 THEN 'pending' ELSE 'failed' END, next_attempt_at = $3 WHERE id = $4",
        )
        .bind(error)
        .bind(retry_at.is_some())
        .bind(retry_at.unwrap_or(at).millis())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn recent_messages(
        &self,
        identity_id: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox WHERE ($1 IS NULL OR identity_id = $1) ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(identity_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::outbox_entry)
        .collect()
    }
}
