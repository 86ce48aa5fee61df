//! Activation grants loaded for change (row-locked), and completing an activation.

use super::db::{RowExt as _, Transaction};
use async_trait::async_trait;
use sesam_domain::code_display::CodeDisplay;
use sesam_domain::device::Device;
use sesam_domain::{ActivationGrant, Identity, IdentityState, Timestamp, UserIdKey};
use uuid::Uuid;

use super::code_displays::{self, code_display_columns};
use super::effects::write_effects;
use super::rows::{self, device_columns, grant_columns, identity_columns};
use super::store::SqlStore;
use super::{db, dialect, identities};
use crate::{ActivationStore, Effects, GrantUnit, StoreError, UserIdChange};

struct SqlGrantUnit {
    tx: Transaction<'static>,
    grant: ActivationGrant,
    identity: Identity,
}

async fn update_grant(
    tx: &mut Transaction<'static>,
    g: &ActivationGrant,
) -> Result<(), StoreError> {
    db::query(
        "UPDATE activation_grants SET state = $1, failed_attempts = $2, sms_pin_hash = $3, sms_pin_expires_at = $4, sms_sent_count = $5, user_id_refusals = $6 WHERE id = $7",
    )
    .bind(g.state.as_str())
    .bind(g.failed_attempts)
    .bind(g.sms_pin_hash.map(|h| h.to_vec()))
    .bind(g.sms_pin_expires_at.map(Timestamp::millis))
    .bind(g.sms_sent_count)
    .bind(g.user_id_refusals)
    .bind(g.id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl GrantUnit for SqlGrantUnit {
    fn grant(&self) -> &ActivationGrant {
        &self.grant
    }

    fn identity(&self) -> &Identity {
        &self.identity
    }

    async fn user_id_free(&mut self, key: &UserIdKey, at: Timestamp) -> Result<(), StoreError> {
        identities::user_id_free(&mut self.tx, self.identity.id, key, at).await
    }

    async fn active_devices(&mut self) -> Result<Vec<Device>, StoreError> {
        db::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM devices WHERE identity_id = $1 AND state = 'active' ORDER BY created_at"
        ))
        .bind(self.identity.id)
        .fetch_all(&mut *self.tx)
        .await?
        .iter()
        .map(rows::device)
        .collect()
    }

    async fn lock_code_display(
        &mut self,
        serial: &str,
    ) -> Result<Option<(CodeDisplay, Vec<u8>)>, StoreError> {
        let Some(row) = db::query(concat!(
            "SELECT ",
            code_display_columns!(),
            " FROM code_displays WHERE serial = $1",
            dialect::for_update!()
        ))
        .bind(serial)
        .fetch_optional(&mut *self.tx)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some((
            code_displays::code_display(&row)?,
            row.try_get("seed_sealed")?,
        )))
    }

    async fn active_code_displays(&mut self) -> Result<Vec<CodeDisplay>, StoreError> {
        db::query(concat!(
            "SELECT ",
            code_display_columns!(),
            " FROM code_displays WHERE identity_id = $1 AND state = 'active'"
        ))
        .bind(self.identity.id)
        .fetch_all(&mut *self.tx)
        .await?
        .iter()
        .map(code_displays::code_display)
        .collect()
    }

    async fn activate_code_display(
        mut self: Box<Self>,
        grant: &ActivationGrant,
        display: &CodeDisplay,
        password_phc: Option<&str>,
        user_id: Option<&UserIdChange>,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let at = display.activated_at.unwrap_or(grant.created_at);
        update_grant(&mut self.tx, grant).await?;
        code_displays::update(&mut self.tx, display).await?;
        if let Some(phc) = password_phc {
            code_displays::set_password(&mut self.tx, self.identity.id, phc, at).await?;
        }
        self.finish_activation(user_id, at, &effects).await
    }

    async fn save(
        mut self: Box<Self>,
        grant: &ActivationGrant,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let at = effects_time(&effects, grant);
        update_grant(&mut self.tx, grant).await?;
        write_effects(&mut self.tx, at, &effects).await?;
        self.tx.commit().await?;
        Ok(())
    }

    async fn activate(
        mut self: Box<Self>,
        grant: &ActivationGrant,
        device: &Device,
        user_id: Option<&UserIdChange>,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let at = device.created_at;
        update_grant(&mut self.tx, grant).await?;
        super::pairings::insert_device(&mut self.tx, device).await?;
        self.finish_activation(user_id, at, &effects).await
    }
}

impl SqlGrantUnit {
    /// The common end of every activation: the user ID (if chosen now), the identity made
    /// active (compare-and-set on the state it was loaded in), the effects; then commit.
    async fn finish_activation(
        mut self: Box<Self>,
        user_id: Option<&UserIdChange>,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        if let Some(change) = user_id {
            identities::apply_user_id_change(
                &mut self.tx,
                change,
                self.identity.user_id.as_ref().map(|u| u.key()),
            )
            .await?;
        }
        db::query(
            "UPDATE identities SET state = $1, updated_at = $2, activated_at = COALESCE(activated_at, $2) WHERE id = $3 AND state = $4",
        )
        .bind(IdentityState::Active.as_str())
        .bind(at.millis())
        .bind(self.identity.id)
        .bind(self.identity.state.as_str())
        .execute(&mut *self.tx)
        .await?;
        write_effects(&mut self.tx, at, effects).await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// The time effects are recorded at: the newest message's, else the grant's creation.
fn effects_time(effects: &Effects, grant: &ActivationGrant) -> Timestamp {
    effects
        .messages
        .iter()
        .map(|m| m.message.created_at)
        .max()
        .unwrap_or(grant.created_at)
}

impl SqlStore {
    async fn lock_grant_where(
        &self,
        sql: &'static str,
        bind: impl FnOnce(db::Query<'static>) -> db::Query<'static>,
    ) -> Result<Option<Box<dyn GrantUnit>>, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let Some(row) = bind(db::query(sql)).fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let grant = rows::grant(&row)?;
        let identity_row = db::query(concat!(
            "SELECT ",
            identity_columns!(),
            " FROM identities WHERE id = $1",
            dialect::for_update!()
        ))
        .bind(grant.identity_id)
        .fetch_one(&mut *tx)
        .await?;
        let identity = rows::identity(&identity_row)?;
        Ok(Some(Box::new(SqlGrantUnit {
            tx,
            grant,
            identity,
        })))
    }
}

#[async_trait]
impl ActivationStore for SqlStore {
    async fn lock_grant_by_code_hash(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<Box<dyn GrantUnit>>, StoreError> {
        let hash = hash.to_vec();
        self.lock_grant_where(
            concat!(
                "SELECT ",
                grant_columns!(),
                " FROM activation_grants WHERE code_hash = $1",
                dialect::for_update!()
            ),
            |q| q.bind(hash),
        )
        .await
    }

    async fn lock_grant(&self, id: Uuid) -> Result<Option<Box<dyn GrantUnit>>, StoreError> {
        self.lock_grant_where(
            concat!(
                "SELECT ",
                grant_columns!(),
                " FROM activation_grants WHERE id = $1",
                dialect::for_update!()
            ),
            |q| q.bind(id),
        )
        .await
    }
}
