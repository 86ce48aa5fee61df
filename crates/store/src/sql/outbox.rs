//! The outbox: messages written with the events that cause them, claimed and sent by the
//! dispatcher, with every attempt recorded.

use super::db::{RowExt as _, Transaction};
use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::notification::Channel;
use uuid::Uuid;

use super::rows::{self, outbox_columns};
use super::store::SqlStore;
use super::{db, dialect};
use crate::{AttemptOutcome, DeliveryAttempt, OutboxEntry, OutboxStore, QueuedMessage, StoreError};

/// What a sent secret message's text is replaced with.
const SCRUBBED: &str = "[contained a one-time code; removed after delivery]";

pub(super) async fn enqueue(
    tx: &mut Transaction<'static>,
    messages: &[QueuedMessage],
) -> Result<(), StoreError> {
    for q in messages {
        let m = &q.message;
        // A first-working message starts on its first channel; the others wait.
        let state = if m.delivery == "first" && m.position > 0 {
            "standby"
        } else {
            "pending"
        };
        db::query(
            "INSERT INTO outbox (id, message_id, identity_id, event, channel, destination, body, body_sealed, delivery, position, state, attempts, next_attempt_at, created_at, language) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $12, $13)",
        )
        .bind(Uuid::now_v7())
        .bind(m.message_id)
        .bind(m.identity_id)
        .bind(m.event)
        .bind(m.channel.as_str())
        .bind(&m.destination)
        .bind(&m.text)
        .bind(&q.sealed_text)
        .bind(m.delivery)
        .bind(m.position)
        .bind(state)
        .bind(m.created_at.millis())
        .bind(m.language.as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
        only: Option<Channel>,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let ids: Vec<Uuid> = db::query(concat!(
            "SELECT id FROM outbox WHERE ((state = 'pending' AND next_attempt_at <= $1) OR (state = 'sending' AND lease_until < $1)) \
             AND ($3 IS NULL OR channel = $3) ORDER BY next_attempt_at, id LIMIT $2",
            dialect::skip_locked!()
        ))
        .bind(now.millis())
        .bind(limit)
        .bind(only.map(Channel::as_str))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            let row = db::query(concat!(
                "UPDATE outbox SET state = 'sending', lease_until = $1 WHERE id = $2 RETURNING ",
                outbox_columns!()
            ))
            .bind(lease_until.millis())
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            claimed.push(rows::outbox_entry(&row)?);
        }
        tx.commit().await?;
        Ok(claimed)
    }

    async fn record_attempt(
        &self,
        entry: &OutboxEntry,
        at: Timestamp,
        outcome: &AttemptOutcome,
    ) -> Result<bool, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let (kind, error) = match outcome {
            AttemptOutcome::Sent => ("sent", None),
            AttemptOutcome::Temporary { error, .. } => ("temporary", Some(error.as_str())),
            AttemptOutcome::Permanent { error } => ("permanent", Some(error.as_str())),
        };
        let error: Option<String> = error.map(|e| e.chars().take(500).collect());
        db::query(
            "INSERT INTO delivery_attempts (id, outbox_id, message_id, channel, at, outcome, error) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Uuid::now_v7())
        .bind(entry.id)
        .bind(entry.message_id)
        .bind(entry.channel.as_str())
        .bind(at.millis())
        .bind(kind)
        .bind(&error)
        .execute(&mut *tx)
        .await?;
        let mut undeliverable = false;
        match outcome {
            AttemptOutcome::Sent => {
                db::query(
                    "UPDATE outbox SET state = 'sent', sent_at = $1, attempts = attempts + 1, last_error = NULL, lease_until = NULL, \
                     body = CASE WHEN body_sealed IS NULL THEN body ELSE $2 END, body_sealed = NULL WHERE id = $3",
                )
                .bind(at.millis())
                .bind(SCRUBBED)
                .bind(entry.id)
                .execute(&mut *tx)
                .await?;
                if entry.delivery == "first" {
                    db::query("UPDATE outbox SET state = 'skipped', body_sealed = NULL WHERE message_id = $1 AND state = 'standby'")
                        .bind(entry.message_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            AttemptOutcome::Temporary {
                retry_at: Some(retry_at),
                ..
            } => {
                db::query(
                    "UPDATE outbox SET state = 'pending', attempts = attempts + 1, last_error = $1, next_attempt_at = $2, lease_until = NULL WHERE id = $3",
                )
                .bind(&error)
                .bind(retry_at.millis())
                .bind(entry.id)
                .execute(&mut *tx)
                .await?;
            }
            AttemptOutcome::Temporary { retry_at: None, .. } | AttemptOutcome::Permanent { .. } => {
                db::query(
                    "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = $1, lease_until = NULL, body_sealed = NULL WHERE id = $2",
                )
                .bind(&error)
                .bind(entry.id)
                .execute(&mut *tx)
                .await?;
                if entry.delivery == "first" {
                    let next: Option<Uuid> = db::query(
                        "SELECT id FROM outbox WHERE message_id = $1 AND state = 'standby' ORDER BY position LIMIT 1",
                    )
                    .bind(entry.message_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| r.try_get("id"))
                    .transpose()?;
                    if let Some(next) = next {
                        db::query("UPDATE outbox SET state = 'pending', next_attempt_at = $1 WHERE id = $2")
                            .bind(at.millis())
                            .bind(next)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                let open: i64 = db::query(
                    "SELECT COUNT(*) AS n FROM outbox WHERE message_id = $1 AND state IN ('pending', 'sending', 'standby', 'sent')",
                )
                .bind(entry.message_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
                undeliverable = open == 0;
            }
        }
        tx.commit().await?;
        Ok(undeliverable)
    }

    async fn recent_messages(
        &self,
        identity_id: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        db::query(concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox WHERE ($1 IS NULL OR identity_id = $1) ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(identity_id)
        .bind(limit)
        .fetch_all(&self.read_pool)
        .await?
        .iter()
        .map(rows::outbox_entry)
        .collect()
    }

    async fn attempts_of(&self, message_id: Uuid) -> Result<Vec<DeliveryAttempt>, StoreError> {
        db::query("SELECT message_id, channel, at, outcome, error FROM delivery_attempts WHERE message_id = $1 ORDER BY at, id")
            .bind(message_id)
            .fetch_all(&self.read_pool)
            .await?
            .iter()
            .map(|r| {
                let channel: String = r.try_get("channel")?;
                Ok(DeliveryAttempt {
                    message_id: r.try_get("message_id")?,
                    channel: Channel::parse(&channel).ok_or_else(|| StoreError::InvalidData(format!("channel '{channel}'")))?,
                    at: Timestamp::from_millis(r.try_get("at")?),
                    outcome: r.try_get("outcome")?,
                    error: r.try_get("error")?,
                })
            })
            .collect()
    }
}
