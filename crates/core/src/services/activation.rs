//! First app activation with two codes over two channels (DESIGN §3): the activation code
//! from the letter (channel 1), then a temporary PIN sent by SMS (channel 2).

use serde_json::json;
use sesam_domain::ActivationPurpose;
use sesam_domain::activation::{
    ActivationError, PHONE_CHANGE_QUARANTINE_SECONDS, SMS_PIN_VALIDITY_SECONDS, SmsStep,
    TemporaryPin,
};
use sesam_domain::app_protocol::{self, b64, unb64};
use sesam_domain::device::{Device, DeviceName, DevicePublicKey, DeviceState, MAX_ACTIVE_APPS};
use sesam_domain::lockout::Lockout;
use sesam_domain::notification::{Event, Recipient};
use sesam_domain::user_id::QUARANTINE_DAYS;
use sesam_domain::{
    ActivationCode, AuditDraft, DomainError, IdentityState, Timestamp, UserId, UserIdKey,
};
use sesam_store::{Effects, GrantUnit, StoreError, UserIdChange};
use uuid::Uuid;

use crate::context::Sesam;
use crate::error::AppError;

/// What the app learns when its activation code is accepted.
#[derive(Debug, Clone)]
pub struct ActivationStarted {
    pub activation_id: Uuid,
    pub sms_sent_to: String,
    pub sms_code_expires_at: Timestamp,
    pub user_id_required: bool,
    pub pin_key: String,
}

pub use sesam_api::CompleteActivation;

#[derive(Debug, Clone)]
pub struct Activated {
    pub device_id: Uuid,
    pub user_id: String,
    pub device_name: String,
    /// The device PIN key, wrapped for the app under its enrolment proof's key
    /// (`docs/protocol.md` §3), base64url.
    pub device_pin_key: String,
}

fn refuse(e: ActivationError) -> AppError {
    AppError::Invalid(DomainError::Activation(e))
}

/// A blocked identity can be activated only with a new letter (a recovery grant), which
/// reopens it; a revoked one never.
fn ensure_may_activate(
    identity: &sesam_domain::Identity,
    grant: &sesam_domain::ActivationGrant,
) -> Result<(), AppError> {
    match identity.state {
        IdentityState::Revoked => Err(refuse(ActivationError::IdentityBlocked)),
        IdentityState::Suspended if grant.purpose != ActivationPurpose::Recovery => {
            Err(refuse(ActivationError::IdentityBlocked))
        }
        _ => Ok(()),
    }
}

impl Sesam {
    /// Issues a new activation letter (a recovery grant): for a person who lost every
    /// authenticator, or to reopen a blocked identity with two fresh channels. Earlier
    /// unused letters stop working; every channel is told.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn issue_recovery_letter(
        &self,
        actor: &super::Actor,
        user_id: &str,
        reason: &str,
    ) -> Result<(sesam_domain::Identity, ActivationCode, Timestamp), AppError> {
        let reason = super::reason(reason)?;
        let identity = self
            .store
            .identity_by_user_id(&UserIdKey::of_input(user_id))
            .await?
            .ok_or_else(|| AppError::UnknownUserId(user_id.chars().take(48).collect()))?;
        if identity.state == IdentityState::Revoked {
            return Err(refuse(ActivationError::IdentityBlocked));
        }
        let now = self.clock.now();
        let code = ActivationCode::generate(&*self.random);
        let grant = sesam_domain::ActivationGrant::issue(
            identity.id,
            ActivationPurpose::Recovery,
            self.keys.activation_code_hash(code.normalized()),
            now,
        );
        let effects = Effects {
            audit: vec![AuditDraft::new(actor.audit_name(), "activation.letter_issued")
                .subject(identity.id.to_string())
                .reason(Some(reason))
                .details(json!({ "grant": grant.id, "purpose": "recovery", "expires_at": grant.expires_at.to_rfc3339() }))],
            messages: self.messages(&Event::ActivationCodeIssued { at: now, first: false }, &identity).await?,
        };
        self.store.issue_grant(&grant, effects).await?;
        self.wake_outbox();
        Ok((identity, code, grant.expires_at))
    }

    /// The public half of the key enrolment PIN proofs are sealed to.
    pub fn pin_key_b64(&self) -> String {
        b64(&self.keys.pin_key().public_sec1())
    }

    async fn grant_by_code(&self, code: &str) -> Result<Box<dyn GrantUnit>, AppError> {
        let code =
            ActivationCode::parse(code).map_err(|_| refuse(ActivationError::CodeNotValid))?;
        let hash = self.keys.activation_code_hash(code.normalized());
        self.store
            .lock_grant_by_code_hash(&hash)
            .await?
            .ok_or_else(|| refuse(ActivationError::CodeNotValid))
    }

    /// Step 1: checks the activation code and sends a temporary PIN by SMS (once while it
    /// is valid; asking again does not send another).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn start_activation(
        &self,
        activation_code: &str,
    ) -> Result<ActivationStarted, AppError> {
        let unit = self.grant_by_code(activation_code).await?;
        let now = self.clock.now();
        let identity = unit.identity().clone();
        ensure_may_activate(&identity, unit.grant())?;
        if identity
            .phone_changed_at
            .is_some_and(|t| now < t.plus_seconds(PHONE_CHANGE_QUARANTINE_SECONDS))
        {
            return Err(refuse(ActivationError::PhoneRecentlyChanged));
        }
        let mut grant = unit.grant().clone();
        let pin = TemporaryPin::generate(&*self.random);
        let step = grant
            .accept_code(now, self.keys.sms_pin_hash(grant.id, pin.expose()))
            .map_err(refuse)?;
        if step == SmsStep::Send {
            // The code goes to the phone the registration unit registered, never to a
            // channel the person (or whoever holds their app) added: that is what makes
            // the SMS a second, independent channel.
            let mut messages = self.queue(
                &Event::TemporaryPin {
                    pin: pin.expose().to_owned(),
                    valid_minutes: SMS_PIN_VALIDITY_SECONDS / 60,
                },
                &identity,
                &[Recipient::Sms(identity.phone.clone())],
            );
            messages.extend(
                self.messages(&Event::TemporaryPinIssued { at: now }, &identity)
                    .await?,
            );
            let audit = AuditDraft::new(format!("person:{}", identity.id), "activation.code_accepted")
                .subject(identity.id.to_string())
                .details(json!({ "grant": grant.id, "sms_to": identity.phone.masked(), "sms_count": grant.sms_sent_count }));
            unit.save(
                &grant,
                Effects {
                    audit: vec![audit],
                    messages,
                },
            )
            .await?;
            self.wake_outbox();
        }
        Ok(ActivationStarted {
            activation_id: grant.id,
            sms_sent_to: identity.phone.masked(),
            sms_code_expires_at: grant.sms_pin_expires_at.unwrap_or(now),
            user_id_required: identity.user_id.is_none(),
            pin_key: self.pin_key_b64(),
        })
    }

    /// Step 2: both codes again, the device key with proof of possession, the app PIN and
    /// (on a first activation) the chosen user ID. Three wrong SMS codes void the grant.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn complete_activation(
        &self,
        req: &CompleteActivation,
    ) -> Result<Activated, AppError> {
        // Everything that is only a matter of form is checked before any attempt counts.
        let sms = TemporaryPin::parse(&req.sms_code).map_err(refuse)?;
        let key_bytes =
            unb64(&req.device_public_key, "device_public_key").map_err(DomainError::from)?;
        let public_key = DevicePublicKey::from_sec1(&key_bytes).map_err(DomainError::from)?;
        let name = DeviceName::parse(&req.device_name).map_err(DomainError::from)?;
        let signature =
            unb64(&req.possession_signature, "possession_signature").map_err(DomainError::from)?;
        let proof = unb64(&req.pin_proof, "pin_proof").map_err(DomainError::from)?;
        let code = ActivationCode::parse(&req.activation_code)
            .map_err(|_| refuse(ActivationError::CodeNotValid))?;

        let (unit, mut grant, identity) = self.open_letter(req.activation_id, &code, &sms).await?;
        let now = self.clock.now();

        let binding = app_protocol::activation_binding(grant.id, &public_key.to_sec1());
        public_key
            .verify(&binding, &signature)
            .map_err(|_| refuse(ActivationError::BadPossessionProof))?;
        let (pin, enrolment) = self
            .keys
            .pin_key()
            .open_enrolment(&proof, &binding)
            .map_err(DomainError::from)?;
        ensure_may_activate(&identity, &grant)?;
        let (mut unit, user_id_change) = self
            .user_id_for_letter(
                unit,
                &mut grant,
                &identity,
                req.user_id.as_deref(),
                req.new_user_id.as_deref(),
                now,
            )
            .await?;
        if unit.active_devices().await?.len() >= MAX_ACTIVE_APPS {
            return Err(refuse(ActivationError::TooManyApps));
        }

        grant.consume();
        let device_id = Uuid::now_v7();
        let device = Device {
            id: device_id,
            identity_id: identity.id,
            name: name.clone(),
            public_key,
            pin_hash: self.keys.app_pin_hash(device_id, &pin),
            state: DeviceState::Active,
            lockout: Lockout::default(),
            created_at: now,
            last_used_at: None,
        };
        let user_id = user_id_change
            .as_ref()
            .map(|c| c.new.as_str().to_owned())
            .or_else(|| identity.user_id.as_ref().map(|u| u.as_str().to_owned()))
            .unwrap_or_default();
        let mut audit = vec![
            AuditDraft::new(
                format!("person:{}", identity.id),
                "authenticator.app_activated",
            )
            .subject(identity.id.to_string())
            .details(json!({ "device": device_id, "name": name.as_str(), "grant": grant.id })),
        ];
        if identity.state == IdentityState::Suspended {
            audit.push(
                AuditDraft::new(format!("person:{}", identity.id), "identity.reopened")
                    .subject(identity.id.to_string())
                    .reason(Some("activated with a new activation letter".into()))
                    .details(json!({ "from": "suspended", "to": "active", "grant": grant.id })),
            );
        }
        if let Some(c) = &user_id_change {
            audit.push(
                AuditDraft::new(format!("person:{}", identity.id), "identity.user_id_chosen")
                    .subject(identity.id.to_string())
                    .details(json!({ "to": c.new.as_str() })),
            );
        }
        let mut messages = self
            .messages(
                &Event::AppActivated {
                    device_name: name.as_str().to_owned(),
                    at: now,
                },
                &identity,
            )
            .await?;
        if identity.state == IdentityState::Suspended {
            messages.extend(
                self.messages(&Event::IdentityReopened { at: now }, &identity)
                    .await?,
            );
        }
        unit.activate(
            &grant,
            &device,
            user_id_change.as_ref(),
            Effects { audit, messages },
        )
        .await
        .map_err(|e| match e {
            StoreError::DeviceKeyTaken => {
                AppError::BadInput("this device key is already registered".into())
            }
            other => other.into(),
        })?;
        self.wake_outbox();
        // Two fresh channels also re-activate a password locked until re-activated.
        self.reactivate_password(identity.id, &format!("person:{}", identity.id))
            .await?;
        Ok(Activated {
            device_id,
            user_id,
            device_name: name.as_str().to_owned(),
            device_pin_key: b64(&enrolment.wrap(
                &self.keys.device_pin_key(device_id),
                &binding,
                &*self.random,
            )),
        })
    }

    /// Opens an activation letter for its second step: the grant row locked, the letter's
    /// code checked, and the SMS code checked (three wrong codes void the grant; wrong
    /// codes are saved with their notification before the error returns).
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn open_letter(
        &self,
        activation_id: Uuid,
        code: &ActivationCode,
        sms: &TemporaryPin,
    ) -> Result<
        (
            Box<dyn GrantUnit>,
            sesam_domain::ActivationGrant,
            sesam_domain::Identity,
        ),
        AppError,
    > {
        let unit = self
            .store
            .lock_grant(activation_id)
            .await?
            .ok_or_else(|| refuse(ActivationError::CodeNotValid))?;
        if !sesam_domain::secrets::ct_eq(
            &unit.grant().code_hash,
            &self.keys.activation_code_hash(code.normalized()),
        ) {
            return Err(refuse(ActivationError::CodeNotValid));
        }
        let now = self.clock.now();
        let identity = unit.identity().clone();
        let mut grant = unit.grant().clone();
        if let Err(e) = grant.check_sms_pin(now, &self.keys.sms_pin_hash(grant.id, sms.expose())) {
            if matches!(
                e,
                ActivationError::WrongSmsCode { .. } | ActivationError::Voided
            ) && grant != *unit.grant()
            {
                let mut effects = Effects::default();
                effects.audit.push(
                    AuditDraft::new(
                        format!("person:{}", identity.id),
                        "activation.sms_code_wrong",
                    )
                    .subject(identity.id.to_string())
                    .details(json!({ "grant": grant.id, "attempts": grant.failed_attempts })),
                );
                if e == ActivationError::Voided {
                    effects.audit.push(
                        AuditDraft::new("system", "activation.voided")
                            .subject(identity.id.to_string())
                            .details(json!({ "grant": grant.id })),
                    );
                    effects.messages = self
                        .messages(&Event::ActivationVoided { at: now }, &identity)
                        .await?;
                }
                unit.save(&grant, effects).await?;
                self.wake_outbox();
            }
            return Err(refuse(e));
        }
        Ok((unit, grant, identity))
    }

    /// The user ID an activation ends with, checked inside the locked grant. A refused
    /// choice (against the rules, taken, reserved) is counted on the grant and saved
    /// before the refusal is answered; the fifth per SMS code ends that code, so one
    /// letter cannot be used to ask which user IDs exist more than a few times.
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn user_id_for_letter(
        &self,
        mut unit: Box<dyn GrantUnit>,
        grant: &mut sesam_domain::ActivationGrant,
        identity: &sesam_domain::Identity,
        user_id: Option<&str>,
        new_user_id: Option<&str>,
        now: Timestamp,
    ) -> Result<(Box<dyn GrantUnit>, Option<UserIdChange>), AppError> {
        let chosen = match self
            .user_id_at_activation(identity, user_id, new_user_id, now)
            .await
        {
            Ok(Some(change)) => unit
                .user_id_free(&change.new.key(), now)
                .await
                .map(|()| Some(change))
                .map_err(AppError::from),
            other => other,
        };
        let e = match chosen {
            Ok(change) => return Ok((unit, change)),
            Err(e) => e,
        };
        let counted = matches!(
            e,
            AppError::Invalid(DomainError::UserId(_))
                | AppError::Store(StoreError::UserIdTaken | StoreError::UserIdReserved)
        );
        if !counted {
            return Err(e);
        }
        let outcome = grant.refuse_user_id(now);
        let audit = AuditDraft::new(
            format!("person:{}", identity.id),
            "activation.user_id_refused",
        )
        .subject(identity.id.to_string())
        .details(json!({ "grant": grant.id, "refusals": grant.user_id_refusals }));
        unit.save(
            grant,
            Effects {
                audit: vec![audit],
                messages: vec![],
            },
        )
        .await?;
        Err(outcome.err().map_or(e, refuse))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn user_id_at_activation(
        &self,
        identity: &sesam_domain::Identity,
        user_id: Option<&str>,
        new_user_id: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<UserIdChange>, AppError> {
        match (&identity.user_id, user_id, new_user_id) {
            (None, _, None) => Err(refuse(ActivationError::UserIdRequired)),
            (None, _, Some(new)) => {
                let new = UserId::parse(new).map_err(DomainError::from)?;
                let sealed = self
                    .store
                    .national_id_sealed(identity.id)
                    .await?
                    .ok_or(StoreError::NotFound("identity"))?;
                let nid = self
                    .keys
                    .open_national_id(&sealed, identity.id)
                    .map_err(DomainError::from)?;
                new.check_personal(&nid, Some(&identity.phone))
                    .map_err(DomainError::from)?;
                Ok(Some(UserIdChange {
                    identity_id: identity.id,
                    new,
                    at: now,
                    reserved_until: now.plus_days(QUARANTINE_DAYS),
                }))
            }
            (Some(_), _, Some(_)) => Err(refuse(ActivationError::UserIdAlreadyChosen)),
            (Some(own), Some(given), None) if UserIdKey::of_input(given) != own.key() => {
                Err(refuse(ActivationError::UserIdMismatch))
            }
            (Some(_), _, None) => Ok(None),
        }
    }
}
