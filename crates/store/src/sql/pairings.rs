//! Pairings of further apps, and devices loaded for change (PIN attempts, lifecycle).

use super::db::{RowExt as _, Transaction};
use async_trait::async_trait;
use sesam_domain::auth_request::{AuthRequest, BindingCode};
use sesam_domain::device::{Device, DeviceName, DevicePublicKey, DeviceState};
use sesam_domain::pairing::{Pairing, PairingState};
use sesam_domain::rate_limit::{PendingCap, RateWindow, WindowLimit};
use sesam_domain::{Identity, IdentityState, Timestamp};
use uuid::Uuid;

use super::auth_requests::{auth_request, auth_request_columns, count_requests};
use super::effects::write_effects;
use super::rows::{self, Row, device_and_identity_columns, device_columns};
use super::store::SqlStore;
use super::{db, dialect, signals};
use crate::{DeviceUnit, Effects, PairingLimits, PairingStart, PairingStore, Signal, StoreError};

macro_rules! pairing_columns {
    () => {
        "id, identity_id, device_id, public_key, name, pin_hash, state, created_at, expires_at, code, code_failures"
    };
}

fn pairing(row: &Row) -> Result<Pairing, StoreError> {
    let invalid = |what: &str| StoreError::InvalidData(format!("pairing {what}"));
    let state: String = row.try_get("state")?;
    let code: Option<String> = row.try_get("code")?;
    Ok(Pairing {
        id: row.try_get("id")?,
        identity_id: row.try_get("identity_id")?,
        device_id: row.try_get("device_id")?,
        public_key: DevicePublicKey::from_sec1(&row.try_get::<Vec<u8>, _>("public_key")?)
            .map_err(|_| invalid("public key"))?,
        name: DeviceName::parse(row.try_get::<&str, _>("name")?).map_err(|_| invalid("name"))?,
        pin_hash: rows::hash32(row.try_get("pin_hash")?, "pairing pin_hash")?,
        code: code
            .map(|c| BindingCode::parse(&c).ok_or_else(|| invalid("code")))
            .transpose()?,
        code_failures: row.try_get::<i32, _>("code_failures")?,
        state: PairingState::parse(&state).ok_or_else(|| invalid("state"))?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
    })
}

struct SqlDeviceUnit {
    tx: Transaction<'static>,
    device: Device,
    identity: Identity,
}

impl SqlDeviceUnit {
    async fn save_device(&mut self, d: &Device) -> Result<(), StoreError> {
        let l = &d.lockout;
        db::query(
            "UPDATE devices SET failures = $1, locked_until = $2, temporary_locks = $3, lock_window_start = $4, blocked = $5, last_used_at = $6 WHERE id = $7",
        )
        .bind(l.failures)
        .bind(l.locked_until.map(Timestamp::millis))
        .bind(l.temporary_locks)
        .bind(l.window_start.map(Timestamp::millis))
        .bind(l.blocked)
        .bind(d.last_used_at.map(Timestamp::millis))
        .bind(d.id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn finish(mut self, at: Timestamp, effects: &Effects) -> Result<(), StoreError> {
        write_effects(&mut self.tx, at, effects).await?;
        self.tx.commit().await?;
        Ok(())
    }

    /// Fails unless `target` is a device of this unit's identity.
    async fn own_device(&mut self, target: Uuid) -> Result<(), StoreError> {
        let owner: Option<Uuid> = db::query("SELECT identity_id FROM devices WHERE id = $1")
            .bind(target)
            .fetch_optional(&mut *self.tx)
            .await?
            .map(|r| r.try_get("identity_id"))
            .transpose()?;
        if owner != Some(self.identity.id) {
            return Err(StoreError::NotFound("device"));
        }
        Ok(())
    }
}

pub(super) async fn insert_device(
    tx: &mut Transaction<'static>,
    device: &Device,
) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO devices (id, identity_id, name, public_key, pin_hash, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(device.id)
    .bind(device.identity_id)
    .bind(device.name.as_str())
    .bind(device.public_key.to_sec1())
    .bind(&device.pin_hash[..])
    .bind(device.state.as_str())
    .bind(device.created_at.millis())
    .execute(&mut **tx)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::UserIdTaken => StoreError::DeviceKeyTaken,
        other => other,
    })?;
    Ok(())
}

#[async_trait]
impl DeviceUnit for SqlDeviceUnit {
    fn device(&self) -> &Device {
        &self.device
    }

    fn identity(&self) -> &Identity {
        &self.identity
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

    async fn lock_pairing(&mut self, id: Uuid) -> Result<Option<Pairing>, StoreError> {
        db::query(concat!(
            "SELECT ",
            pairing_columns!(),
            " FROM pairings WHERE id = $1 AND identity_id = $2",
            dialect::for_update!()
        ))
        .bind(id)
        .bind(self.identity.id)
        .fetch_optional(&mut *self.tx)
        .await?
        .as_ref()
        .map(pairing)
        .transpose()
    }

    async fn save(
        mut self: Box<Self>,
        device: &Device,
        effects: Effects,
    ) -> Result<(), StoreError> {
        self.save_device(device).await?;
        let at = device.last_used_at.unwrap_or(device.created_at);
        self.finish(at, &effects).await
    }

    async fn approve_pairing(
        mut self: Box<Self>,
        device: &Device,
        pairing: &Pairing,
        new_device: &Device,
        effects: Effects,
    ) -> Result<(), StoreError> {
        self.save_device(device).await?;
        db::query("UPDATE pairings SET state = 'approved' WHERE id = $1 AND state = 'pending'")
            .bind(pairing.id)
            .execute(&mut *self.tx)
            .await?;
        insert_device(&mut self.tx, new_device).await?;
        self.finish(new_device.created_at, &effects).await
    }

    async fn save_pairing(
        mut self: Box<Self>,
        device: &Device,
        pairing: &Pairing,
        effects: Effects,
    ) -> Result<(), StoreError> {
        self.save_device(device).await?;
        db::query(
            "UPDATE pairings SET state = $1, code_failures = $2, expires_at = $3 WHERE id = $4 AND identity_id = $5",
        )
        .bind(pairing.state.as_str())
        .bind(pairing.code_failures)
        .bind(pairing.expires_at.millis())
        .bind(pairing.id)
        .bind(self.identity.id)
        .execute(&mut *self.tx)
        .await?;
        let at = device.last_used_at.unwrap_or(device.created_at);
        self.finish(at, &effects).await
    }

    async fn lock_auth_request(&mut self, id: Uuid) -> Result<Option<AuthRequest>, StoreError> {
        db::query(concat!(
            "SELECT ",
            auth_request_columns!(),
            " FROM auth_requests WHERE id = $1 AND identity_id = $2",
            dialect::for_update!()
        ))
        .bind(id)
        .bind(self.identity.id)
        .fetch_optional(&mut *self.tx)
        .await?
        .as_ref()
        .map(auth_request)
        .transpose()
    }

    async fn record_binding_failure(
        mut self: Box<Self>,
        device: &Device,
        request: &AuthRequest,
        effects: Effects,
    ) -> Result<(), StoreError> {
        self.save_device(device).await?;
        db::query(
            "UPDATE auth_requests SET binding_failures = $1, state = $2, decided_at = $3 WHERE id = $4 AND identity_id = $5 AND state = 'pending'",
        )
        .bind(request.binding_failures)
        .bind(request.state.as_str())
        .bind(request.decided_at.map(Timestamp::millis))
        .bind(request.id)
        .bind(self.identity.id)
        .execute(&mut *self.tx)
        .await?;
        let at = device.last_used_at.unwrap_or(device.created_at);
        self.finish(at, &effects).await
    }

    async fn reject_pairing(
        mut self: Box<Self>,
        device: &Device,
        pairing: Uuid,
        effects: Effects,
    ) -> Result<(), StoreError> {
        self.save_device(device).await?;
        db::query("UPDATE pairings SET state = 'rejected' WHERE id = $1 AND identity_id = $2 AND state = 'pending'")
            .bind(pairing)
            .bind(self.identity.id)
            .execute(&mut *self.tx)
            .await?;
        let at = device.last_used_at.unwrap_or(device.created_at);
        self.finish(at, &effects).await
    }

    async fn answer_auth_request(
        mut self: Box<Self>,
        device: &Device,
        answer: &crate::AuthAnswer,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        self.save_device(device).await?;
        let done = db::query(
            "UPDATE auth_requests SET state = $1, decided_at = $2, device_id = $3, signature = $4, not_me = $5, signed_bytes = $8 \
             WHERE id = $6 AND identity_id = $7 AND state = 'pending' AND expires_at > $2",
        )
        .bind(answer.state.as_str())
        .bind(answer.at.millis())
        .bind(device.id)
        .bind(&answer.signature)
        .bind(answer.not_me)
        .bind(answer.request_id)
        .bind(self.identity.id)
        .bind(&answer.signed_bytes)
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        self.finish(answer.at, &effects).await?;
        Ok(true)
    }

    async fn revoke_device(
        mut self: Box<Self>,
        device: &Device,
        target: Uuid,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        self.save_device(device).await?;
        self.own_device(target).await?;
        db::query(
            "UPDATE devices SET state = $1, revoked_at = $2 WHERE id = $3 AND state = 'active'",
        )
        .bind(DeviceState::Revoked.as_str())
        .bind(at.millis())
        .bind(target)
        .execute(&mut *self.tx)
        .await?;
        // A revoked app is not woken any more.
        db::query("DELETE FROM push_subscriptions WHERE device_id = $1")
            .bind(target)
            .execute(&mut *self.tx)
            .await?;
        self.finish(at, &effects).await
    }

    async fn rename_device(
        mut self: Box<Self>,
        device: &Device,
        target: Uuid,
        name: &DeviceName,
        effects: Effects,
    ) -> Result<(), StoreError> {
        self.save_device(device).await?;
        self.own_device(target).await?;
        db::query("UPDATE devices SET name = $1 WHERE id = $2")
            .bind(name.as_str())
            .bind(target)
            .execute(&mut *self.tx)
            .await?;
        let at = device.last_used_at.unwrap_or(device.created_at);
        self.finish(at, &effects).await
    }

    async fn suspend_identity(
        mut self: Box<Self>,
        device: &Device,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        self.save_device(device).await?;
        let done = db::query(
            "UPDATE identities SET state = $1, updated_at = $2 WHERE id = $3 AND state IN ('pending', 'active')",
        )
        .bind(IdentityState::Suspended.as_str())
        .bind(at.millis())
        .bind(self.identity.id)
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("identity"));
        }
        self.finish(at, &effects).await
    }
}

#[async_trait]
impl PairingStore for SqlStore {
    async fn start_pairing(
        &self,
        p: &Pairing,
        subject: &str,
        source_hash: &[u8; 32],
        limits: PairingLimits,
        effects: Effects,
    ) -> Result<PairingStart, StoreError> {
        let window = RateWindow::seconds(limits.window_seconds).start(p.created_at);
        let subject_key = [b"pairing-p:".as_slice(), subject.as_bytes()].concat();
        let source_key = [b"pairing-s:".as_slice(), &source_hash[..]].concat();
        let counted = [
            (
                &subject_key[..],
                WindowLimit::at_most(limits.max_per_subject),
            ),
            (&source_key[..], WindowLimit::at_most(limits.max_per_source)),
        ];
        if !count_requests(self, counted, window).await? {
            return Ok(PairingStart::TooMany);
        }
        let mut tx = dialect::begin_write(&self.pool).await?;
        if let Some(lock) = dialect::LOCK_SUBJECT {
            db::query(lock).bind(subject).execute(&mut *tx).await?;
        }
        let pending: Vec<Uuid> = db::query(concat!(
            "SELECT id FROM pairings WHERE subject = $1 AND state = 'pending' AND expires_at > $2 ORDER BY created_at",
            dialect::for_update!()
        ))
        .bind(subject)
        .bind(p.created_at.millis())
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
        let evicted = PendingCap::at_most(limits.max_pending).evicted(pending);
        for id in &evicted {
            // Pushed out: it expires now (the new app sees "expired").
            db::query("UPDATE pairings SET expires_at = $1 WHERE id = $2")
                .bind(p.created_at.millis())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        db::query(
            "INSERT INTO pairings (id, identity_id, device_id, public_key, name, pin_hash, state, created_at, expires_at, subject, code, code_failures) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(p.id)
        .bind(p.identity_id)
        .bind(p.device_id)
        .bind(p.public_key.to_sec1())
        .bind(p.name.as_str())
        .bind(&p.pin_hash[..])
        .bind(p.state.as_str())
        .bind(p.created_at.millis())
        .bind(p.expires_at.millis())
        .bind(subject)
        .bind(p.code.as_ref().map(BindingCode::as_str))
        .bind(p.code_failures)
        .execute(&mut *tx)
        .await?;
        write_effects(&mut tx, p.created_at, &effects).await?;
        // Published for an unknown person too (to no one: the nil id), so that the work
        // done does not tell whether the person exists.
        let identity_id = p.identity_id.unwrap_or(Uuid::nil());
        signals::publish(&mut tx, Signal::AppRequestsChanged { identity_id }).await?;
        tx.commit().await?;
        Ok(PairingStart::Started { evicted })
    }

    async fn pairing(&self, id: Uuid) -> Result<Option<Pairing>, StoreError> {
        db::query(concat!(
            "SELECT ",
            pairing_columns!(),
            " FROM pairings WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.read_pool)
        .await?
        .as_ref()
        .map(pairing)
        .transpose()
    }

    async fn pending_pairings(
        &self,
        identity_id: Uuid,
        now: Timestamp,
    ) -> Result<Vec<Pairing>, StoreError> {
        db::query(concat!(
            "SELECT ",
            pairing_columns!(),
            " FROM pairings WHERE identity_id = $1 AND state = 'pending' AND expires_at > $2 ORDER BY created_at"
        ))
        .bind(identity_id)
        .bind(now.millis())
        .fetch_all(&self.read_pool)
        .await?
        .iter()
        .map(pairing)
        .collect()
    }

    async fn lock_device(&self, id: Uuid) -> Result<Option<Box<dyn DeviceUnit>>, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        // Both rows with one statement (on PostgreSQL it locks both).
        let Some(row) = db::query(concat!(
            "SELECT ",
            device_and_identity_columns!(),
            " FROM devices d JOIN identities i ON i.id = d.identity_id WHERE d.id = $1 AND d.state = 'active'",
            dialect::for_update!()
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let device = rows::device_named(&row, &rows::DEVICE_IN_JOIN)?;
        let identity = rows::identity(&row)?;
        Ok(Some(Box::new(SqlDeviceUnit {
            tx,
            device,
            identity,
        })))
    }
}
