//! Activating apps for many people at once, for benchmark and test populations: the same
//! rules as one activation (an unused first-activation letter, an identity that may
//! activate, the keyed PIN hash, the audit entry), without the SMS round trip, written in
//! batches. Not reachable over HTTP; only programs linking this crate (the benchmark's
//! `seed`) call it.

use serde_json::json;
use sesam_domain::app_protocol::{AppPin, DevicePinKey};
use sesam_domain::device::{Device, DeviceName, DevicePublicKey, DeviceState};
use sesam_domain::lockout::Lockout;
use sesam_domain::{ActivationGrant, ActivationPurpose, AuditDraft};
use sesam_store::BulkAppActivation;
use uuid::Uuid;

use super::Actor;
use crate::context::Sesam;
use crate::error::AppError;

/// One app to activate with its person's first activation letter.
#[derive(Debug)]
pub struct BulkApp {
    pub grant: ActivationGrant,
    pub device_id: Uuid,
    pub name: DeviceName,
    pub public_key: DevicePublicKey,
    pub pin: AppPin,
}

/// Apps per transaction.
pub const BULK_ACTIVATION_BATCH: usize = 5_000;

impl Sesam {
    /// Activates the apps in batches; stops at the first letter that is not an unused
    /// first-activation letter (the batches before it stay written). Returns each
    /// activated app's device PIN key, in the order given: what an activation hands its
    /// app (`docs/protocol.md` §3), for the program that acts as these apps.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn activate_apps_in_bulk(
        &self,
        actor: &Actor,
        apps: Vec<BulkApp>,
    ) -> Result<Vec<DevicePinKey>, AppError> {
        let now = self.clock.now();
        let mut keys = Vec::with_capacity(apps.len());
        let mut batch = Vec::with_capacity(BULK_ACTIVATION_BATCH.min(apps.len()));
        for app in apps {
            let mut grant = app.grant;
            if grant.purpose != ActivationPurpose::FirstActivation || !grant.is_usable(now) {
                return Err(AppError::BadInput(format!(
                    "the activation letter {} is used, expired or not a first activation",
                    grant.id
                )));
            }
            grant.consume();
            let device = Device {
                id: app.device_id,
                identity_id: grant.identity_id,
                pin_hash: self.keys.app_pin_hash(app.device_id, &app.pin),
                name: app.name,
                public_key: app.public_key,
                state: DeviceState::Active,
                lockout: Lockout::default(),
                created_at: now,
                last_used_at: None,
            };
            let audit = AuditDraft::new(actor.audit_name(), "authenticator.app_activated")
                .subject(grant.identity_id.to_string())
                .details(json!({
                    "device": device.id,
                    "name": device.name.as_str(),
                    "grant": grant.id,
                    "bulk": true,
                }));
            batch.push(BulkAppActivation {
                grant,
                device,
                audit,
            });
            if batch.len() == BULK_ACTIVATION_BATCH {
                self.store.activate_apps_many(&batch).await?;
                keys.extend(
                    batch
                        .drain(..)
                        .map(|a| self.keys.device_pin_key(a.device.id)),
                );
            }
        }
        self.store.activate_apps_many(&batch).await?;
        keys.extend(batch.iter().map(|a| self.keys.device_pin_key(a.device.id)));
        Ok(keys)
    }
}
