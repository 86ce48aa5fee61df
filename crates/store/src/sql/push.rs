//! The apps' web push subscriptions.

use super::db::RowExt as _;
use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::web_push::PushSubscription;
use uuid::Uuid;

use super::effects::write_effects;
use super::rows::Row;
use super::store::SqlStore;
use super::{db, dialect};
use crate::{Effects, PushStore, StoreError};

macro_rules! columns {
    () => {
        "p.id, p.device_id, p.identity_id, p.endpoint, p.p256dh, p.auth, p.created_at"
    };
}

fn subscription(r: &Row) -> Result<PushSubscription, StoreError> {
    Ok(PushSubscription {
        id: r.try_get("id")?,
        device_id: r.try_get("device_id")?,
        identity_id: r.try_get("identity_id")?,
        endpoint: r.try_get("endpoint")?,
        p256dh: r.try_get("p256dh")?,
        auth: r.try_get("auth")?,
        created_at: Timestamp::from_millis(r.try_get("created_at")?),
    })
}

#[async_trait]
impl PushStore for SqlStore {
    async fn save_push_subscription(
        &self,
        s: &PushSubscription,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let active = db::query(
            "SELECT id FROM devices WHERE id = $1 AND identity_id = $2 AND state = 'active'",
        )
        .bind(s.device_id)
        .bind(s.identity_id)
        .fetch_optional(&mut *tx)
        .await?;
        if active.is_none() {
            return Err(StoreError::NotFound("active device"));
        }
        db::query("DELETE FROM push_subscriptions WHERE device_id = $1")
            .bind(s.device_id)
            .execute(&mut *tx)
            .await?;
        db::query(
            "INSERT INTO push_subscriptions (id, device_id, identity_id, endpoint, p256dh, auth, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(s.id)
        .bind(s.device_id)
        .bind(s.identity_id)
        .bind(&s.endpoint)
        .bind(&s.p256dh)
        .bind(&s.auth)
        .bind(s.created_at.millis())
        .execute(&mut *tx)
        .await?;
        write_effects(&mut tx, s.created_at, effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_push_subscriptions(
        &self,
        device_id: Uuid,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<bool, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let done = db::query("DELETE FROM push_subscriptions WHERE device_id = $1")
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        let removed = done.rows_affected() > 0;
        if removed {
            write_effects(&mut tx, at, effects).await?;
        }
        tx.commit().await?;
        Ok(removed)
    }

    async fn push_subscriptions_of(
        &self,
        identity_id: Uuid,
    ) -> Result<Vec<PushSubscription>, StoreError> {
        db::query(concat!(
            "SELECT ",
            columns!(),
            " FROM push_subscriptions p JOIN devices d ON d.id = p.device_id \
             WHERE p.identity_id = $1 AND d.state = 'active' ORDER BY p.created_at, p.id"
        ))
        .bind(identity_id)
        .fetch_all(&self.read_pool)
        .await?
        .iter()
        .map(subscription)
        .collect()
    }

    async fn push_subscription(&self, id: Uuid) -> Result<Option<PushSubscription>, StoreError> {
        db::query(concat!(
            "SELECT ",
            columns!(),
            " FROM push_subscriptions p JOIN devices d ON d.id = p.device_id \
             WHERE p.id = $1 AND d.state = 'active'"
        ))
        .bind(id)
        .fetch_optional(&self.read_pool)
        .await?
        .as_ref()
        .map(subscription)
        .transpose()
    }

    async fn forget_push_subscription(&self, id: Uuid) -> Result<bool, StoreError> {
        let done = db::query("DELETE FROM push_subscriptions WHERE id = $1")
            .bind(id)
            .execute(dialect::one_statement_unit(&self.pool))
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
