//! Further apps (pairing approved from an active app), app PIN checks with lockout, and
//! the person's own lifecycle actions: rename, revoke, block the identity.

use serde_json::json;
use sesam_domain::activation::ActivationError;
use sesam_domain::app_protocol::{b64, revoke_binding, unb64};
use sesam_domain::auth_request::BindingCode;
use sesam_domain::device::{
    Device, DeviceName, DevicePublicKey, DeviceState, MAX_ACTIVE_APPS, PinError,
};
use sesam_domain::lockout::Lockout;
use sesam_domain::notification::Event;
use sesam_domain::pairing::{
    PAIRING_VALIDITY_SECONDS, Pairing, PairingError, PairingState, WrongCode,
    pairing_approval_binding, pairing_binding, retry_after_seconds,
};
use sesam_domain::{AuditDraft, DomainError, IdentityState, Timestamp, UserIdKey};
use sesam_store::{DeviceUnit, Effects, PairingStart, StoreError};
use uuid::Uuid;

use crate::context::Sesam;
use crate::error::AppError;

pub use sesam_api::StartPairing;

/// A pairing as the new app is told about it.
#[derive(Debug, Clone)]
pub struct StartedPairing {
    pub id: Uuid,
    pub expires_at: Timestamp,
    /// The code the new app shows, to be typed into the approving app.
    pub code: BindingCode,
    /// The new device's PIN key, wrapped for the new app under its enrolment proof's key
    /// (`docs/protocol.md` §3), base64url: it is known now, and the app keeps it for after
    /// approval.
    pub device_pin_key: String,
}

/// Something waiting for the person's decision in their app.
#[derive(Debug, Clone)]
pub struct PendingApproval {
    pub id: Uuid,
    pub kind: &'static str,
    /// sesam's fixed sentence with the new device's name, in the person's language.
    pub text: String,
    /// The name the new device chose (to show apart from sesam's own words).
    pub device_name: String,
    pub expires_at: Timestamp,
    /// For "activate new app": the new app's key (SEC1), which the approval is bound to.
    pub new_device_key: Option<Vec<u8>>,
}

/// A code display or chip to remove.
#[derive(Debug, Clone)]
pub enum OtherAuthenticator {
    CodeDisplay(String),
    Chip(Uuid),
}

impl OtherAuthenticator {
    /// The name the revoke binding uses (see `docs/protocol.md`).
    pub fn binding_name(&self) -> String {
        match self {
            Self::CodeDisplay(serial) => format!("code_display:{serial}"),
            Self::Chip(id) => format!("chip:{id}"),
        }
    }
}

/// Every answer to a pairing start takes at least this long, so its time does not tell a
/// known user ID (the person's channels read, their messages written) from an unknown one.
/// Well above the few milliseconds that separate them; starts are rare and limited.
const PAIRING_ANSWER_FLOOR: std::time::Duration = std::time::Duration::from_millis(250);

fn pin_refused(e: PinError) -> AppError {
    AppError::Invalid(DomainError::Pin(e))
}

fn bytes(field: &'static str, value: &str) -> Result<Vec<u8>, AppError> {
    Ok(unb64(value, field).map_err(DomainError::from)?)
}

impl Sesam {
    /// Registers a new app's key and PIN under a user ID, to be approved from an active
    /// app with the pairing code returned here (the new app shows it). The answer is the
    /// same whether or not the user ID exists: limits count an unknown user ID like a
    /// known one, and only a known person is told (on every channel) that someone asked.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn start_pairing(
        &self,
        req: &StartPairing,
        source: &str,
    ) -> Result<StartedPairing, AppError> {
        let started = tokio::time::Instant::now();
        let result = self.start_pairing_now(req, source).await;
        tokio::time::sleep_until(started + PAIRING_ANSWER_FLOOR).await;
        result
    }

    async fn start_pairing_now(
        &self,
        req: &StartPairing,
        source: &str,
    ) -> Result<StartedPairing, AppError> {
        let public_key =
            DevicePublicKey::from_sec1(&bytes("device_public_key", &req.device_public_key)?)
                .map_err(DomainError::from)?;
        let name = DeviceName::parse(&req.device_name).map_err(DomainError::from)?;
        let key = UserIdKey::of_input(&req.user_id);
        let binding = pairing_binding(key.as_str(), &public_key.to_sec1());
        public_key
            .verify(
                &binding,
                &bytes("possession_signature", &req.possession_signature)?,
            )
            .map_err(|_| AppError::Invalid(ActivationError::BadPossessionProof.into()))?;
        let (pin, enrolment) = self
            .keys
            .pin_key()
            .open_enrolment(&bytes("pin_proof", &req.pin_proof)?, &binding)
            .map_err(DomainError::from)?;
        let identity = self
            .store
            .identity_by_user_id(&key)
            .await?
            .filter(|i| i.state == IdentityState::Active);
        let now = self.clock.now();
        let device_id = Uuid::now_v7();
        let pairing = Pairing {
            id: Uuid::now_v7(),
            identity_id: identity.as_ref().map(|i| i.id),
            device_id,
            pin_hash: self.keys.app_pin_hash(device_id, &pin),
            public_key,
            name,
            code: Some(BindingCode::generate(&*self.random)),
            code_failures: 0,
            state: PairingState::Pending,
            created_at: now,
            expires_at: now.plus_seconds(PAIRING_VALIDITY_SECONDS),
        };
        let subject = match &identity {
            Some(i) => i.id.to_string(),
            None => format!(
                "unknown:{}",
                super::approvals::hex_string(
                    &self
                        .keys
                        .flow_token_hash("unknown-user", &[key.as_str().as_bytes()])
                )
            ),
        };
        let mut effects = Effects {
            audit: vec![
                AuditDraft::new("app", "authenticator.pairing_requested")
                    .subject(subject.clone())
                    .details(json!({ "pairing": pairing.id, "name": pairing.name.as_str() })),
            ],
            messages: vec![],
        };
        if let Some(identity) = &identity {
            effects.messages = self
                .messages(&Event::PairingRequested { at: now }, identity)
                .await?;
            effects
                .messages
                .extend(self.push_messages(Some(identity.id)).await?);
        }
        let notify = !effects.messages.is_empty();
        let limits = self.pairing_limits.limits();
        let source_hash = self.keys.flow_token_hash("source", &[source.as_bytes()]);
        match self
            .store
            .start_pairing(&pairing, &subject, &source_hash, limits, effects)
            .await?
        {
            PairingStart::Started { .. } => {
                self.signal_pending(identity.as_ref().map(|i| i.id));
            }
            PairingStart::TooMany => {
                return Err(AppError::Invalid(
                    PairingError::TooManyStarted {
                        retry_after_seconds: retry_after_seconds(now, limits.window_seconds),
                    }
                    .into(),
                ));
            }
        }
        if notify {
            self.wake_outbox();
        }
        Ok(StartedPairing {
            id: pairing.id,
            expires_at: pairing.expires_at,
            code: pairing
                .code
                .unwrap_or_else(|| BindingCode::generate(&*self.random)),
            device_pin_key: b64(&enrolment.wrap(
                &self.keys.device_pin_key(device_id),
                &binding,
                &*self.random,
            )),
        })
    }

    /// How a pairing stands, as the new app polls it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn pairing_status(&self, id: Uuid) -> Result<(&'static str, Option<Uuid>), AppError> {
        let p = self
            .store
            .pairing(id)
            .await?
            .ok_or(StoreError::NotFound("pairing"))?;
        let status = p.status(self.clock.now());
        Ok((
            status,
            (p.state == PairingState::Approved).then_some(p.device_id),
        ))
    }

    /// What waits for this device's person to approve.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn pending_approvals(
        &self,
        device: &Device,
    ) -> Result<Vec<PendingApproval>, AppError> {
        let language = self
            .store
            .identity(device.identity_id)
            .await?
            .map(|i| i.language);
        self.pending_pairings_for(device, language).await
    }

    /// The pairings waiting for `device`'s approval, their texts in `language` (the
    /// person's, read by the caller).
    pub(crate) async fn pending_pairings_for(
        &self,
        device: &Device,
        language: Option<sesam_domain::notification::Language>,
    ) -> Result<Vec<PendingApproval>, AppError> {
        let now = self.clock.now();
        let language = language.unwrap_or_default();
        Ok(self
            .store
            .pending_pairings(device.identity_id, now)
            .await?
            .into_iter()
            .map(|p| PendingApproval {
                id: p.id,
                kind: "activate_app",
                text: p.approval_text(language),
                device_name: p.name.as_str().to_owned(),
                expires_at: p.expires_at,
                new_device_key: Some(p.public_key.to_sec1()),
            })
            .collect())
    }

    /// Checks the acting device's PIN proof for `binding` inside its unit; a wrong PIN is
    /// saved (with a lock notification when it locks the app) before the error returns.
    /// The proof is sealed under the device's own PIN key, re-derived here from the master
    /// key and the device id: no ECDH on this path (`docs/protocol.md` §3).
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn check_device_pin(
        &self,
        unit: Box<dyn DeviceUnit>,
        proof: &str,
        binding: &[u8],
    ) -> Result<(Box<dyn DeviceUnit>, Device), AppError> {
        let pin = self
            .keys
            .device_pin_key(unit.device().id)
            .open(&bytes("pin_proof", proof)?, binding)
            .map_err(DomainError::from)?;
        let now = self.clock.now();
        let mut device = unit.device().clone();
        device.record_use(now);
        let candidate = self.keys.app_pin_hash(device.id, &pin);
        match device.check_pin(&candidate, now) {
            Ok(()) => Ok((unit, device)),
            Err(e) if !e.counted() => Err(pin_refused(e)),
            Err(e) => {
                let identity = unit.identity().clone();
                let mut effects = Effects::default();
                effects.audit.push(
                    AuditDraft::new(format!("device:{}", device.id), "authenticator.pin_wrong")
                        .subject(identity.id.to_string())
                        .details(
                            json!({ "device": device.id, "failures": device.lockout.failures }),
                        ),
                );
                if matches!(e, PinError::LockedNow { .. } | PinError::Blocked) {
                    let blocked = e == PinError::Blocked;
                    effects.audit.push(
                        AuditDraft::new("system", "authenticator.app_locked")
                            .subject(identity.id.to_string())
                            .details(json!({ "device": device.id, "until_reactivated": blocked })),
                    );
                    effects.messages = self
                        .messages(
                            &Event::AppLocked {
                                device_name: device.name.as_str().to_owned(),
                                at: now,
                                until_reactivated: blocked,
                            },
                            &identity,
                        )
                        .await?;
                }
                unit.save(&device, effects).await?;
                self.wake_outbox();
                Err(pin_refused(e))
            }
        }
    }

    async fn device_unit(&self, device_id: Uuid) -> Result<Box<dyn DeviceUnit>, AppError> {
        self.store
            .lock_device(device_id)
            .await?
            .ok_or_else(|| AppError::BadInput("this app is not active".into()))
    }

    /// Approves a new app from this (active) app with the pairing code the new app shows
    /// and the PIN. A wrong code is counted (the third voids the pairing) before the PIN is
    /// looked at, inside the unit, so parallel guesses are evaluated one at a time.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn approve_pairing(
        &self,
        device_id: Uuid,
        pairing_id: Uuid,
        pairing_code: Option<&str>,
        pin_proof: &str,
    ) -> Result<Device, AppError> {
        let mut unit = self.device_unit(device_id).await?;
        if unit.identity().state != IdentityState::Active {
            return Err(AppError::Invalid(ActivationError::IdentityBlocked.into()));
        }
        let mut pairing = unit
            .lock_pairing(pairing_id)
            .await?
            .ok_or(StoreError::NotFound("approval request"))?;
        let now = self.clock.now();
        if !pairing.is_pending(now) {
            return Err(AppError::BadInput(
                "this request has expired or was already answered".into(),
            ));
        }
        if !pairing.code_matches(pairing_code) {
            let outcome = pairing.code_wrong();
            let mut device = unit.device().clone();
            device.record_use(now);
            let identity_id = unit.identity().id;
            let mut audit = vec![
                AuditDraft::new(
                    format!("device:{device_id}"),
                    "authenticator.pairing_code_wrong",
                )
                .subject(identity_id.to_string())
                .details(json!({ "pairing": pairing.id, "failures": pairing.code_failures })),
            ];
            if outcome == WrongCode::Voided {
                audit.push(
                    AuditDraft::new("system", "authenticator.pairing_voided")
                        .subject(identity_id.to_string())
                        .details(json!({ "pairing": pairing.id, "name": pairing.name.as_str() })),
                );
            }
            unit.save_pairing(
                &device,
                &pairing,
                Effects {
                    audit,
                    messages: vec![],
                },
            )
            .await?;
            return Err(AppError::Invalid(
                match outcome {
                    WrongCode::Counted { remaining } => PairingError::WrongCode { remaining },
                    WrongCode::Voided => PairingError::Voided,
                }
                .into(),
            ));
        }
        let binding =
            pairing_approval_binding(pairing.id, device_id, &pairing.public_key.to_sec1());
        let (mut unit, device) = self.check_device_pin(unit, pin_proof, &binding).await?;
        if unit.active_devices().await?.len() >= MAX_ACTIVE_APPS {
            return Err(AppError::Invalid(ActivationError::TooManyApps.into()));
        }
        let identity = unit.identity().clone();
        let new_device = Device {
            id: pairing.device_id,
            identity_id: identity.id,
            name: pairing.name.clone(),
            public_key: pairing.public_key.clone(),
            pin_hash: pairing.pin_hash,
            state: DeviceState::Active,
            lockout: Lockout::default(),
            created_at: now,
            last_used_at: None,
        };
        let effects = Effects {
            audit: vec![
                AuditDraft::new(format!("device:{device_id}"), "authenticator.app_activated")
                    .subject(identity.id.to_string())
                    .details(json!({ "device": new_device.id, "name": new_device.name.as_str(), "approved_by": device_id, "pairing": pairing.id })),
            ],
            messages: self.messages(&Event::AppActivated { device_name: new_device.name.as_str().to_owned(), at: now }, &identity).await?,
        };
        unit.approve_pairing(&device, &pairing, &new_device, effects)
            .await
            .map_err(|e| match e {
                StoreError::DeviceKeyTaken => {
                    AppError::BadInput("this device key is already registered".into())
                }
                other => other.into(),
            })?;
        self.wake_outbox();
        Ok(new_device)
    }

    /// Declines a pairing (no PIN needed to say no).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn reject_pairing(&self, device_id: Uuid, pairing_id: Uuid) -> Result<(), AppError> {
        let mut unit = self.device_unit(device_id).await?;
        let pairing = unit
            .lock_pairing(pairing_id)
            .await?
            .ok_or(StoreError::NotFound("approval request"))?;
        if !pairing.is_pending(self.clock.now()) {
            return Err(AppError::BadInput(
                "this request has expired or was already answered".into(),
            ));
        }
        let mut device = unit.device().clone();
        device.record_use(self.clock.now());
        let identity_id = unit.identity().id;
        let effects = Effects {
            audit: vec![
                AuditDraft::new(
                    format!("device:{device_id}"),
                    "authenticator.pairing_rejected",
                )
                .subject(identity_id.to_string())
                .details(json!({ "pairing": pairing.id, "name": pairing.name.as_str() })),
            ],
            messages: vec![],
        };
        unit.reject_pairing(&device, pairing.id, effects).await?;
        Ok(())
    }

    /// Removes an app (e.g. a lost phone) from another of the person's apps, with the PIN.
    /// Returns a warning when no working authenticator is left.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn revoke_device(
        &self,
        device_id: Uuid,
        target: Uuid,
        pin_proof: &str,
    ) -> Result<Option<String>, AppError> {
        let unit = self.device_unit(device_id).await?;
        let binding = revoke_binding(&format!("app:{target}"), device_id);
        let (unit, device) = self.check_device_pin(unit, pin_proof, &binding).await?;
        let now = self.clock.now();
        let identity = unit.identity().clone();
        let name = self
            .store
            .device(target)
            .await?
            .filter(|d| d.identity_id == identity.id)
            .map(|d| d.name.as_str().to_owned())
            .ok_or(StoreError::NotFound("device"))?;
        let effects = Effects {
            audit: vec![
                AuditDraft::new(format!("device:{device_id}"), "authenticator.app_revoked")
                    .subject(identity.id.to_string())
                    .details(json!({ "device": target, "name": name })),
            ],
            messages: self
                .messages(
                    &Event::AppRevoked {
                        device_name: name,
                        at: now,
                    },
                    &identity,
                )
                .await?,
        };
        unit.revoke_device(&device, target, now, effects).await?;
        self.wake_outbox();
        self.last_authenticator_warning(identity.id).await
    }

    /// A warning when the person has no working authenticator left.
    pub(crate) async fn last_authenticator_warning(
        &self,
        identity_id: Uuid,
    ) -> Result<Option<String>, AppError> {
        let apps = self
            .store
            .devices_of(identity_id)
            .await?
            .iter()
            .filter(|d| d.state == DeviceState::Active)
            .count();
        let displays = self
            .store
            .code_displays_of(identity_id)
            .await?
            .iter()
            .filter(|d| d.state == sesam_domain::code_display::CodeDisplayState::Active)
            .count();
        let chips = self
            .store
            .chips_of(identity_id)
            .await?
            .iter()
            .filter(|c| c.state == sesam_domain::chip::ChipState::Active)
            .count();
        Ok((apps + displays + chips == 0).then(|| {
            "that was your last working authenticator: to use sesam again you need a new activation letter from a registration office".to_owned()
        }))
    }

    /// Removes the person's code display or chip from one of their apps, with the PIN.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn revoke_other_authenticator(
        &self,
        device_id: Uuid,
        target: OtherAuthenticator,
        pin_proof: &str,
    ) -> Result<Option<String>, AppError> {
        let unit = self.device_unit(device_id).await?;
        let binding = revoke_binding(&target.binding_name(), device_id);
        let (unit, device) = self.check_device_pin(unit, pin_proof, &binding).await?;
        let identity = unit.identity().clone();
        unit.save(&device, Effects::default()).await?;
        let now = self.clock.now();
        let (action, code_display) = match &target {
            OtherAuthenticator::CodeDisplay(serial) => {
                // Named as the person knows it: a code display or an audio code reader.
                let kind = self
                    .store
                    .code_display(serial)
                    .await?
                    .filter(|d| d.identity_id == Some(identity.id))
                    .map(|d| d.kind)
                    .unwrap_or_default();
                (
                    "authenticator.code_display_revoked",
                    Some((kind, serial.clone())),
                )
            }
            OtherAuthenticator::Chip(_) => ("authenticator.chip_revoked", None),
        };
        let effects = Effects {
            audit: vec![
                AuditDraft::new(format!("device:{device_id}"), action)
                    .subject(identity.id.to_string())
                    .details(json!({ "target": target.binding_name() })),
            ],
            messages: self
                .messages(
                    &Event::AuthenticatorRevoked {
                        code_display,
                        at: now,
                    },
                    &identity,
                )
                .await?,
        };
        match &target {
            OtherAuthenticator::CodeDisplay(serial) => {
                self.store
                    .revoke_code_display(serial, identity.id, now, effects)
                    .await?
            }
            OtherAuthenticator::Chip(id) => {
                self.store
                    .revoke_chip(*id, identity.id, now, effects)
                    .await?
            }
        }
        self.wake_outbox();
        self.last_authenticator_warning(identity.id).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn rename_device(
        &self,
        device_id: Uuid,
        target: Uuid,
        name: &str,
    ) -> Result<(), AppError> {
        let name = DeviceName::parse(name).map_err(DomainError::from)?;
        let unit = self.device_unit(device_id).await?;
        let mut device = unit.device().clone();
        device.record_use(self.clock.now());
        let identity_id = unit.identity().id;
        let effects = Effects {
            audit: vec![
                AuditDraft::new(format!("device:{device_id}"), "authenticator.renamed")
                    .subject(identity_id.to_string())
                    .details(json!({ "device": target, "name": name.as_str() })),
            ],
            messages: vec![],
        };
        unit.rename_device(&device, target, &name, effects).await?;
        Ok(())
    }

    /// "Block my ID": suspends the whole identity in one step; reopening needs the operator
    /// or a fresh two-channel activation.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn block_identity(&self, device_id: Uuid) -> Result<(), AppError> {
        let unit = self.device_unit(device_id).await?;
        let now = self.clock.now();
        let mut device = unit.device().clone();
        device.record_use(now);
        let identity = unit.identity().clone();
        identity.state.suspend().map_err(DomainError::from)?;
        let effects = Effects {
            audit: vec![
                AuditDraft::new(format!("device:{device_id}"), "identity.suspended")
                    .subject(identity.id.to_string())
                    .reason(Some("blocked by the person from their app".into()))
                    .details(json!({ "from": identity.state, "to": "suspended" })),
            ],
            messages: self
                .messages(&Event::IdentitySuspended { at: now }, &identity)
                .await?,
        };
        unit.suspend_identity(&device, now, effects).await?;
        self.wake_outbox();
        Ok(())
    }
}
