//! Turning rows into domain values, refusing what the domain would not accept.

use super::db::RowExt as _;
use sesam_domain::activation::GrantState;
use sesam_domain::{
    ActivationGrant, AuditEntry, EmailAddress, Identity, Level, PersonName, PhoneNumber, Timestamp,
    UserId,
};
use time::Date;
use time::macros::format_description;

use sesam_domain::device::{Device, DeviceName, DevicePublicKey, DeviceState};
use sesam_domain::lockout::Lockout;
use sesam_domain::notification::{Channel, Language};

use crate::{OutboxEntry, ServiceProviderRecord, StoreError};

pub(super) use super::db::Row;

macro_rules! identity_columns {
    () => {
        "id, national_id_masked, name, birthdate, ial, state, phone, email, user_id, language, notify_every_use, activated_at, phone_changed_at, created_at, updated_at"
    };
}
pub(super) use identity_columns;

fn invalid(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidData(format!("{what}: {e}"))
}

pub(super) fn hash32(bytes: Vec<u8>, what: &str) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|v: Vec<u8>| invalid(what, format_args!("expected 32 bytes, found {}", v.len())))
}

pub(super) fn format_date(d: Date) -> String {
    d.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

pub(super) fn identity(row: &Row) -> Result<Identity, StoreError> {
    let birthdate: String = row.try_get("birthdate")?;
    let email: Option<String> = row.try_get("email")?;
    let user_id: Option<String> = row.try_get("user_id")?;
    let state: String = row.try_get("state")?;
    let ial: String = row.try_get("ial")?;
    Ok(Identity {
        id: row.try_get("id")?,
        user_id: user_id
            .map(|u| UserId::parse(&u))
            .transpose()
            .map_err(|e| invalid("user_id", e))?,
        name: PersonName::parse(row.try_get::<&str, _>("name")?).map_err(|e| invalid("name", e))?,
        birthdate: Date::parse(&birthdate, format_description!("[year]-[month]-[day]"))
            .map_err(|e| invalid("birthdate", e))?,
        national_id_masked: row.try_get("national_id_masked")?,
        ial: ial.parse::<Level>().map_err(|e| invalid("ial", e))?,
        state: state.parse().map_err(|e| invalid("state", e))?,
        phone: PhoneNumber::parse(row.try_get::<&str, _>("phone")?)
            .map_err(|e| invalid("phone", e))?,
        email: email
            .map(|e| EmailAddress::parse(&e))
            .transpose()
            .map_err(|e| invalid("email", e))?,
        language: {
            let l: String = row.try_get("language")?;
            Language::parse(&l).ok_or_else(|| invalid("language", &l))?
        },
        notify_every_use: row.try_get("notify_every_use")?,
        activated_at: row
            .try_get::<Option<i64>, _>("activated_at")?
            .map(Timestamp::from_millis),
        phone_changed_at: row
            .try_get::<Option<i64>, _>("phone_changed_at")?
            .map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

macro_rules! grant_columns {
    () => {
        "id, identity_id, purpose, code_hash, state, failed_attempts, created_at, expires_at, sms_pin_hash, sms_pin_expires_at, sms_sent_count, user_id_refusals"
    };
}
pub(super) use grant_columns;

pub(super) fn grant(row: &Row) -> Result<ActivationGrant, StoreError> {
    let purpose: String = row.try_get("purpose")?;
    let state: String = row.try_get("state")?;
    Ok(ActivationGrant {
        id: row.try_get("id")?,
        identity_id: row.try_get("identity_id")?,
        purpose: purpose.parse().map_err(|e| invalid("purpose", e))?,
        code_hash: hash32(row.try_get("code_hash")?, "code_hash")?,
        state: state
            .parse::<GrantState>()
            .map_err(|e| invalid("grant state", e))?,
        failed_attempts: row.try_get("failed_attempts")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        sms_pin_hash: row
            .try_get::<Option<Vec<u8>>, _>("sms_pin_hash")?
            .map(|h| hash32(h, "sms_pin_hash"))
            .transpose()?,
        sms_pin_expires_at: row
            .try_get::<Option<i64>, _>("sms_pin_expires_at")?
            .map(Timestamp::from_millis),
        sms_sent_count: row.try_get("sms_sent_count")?,
        user_id_refusals: row.try_get("user_id_refusals")?,
    })
}

macro_rules! device_columns {
    () => {
        "id, identity_id, name, public_key, pin_hash, state, failures, locked_until, temporary_locks, lock_window_start, blocked, created_at, last_used_at"
    };
}
pub(super) use device_columns;

/// A device's columns joined with its identity's (`d` and `i`): the four names both tables
/// have are the identity's, the device's are read as `d_…` ([`DEVICE_IN_JOIN`]).
macro_rules! device_and_identity_columns {
    () => {
        "d.id AS d_id, d.identity_id, d.name AS d_name, d.public_key, d.pin_hash, d.state AS d_state, d.failures, d.locked_until, d.temporary_locks, d.lock_window_start, d.blocked, d.created_at AS d_created_at, d.last_used_at, \
         i.id, i.national_id_masked, i.name, i.birthdate, i.ial, i.state, i.phone, i.email, i.user_id, i.language, i.notify_every_use, i.activated_at, i.phone_changed_at, i.created_at, i.updated_at"
    };
}
pub(super) use device_and_identity_columns;

/// The names of the device columns a joined row renames.
pub(super) struct DeviceColumnNames {
    id: &'static str,
    name: &'static str,
    state: &'static str,
    created_at: &'static str,
}

const DEVICE_ALONE: DeviceColumnNames = DeviceColumnNames {
    id: "id",
    name: "name",
    state: "state",
    created_at: "created_at",
};

/// As [`device_and_identity_columns`] names them.
pub(super) const DEVICE_IN_JOIN: DeviceColumnNames = DeviceColumnNames {
    id: "d_id",
    name: "d_name",
    state: "d_state",
    created_at: "d_created_at",
};

/// The lockout counters, stored in the same columns on every factor's table.
pub(super) fn lockout(row: &Row) -> Result<Lockout, StoreError> {
    let ts = |name: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(row
            .try_get::<Option<i64>, _>(name)?
            .map(Timestamp::from_millis))
    };
    Ok(Lockout {
        failures: row.try_get("failures")?,
        locked_until: ts("locked_until")?,
        temporary_locks: row.try_get("temporary_locks")?,
        window_start: ts("lock_window_start")?,
        blocked: row.try_get("blocked")?,
    })
}

pub(super) fn device(row: &Row) -> Result<Device, StoreError> {
    device_named(row, &DEVICE_ALONE)
}

pub(super) fn device_named(row: &Row, names: &DeviceColumnNames) -> Result<Device, StoreError> {
    let state: String = row.try_get(names.state)?;
    let ts = |name: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(row
            .try_get::<Option<i64>, _>(name)?
            .map(Timestamp::from_millis))
    };
    Ok(Device {
        id: row.try_get(names.id)?,
        identity_id: row.try_get("identity_id")?,
        name: DeviceName::parse(row.try_get::<&str, _>(names.name)?)
            .map_err(|e| invalid("device name", e))?,
        public_key: DevicePublicKey::from_sec1(&row.try_get::<Vec<u8>, _>("public_key")?)
            .map_err(|e| invalid("device key", e))?,
        pin_hash: hash32(row.try_get("pin_hash")?, "pin_hash")?,
        state: DeviceState::parse(&state).ok_or_else(|| invalid("device state", &state))?,
        lockout: lockout(row)?,
        created_at: Timestamp::from_millis(row.try_get(names.created_at)?),
        last_used_at: ts("last_used_at")?,
    })
}

macro_rules! outbox_columns {
    () => {
        "id, message_id, identity_id, event, channel, destination, body, body_sealed, language, delivery, position, state, attempts, last_error, created_at, sent_at"
    };
}
pub(super) use outbox_columns;

pub(super) fn outbox_entry(row: &Row) -> Result<OutboxEntry, StoreError> {
    let channel: String = row.try_get("channel")?;
    Ok(OutboxEntry {
        id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        identity_id: row.try_get("identity_id")?,
        event: row.try_get("event")?,
        channel: Channel::parse(&channel).ok_or_else(|| invalid("channel", &channel))?,
        destination: row.try_get("destination")?,
        body: row.try_get("body")?,
        sealed: row.try_get("body_sealed")?,
        language: {
            let l: String = row.try_get("language")?;
            Language::parse(&l).ok_or_else(|| invalid("message language", &l))?
        },
        delivery: row.try_get("delivery")?,
        position: row.try_get("position")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        sent_at: row
            .try_get::<Option<i64>, _>("sent_at")?
            .map(Timestamp::from_millis),
    })
}

macro_rules! audit_columns {
    () => {
        "seq, at, actor, action, subject, reason, details, prev_hash, hash"
    };
}
pub(super) use audit_columns;

pub(super) fn audit_entry(row: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        at: Timestamp::from_millis(row.try_get("at")?),
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        subject: row.try_get("subject")?,
        reason: row.try_get("reason")?,
        details: row.try_get("details")?,
        prev_hash: hash32(row.try_get("prev_hash")?, "prev_hash")?,
        hash: hash32(row.try_get("hash")?, "hash")?,
    })
}

macro_rules! sp_columns {
    () => {
        "client_id, display_name, redirect_uris, secret_hash, allow_national_id, require_par, ciba, jwks, created_at"
    };
}
pub(super) use sp_columns;

pub(super) fn service_provider(row: &Row) -> Result<ServiceProviderRecord, StoreError> {
    let uris: String = row.try_get("redirect_uris")?;
    Ok(ServiceProviderRecord {
        client_id: row.try_get("client_id")?,
        display_name: row.try_get("display_name")?,
        redirect_uris: serde_json::from_str(&uris).map_err(|e| invalid("redirect_uris", e))?,
        secret_hash: hash32(row.try_get("secret_hash")?, "secret_hash")?,
        allow_national_id: row.try_get("allow_national_id")?,
        require_par: row.try_get("require_par")?,
        ciba: row.try_get("ciba")?,
        jwks: row.try_get("jwks")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}
