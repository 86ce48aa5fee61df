//! The person's notification channels.

use super::db::{RowExt as _, Transaction};
use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::channels::ChannelChoice;
use sesam_domain::notification::Channel;
use uuid::Uuid;

use super::effects::write_effects;
use super::rows::{self, Row};
use super::store::SqlStore;
use super::{db, dialect};
use crate::{ChannelStore, ChannelUnit, Effects, StoreError};

macro_rules! channel_columns {
    () => {
        "id, identity_id, kind, address, position, confirmed_at, code_hash, code_expires_at, code_attempts, created_at"
    };
}

fn choice(row: &Row) -> Result<ChannelChoice, StoreError> {
    let kind: String = row.try_get("kind")?;
    let ts = |name: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(row
            .try_get::<Option<i64>, _>(name)?
            .map(Timestamp::from_millis))
    };
    Ok(ChannelChoice {
        id: row.try_get("id")?,
        identity_id: row.try_get("identity_id")?,
        kind: Channel::parse(&kind)
            .ok_or_else(|| StoreError::InvalidData(format!("channel kind '{kind}'")))?,
        address: row.try_get("address")?,
        position: row.try_get("position")?,
        confirmed_at: ts("confirmed_at")?,
        code_hash: row
            .try_get::<Option<Vec<u8>>, _>("code_hash")?
            .map(|h| rows::hash32(h, "channel code_hash"))
            .transpose()?,
        code_expires_at: ts("code_expires_at")?,
        code_attempts: row.try_get("code_attempts")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

/// Inserts a channel in `tx` (enrolment and additions).
pub(super) async fn insert(tx: &mut Transaction<'_>, c: &ChannelChoice) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO notification_channels (id, identity_id, kind, address, position, confirmed_at, code_hash, code_expires_at, code_attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(c.id)
    .bind(c.identity_id)
    .bind(c.kind.as_str())
    .bind(&c.address)
    .bind(c.position)
    .bind(c.confirmed_at.map(Timestamp::millis))
    .bind(c.code_hash.map(|h| h.to_vec()))
    .bind(c.code_expires_at.map(Timestamp::millis))
    .bind(c.code_attempts)
    .bind(c.created_at.millis())
    .execute(&mut **tx)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Database(m) if m.contains("UNIQUE") || m.contains("duplicate") => StoreError::Conflict("channel"),
        StoreError::UserIdTaken | StoreError::NationalIdTaken | StoreError::ClientIdTaken | StoreError::DeviceKeyTaken => {
            StoreError::Conflict("channel")
        }
        other => other,
    })?;
    Ok(())
}

struct SqlChannelUnit {
    tx: Transaction<'static>,
    choice: ChannelChoice,
}

#[async_trait]
impl ChannelUnit for SqlChannelUnit {
    fn choice(&self) -> &ChannelChoice {
        &self.choice
    }

    async fn others(&mut self) -> Result<Vec<ChannelChoice>, StoreError> {
        db::query(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM notification_channels WHERE identity_id = $1 AND id <> $2 ORDER BY position"
        ))
        .bind(self.choice.identity_id)
        .bind(self.choice.id)
        .fetch_all(&mut *self.tx)
        .await?
        .iter()
        .map(choice)
        .collect()
    }

    async fn save(
        mut self: Box<Self>,
        c: &ChannelChoice,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        db::query(
            "UPDATE notification_channels SET confirmed_at = $1, code_hash = $2, code_expires_at = $3, code_attempts = $4 WHERE id = $5",
        )
        .bind(c.confirmed_at.map(Timestamp::millis))
        .bind(c.code_hash.map(|h| h.to_vec()))
        .bind(c.code_expires_at.map(Timestamp::millis))
        .bind(c.code_attempts)
        .bind(c.id)
        .execute(&mut *self.tx)
        .await?;
        write_effects(&mut self.tx, at, &effects).await?;
        self.tx.commit().await?;
        Ok(())
    }

    async fn remove(
        mut self: Box<Self>,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        db::query("DELETE FROM notification_channels WHERE id = $1")
            .bind(self.choice.id)
            .execute(&mut *self.tx)
            .await?;
        write_effects(&mut self.tx, at, &effects).await?;
        self.tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl ChannelStore for SqlStore {
    async fn channel_choices(&self, identity_id: Uuid) -> Result<Vec<ChannelChoice>, StoreError> {
        db::query(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM notification_channels WHERE identity_id = $1 ORDER BY position"
        ))
        .bind(identity_id)
        .fetch_all(&self.read_pool)
        .await?
        .iter()
        .map(choice)
        .collect()
    }

    async fn add_channel(&self, c: &ChannelChoice, effects: Effects) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let next: i64 = db::query("SELECT CAST(COALESCE(MAX(position), -1) + 1 AS BIGINT) AS n FROM notification_channels WHERE identity_id = $1")
            .bind(c.identity_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        let mut c = c.clone();
        c.position = next as i32;
        insert(&mut tx, &c).await?;
        write_effects(&mut tx, c.created_at, &effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn lock_channel(&self, id: Uuid) -> Result<Option<Box<dyn ChannelUnit>>, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let Some(row) = db::query(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM notification_channels WHERE id = $1",
            dialect::for_update!()
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let choice = choice(&row)?;
        Ok(Some(Box::new(SqlChannelUnit { tx, choice })))
    }

    async fn reorder_channels(
        &self,
        identity_id: Uuid,
        order: &[Uuid],
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let current: Vec<Uuid> =
            db::query("SELECT id FROM notification_channels WHERE identity_id = $1")
                .bind(identity_id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?;
        let mut a = current.clone();
        let mut b = order.to_vec();
        a.sort();
        b.sort();
        if a != b {
            return Err(StoreError::Conflict("channel order"));
        }
        for (position, id) in order.iter().enumerate() {
            db::query("UPDATE notification_channels SET position = $1 WHERE id = $2")
                .bind(position as i32)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        write_effects(&mut tx, at, &effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_notify_every_use(
        &self,
        identity_id: Uuid,
        enabled: bool,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        db::query("UPDATE identities SET notify_every_use = $1, updated_at = $2 WHERE id = $3")
            .bind(enabled)
            .bind(at.millis())
            .bind(identity_id)
            .execute(&mut *tx)
            .await?;
        write_effects(&mut tx, at, &effects).await?;
        tx.commit().await?;
        Ok(())
    }
}
