//! Chips (FIDO2 security keys): registration in a session authenticated by an active app
//! (PIN) together with the password (set or proven), and the sign-in check that the login
//! pages will use. WebAuthn is done by `webauthn-rs`; its ceremony state is kept sealed in
//! the database, single-use, so any server node can finish a ceremony another started.

use serde_json::{Value, json};
use sesam_domain::chip::{
    CEREMONY_SECONDS, Ceremony, Chip, ChipError, ChipState, registration_binding,
};
use sesam_domain::notification::Event;
use sesam_domain::{AuditDraft, DomainError, IdentityState};
use sesam_store::{Effects, StoreError};
use uuid::Uuid;
use webauthn_rs::prelude::{
    PublicKeyCredential, RegisterPublicKeyCredential, SecurityKey, SecurityKeyAuthentication,
    SecurityKeyRegistration,
};

use crate::context::Sesam;
use crate::error::AppError;

fn refused(e: ChipError) -> AppError {
    AppError::Invalid(DomainError::Chip(e))
}

/// Chrome refuses webauthn-rs's security-key options because they ask for
/// `credentialProtectionPolicy: userVerificationRequired` with `userVerification:
/// preferred` (webauthn-rs issue 490); dropping that extension request keeps every browser
/// working, and `finish_securitykey_registration` still succeeds.
fn browser_compatible(mut options: Value) -> Value {
    if let Some(ext) = options
        .pointer_mut("/publicKey/extensions")
        .and_then(Value::as_object_mut)
    {
        ext.remove("credentialProtectionPolicy");
        ext.remove("enforceCredentialProtectionPolicy");
    }
    options
}

impl Sesam {
    fn webauthn(&self) -> Result<&webauthn_rs::Webauthn, AppError> {
        self.webauthn
            .as_deref()
            .ok_or_else(|| refused(ChipError::NotConfigured))
    }

    fn seal_state<T: serde::Serialize>(
        &self,
        purpose: &str,
        state: &T,
    ) -> Result<Vec<u8>, AppError> {
        let json = serde_json::to_vec(state).map_err(|source| AppError::Encoding {
            what: "the WebAuthn state",
            source,
        })?;
        Ok(self.keys.seal_data(purpose, &json, &*self.random))
    }

    fn open_state<T: serde::de::DeserializeOwned>(
        &self,
        purpose: &str,
        sealed: &[u8],
    ) -> Result<T, AppError> {
        let json = self
            .keys
            .open_data(purpose, sealed)
            .map_err(DomainError::from)?;
        serde_json::from_slice(&json).map_err(|_| refused(ChipError::CeremonyGone))
    }

    /// Starts a chip registration from an active app (its PIN bound to this request), with
    /// the password: proven if set, else checked against the rules and set with the chip.
    /// Returns the ceremony id and the options for `navigator.credentials.create`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn start_chip_registration(
        &self,
        device_id: Uuid,
        pin_proof: &str,
        password: &str,
    ) -> Result<(Uuid, Value), AppError> {
        let webauthn = self.webauthn()?;
        let unit = self
            .store
            .lock_device(device_id)
            .await?
            .ok_or_else(|| AppError::BadInput("this app is not active".into()))?;
        let identity = unit.identity().clone();
        if identity.state != IdentityState::Active {
            return Err(AppError::Invalid(
                sesam_domain::activation::ActivationError::IdentityBlocked.into(),
            ));
        }
        let (unit, device) = self
            .check_device_pin(unit, pin_proof, &registration_binding(device_id))
            .await?;
        unit.save(&device, Effects::default()).await?;

        let chips = self.store.chips_of(identity.id).await?;
        if chips.iter().any(|c| c.state == ChipState::Active) {
            return Err(refused(ChipError::AlreadyHaveOne));
        }
        let password_phc = self
            .password_proven_or_new(identity.id, identity.user_id.as_ref(), password, false)
            .await?;
        let exclude: Vec<_> = chips
            .iter()
            .filter_map(|c| serde_json::from_str::<SecurityKey>(&c.credential).ok())
            .map(|k| k.cred_id().clone())
            .collect();
        let user_name = identity
            .user_id
            .as_ref()
            .map_or_else(|| identity.id.to_string(), |u| u.as_str().to_owned());
        let (options, state) = webauthn
            .start_securitykey_registration(
                identity.id,
                &user_name,
                identity.name.as_str(),
                Some(exclude),
                None,
                None,
            )
            .map_err(|e| refused(ChipError::Rejected(e.to_string())))?;
        let now = self.clock.now();
        let ceremony = Ceremony {
            id: Uuid::now_v7(),
            identity_id: identity.id,
            kind: "registration",
            state_sealed: self.seal_state("webauthn-registration", &state)?,
            password_phc,
            created_at: now,
            expires_at: now.plus_seconds(CEREMONY_SECONDS),
        };
        self.store.save_ceremony(&ceremony).await?;
        let options =
            serde_json::to_value(&options).map_err(webauthn_encoding("the WebAuthn options"))?;
        Ok((ceremony.id, browser_compatible(options)))
    }

    /// Finishes a registration with the browser's (or security key's) answer.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn finish_chip_registration(
        &self,
        ceremony_id: Uuid,
        credential: &Value,
    ) -> Result<Chip, AppError> {
        let webauthn = self.webauthn()?;
        let ceremony = self
            .store
            .take_ceremony(ceremony_id)
            .await?
            .filter(|c| c.kind == "registration")
            .ok_or_else(|| refused(ChipError::CeremonyGone))?;
        let now = self.clock.now();
        if now >= ceremony.expires_at {
            return Err(refused(ChipError::CeremonyGone));
        }
        let state: SecurityKeyRegistration =
            self.open_state("webauthn-registration", &ceremony.state_sealed)?;
        let answer: RegisterPublicKeyCredential = serde_json::from_value(credential.clone())
            .map_err(|e| {
                refused(ChipError::Rejected(format!(
                    "not a WebAuthn registration response: {e}"
                )))
            })?;
        let key = webauthn
            .finish_securitykey_registration(&answer, &state)
            .map_err(|e| refused(ChipError::Rejected(e.to_string())))?;
        let identity = self
            .store
            .identity(ceremony.identity_id)
            .await?
            .ok_or(StoreError::NotFound("identity"))?;
        let chip = Chip {
            id: Uuid::now_v7(),
            identity_id: identity.id,
            credential_id: AsRef::<[u8]>::as_ref(key.cred_id()).to_vec(),
            credential: serde_json::to_string(&key)
                .map_err(webauthn_encoding("the chip credential"))?,
            state: ChipState::Active,
            created_at: now,
            last_used_at: None,
        };
        let attestation = format!("{:?}", key.attestation().data);
        let mut audit = vec![
            AuditDraft::new(
                format!("person:{}", identity.id),
                "authenticator.chip_activated",
            )
            .subject(identity.id.to_string())
            .details(json!({
                "chip": chip.id,
                "algorithm": format!("{:?}", key.cred_algorithm()),
                "attestation": attestation.chars().take(200).collect::<String>(),
            })),
        ];
        if ceremony.password_phc.is_some() {
            audit.push(
                AuditDraft::new(
                    format!("person:{}", identity.id),
                    "authenticator.password_set",
                )
                .subject(identity.id.to_string()),
            );
        }
        let mut messages = self
            .messages(&Event::ChipActivated { at: now }, &identity)
            .await?;
        if ceremony.password_phc.is_some() {
            messages.extend(
                self.messages(
                    &Event::PasswordChanged {
                        at: now,
                        first: true,
                    },
                    &identity,
                )
                .await?,
            );
        }
        let effects = Effects { audit, messages };
        self.store
            .add_chip(&chip, ceremony.password_phc.as_deref(), effects)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => refused(ChipError::AlreadyHaveOne),
                StoreError::DeviceKeyTaken => refused(ChipError::KeyTaken),
                other => other.into(),
            })?;
        self.wake_outbox();
        Ok(chip)
    }

    /// Starts a chip sign-in for an identity (the login pages' chip step).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn start_chip_authentication(
        &self,
        identity_id: Uuid,
    ) -> Result<(Uuid, Value), AppError> {
        let webauthn = self.webauthn()?;
        let keys: Vec<SecurityKey> = self
            .store
            .chips_of(identity_id)
            .await?
            .iter()
            .filter(|c| c.state == ChipState::Active)
            .filter_map(|c| serde_json::from_str(&c.credential).ok())
            .collect();
        if keys.is_empty() {
            return Err(refused(ChipError::NoneActive));
        }
        let (options, state) = webauthn
            .start_securitykey_authentication(&keys)
            .map_err(|e| refused(ChipError::Rejected(e.to_string())))?;
        let now = self.clock.now();
        let ceremony = Ceremony {
            id: Uuid::now_v7(),
            identity_id,
            kind: "authentication",
            state_sealed: self.seal_state("webauthn-authentication", &state)?,
            password_phc: None,
            created_at: now,
            expires_at: now.plus_seconds(CEREMONY_SECONDS),
        };
        self.store.save_ceremony(&ceremony).await?;
        Ok((
            ceremony.id,
            serde_json::to_value(&options).map_err(webauthn_encoding("the WebAuthn options"))?,
        ))
    }

    /// Checks a chip sign-in answer; returns the identity it proves. The credential's
    /// signature counter is stored, so a cloned key shows up as a counter going backwards.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn finish_chip_authentication(
        &self,
        ceremony_id: Uuid,
        credential: &Value,
    ) -> Result<Uuid, AppError> {
        let webauthn = self.webauthn()?;
        let ceremony = self
            .store
            .take_ceremony(ceremony_id)
            .await?
            .filter(|c| c.kind == "authentication")
            .ok_or_else(|| refused(ChipError::CeremonyGone))?;
        let now = self.clock.now();
        if now >= ceremony.expires_at {
            return Err(refused(ChipError::CeremonyGone));
        }
        let state: SecurityKeyAuthentication =
            self.open_state("webauthn-authentication", &ceremony.state_sealed)?;
        let answer: PublicKeyCredential =
            serde_json::from_value(credential.clone()).map_err(|e| {
                refused(ChipError::Rejected(format!(
                    "not a WebAuthn authentication response: {e}"
                )))
            })?;
        let result = webauthn
            .finish_securitykey_authentication(&answer, &state)
            .map_err(|e| refused(ChipError::Rejected(e.to_string())))?;
        for chip in self.store.chips_of(ceremony.identity_id).await? {
            let Ok(mut key) = serde_json::from_str::<SecurityKey>(&chip.credential) else {
                continue;
            };
            if key.update_credential(&result).is_some() {
                let updated = serde_json::to_string(&key)
                    .map_err(webauthn_encoding("the chip credential"))?;
                self.store.chip_used(chip.id, &updated, now).await?;
            }
        }
        Ok(ceremony.identity_id)
    }
}

fn webauthn_encoding(what: &'static str) -> impl FnOnce(serde_json::Error) -> AppError {
    move |source| AppError::Encoding { what, source }
}
