//! Code displays: import from the manufacturer's PSKC file (operator), activation by an
//! active app with serial number and two consecutive codes, and code checks with lockout.

use serde_json::json;
use sesam_domain::code_display::{
    CodeDisplay, CodeDisplayError, CodeDisplayKind, CodeDisplayState, activation_binding,
    parse_serial, seed_purpose,
};
use sesam_domain::lockout::{Failure, Locked};
use sesam_domain::notification::Event;
use sesam_domain::pskc::{PskcContainer, RejectedKeyPackage};
use sesam_domain::totp::{TotpCode, TotpError, TotpVerifier};
use sesam_domain::{AuditDraft, DomainError, IdentityState};
use sesam_store::{Effects, ImportOutcome, ImportedCodeDisplay, StoreError};
use uuid::Uuid;

use super::Actor;
use crate::context::Sesam;
use crate::error::AppError;

const MAX_PSKC_BYTES: u64 = 16 * 1024 * 1024;

/// The result of an import, for the operator's report.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: Vec<String>,
    pub already_present: Vec<String>,
    pub conflicts: Vec<String>,
    pub rejected: Vec<RejectedKeyPackage>,
}

pub use sesam_api::ActivateCodeDisplay;

fn refused(e: CodeDisplayError) -> AppError {
    AppError::Invalid(DomainError::CodeDisplay(e))
}

/// Two consecutive codes from the display, later than any code it has already used (so a
/// re-activation cannot be made with codes seen at an earlier login).
fn two_fresh_codes(
    seed: &[u8],
    display: &CodeDisplay,
    code1: &TotpCode,
    code2: &TotpCode,
    now: sesam_domain::Timestamp,
) -> Result<sesam_domain::totp::TotpMatch, AppError> {
    let matched = TotpVerifier::new(seed)
        .activate_with_two_codes(code1.as_str(), code2.as_str(), now)
        .map_err(|e| refused(CodeDisplayError::Codes(e)))?;
    if display
        .totp
        .last_used_step
        .is_some_and(|last| matched.step.saturating_sub(1) <= last)
    {
        return Err(refused(CodeDisplayError::Codes(TotpError::Replayed)));
    }
    Ok(matched)
}

impl Sesam {
    /// Imports a PSKC file; every token is reported, good ones are stored (seeds sealed),
    /// and importing the same file again changes nothing.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn import_code_displays(
        &self,
        actor: &Actor,
        file: &std::path::Path,
        key: Option<[u8; 16]>,
        kind: CodeDisplayKind,
    ) -> Result<ImportReport, AppError> {
        let meta = std::fs::metadata(file).map_err(|source| AppError::Io {
            what: format!("cannot read {}", file.display()),
            source,
        })?;
        if meta.len() > MAX_PSKC_BYTES {
            return Err(AppError::BadInput(format!(
                "{} is larger than 16 MiB",
                file.display()
            )));
        }
        let bytes = std::fs::read(file).map_err(|source| AppError::Io {
            what: format!("cannot read {}", file.display()),
            source,
        })?;
        let import = PskcContainer::parse(&bytes, key.as_ref())
            .map_err(|e| AppError::BadInput(format!("{}: {e}", file.display())))?;
        let now = self.clock.now();
        let batch: Vec<ImportedCodeDisplay> = import
            .tokens
            .iter()
            .map(|t| ImportedCodeDisplay {
                serial: t.serial.clone(),
                kind,
                seed_sealed: self.keys.seal_data(
                    &seed_purpose(&t.serial),
                    &t.secret,
                    &*self.random,
                ),
                seed_check: self.keys.seed_check(&t.serial, &t.secret),
                imported_at: now,
            })
            .collect();
        let mut report = ImportReport {
            rejected: import.rejected,
            ..Default::default()
        };
        let audit = AuditDraft::new(actor.audit_name(), "code_display.imported").details(json!({
            "file": file.file_name().map(|n| n.to_string_lossy().into_owned()),
            "tokens": batch.len(),
            "kind": kind.as_str(),
            "rejected": report.rejected.len(),
        }));
        let outcomes = self.store.import_code_displays(&batch, &audit).await?;
        for (cd, outcome) in batch.iter().zip(outcomes) {
            match outcome {
                ImportOutcome::Imported => report.imported.push(cd.serial.clone()),
                ImportOutcome::AlreadyPresent => report.already_present.push(cd.serial.clone()),
                ImportOutcome::SerialConflict => report.conflicts.push(cd.serial.clone()),
            }
        }
        Ok(report)
    }

    /// Activates a code display from an active app: PIN (bound to this serial), serial
    /// number, two consecutive codes, and the password (set now, or proven if set).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn activate_code_display(
        &self,
        device_id: Uuid,
        req: &ActivateCodeDisplay,
    ) -> Result<CodeDisplay, AppError> {
        let serial = parse_serial(&req.serial).map_err(refused)?;
        let code1 = TotpCode::parse(&req.code1).map_err(|e| refused(CodeDisplayError::Codes(e)))?;
        let code2 = TotpCode::parse(&req.code2).map_err(|e| refused(CodeDisplayError::Codes(e)))?;

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
            .check_device_pin(
                unit,
                &req.pin_proof,
                &activation_binding(&serial, device_id),
            )
            .await?;
        unit.save(&device, Effects::default()).await?;

        // The password: proven if the person has one, else set now (rules, Argon2id).
        let new_password = self
            .password_proven_or_new(identity.id, identity.user_id.as_ref(), &req.password, false)
            .await?;

        let mut display_unit = self
            .store
            .lock_code_display(&serial)
            .await?
            .ok_or_else(|| refused(CodeDisplayError::UnknownSerial))?;
        if !display_unit.code_display().is_active_for(identity.id) {
            if display_unit.code_display().state != CodeDisplayState::Unassigned {
                return Err(refused(CodeDisplayError::InUse));
            }
            if !display_unit.active_of(identity.id).await?.is_empty() {
                return Err(refused(CodeDisplayError::AlreadyHaveOne));
            }
        }
        let seed = self
            .keys
            .open_data(&seed_purpose(&serial), display_unit.seed_sealed())
            .map_err(DomainError::from)?;
        let now = self.clock.now();
        let mut display = display_unit.code_display().clone();
        let matched = two_fresh_codes(&seed, &display, &code1, &code2, now)?;
        display
            .activate(identity.id, matched.state, now)
            .map_err(refused)?;
        let mut audit = vec![
            AuditDraft::new(
                format!("device:{device_id}"),
                "authenticator.code_display_activated",
            )
            .subject(identity.id.to_string())
            .details(json!({ "serial": serial })),
        ];
        if new_password.is_some() {
            audit.push(
                AuditDraft::new(format!("device:{device_id}"), "authenticator.password_set")
                    .subject(identity.id.to_string()),
            );
        }
        let messages = self
            .code_display_activation_messages(&display, new_password.is_some(), &identity, now)
            .await?;
        let effects = Effects { audit, messages };
        display_unit
            .save(
                &display,
                new_password.as_deref().map(|p| (identity.id, p)),
                now,
                effects,
            )
            .await?;
        self.wake_outbox();
        Ok(display)
    }

    /// Whether `code` is right for the identity's active code display now, without
    /// counting it or using it up: it tells whether a wrong password came with the right
    /// possession factor (`Attempt::Informed`). A locked display is not looked at.
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn code_display_code_right(
        &self,
        identity_id: Uuid,
        code: &str,
    ) -> Result<bool, AppError> {
        let Ok(code) = TotpCode::parse(code) else {
            return Ok(false);
        };
        let Some(unit) = self.store.lock_active_code_display_of(identity_id).await? else {
            return Ok(false);
        };
        let now = self.clock.now();
        let display = unit.code_display().clone();
        if display.lockout.check(now).is_err() {
            return Ok(false);
        }
        let seed = self
            .keys
            .open_data(&seed_purpose(&display.serial), unit.seed_sealed())
            .map_err(DomainError::from)?;
        // Dropping the unit unsaved leaves the display as it was.
        Ok(TotpVerifier::new(&seed)
            .verify(code.as_str(), now, display.totp)
            .is_ok())
    }

    /// Checks a code from the identity's code display (the login step), with the lockout
    /// of that factor alone. Called only after the password was right, so a wrong code is
    /// an informed attempt that can escalate to "until re-activated".
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn check_code_display(&self, identity_id: Uuid, code: &str) -> Result<(), AppError> {
        let code = TotpCode::parse(code).map_err(|e| refused(CodeDisplayError::Codes(e)))?;
        let unit = self
            .store
            .lock_active_code_display_of(identity_id)
            .await?
            .ok_or_else(|| refused(CodeDisplayError::NoneActive))?;
        let now = self.clock.now();
        let mut display = unit.code_display().clone();
        match display.lockout.check(now) {
            Err(Locked::UntilReactivated) => return Err(refused(CodeDisplayError::Blocked)),
            Err(Locked::Until(until)) => return Err(refused(CodeDisplayError::Locked { until })),
            Ok(()) => {}
        }
        let seed = self
            .keys
            .open_data(&seed_purpose(&display.serial), unit.seed_sealed())
            .map_err(DomainError::from)?;
        match TotpVerifier::new(&seed).verify(code.as_str(), now, display.totp) {
            Ok(m) => {
                display.accept_code(m.state);
                unit.save(&display, None, now, Effects::default()).await?;
                Ok(())
            }
            Err(TotpError::WrongCode | TotpError::Replayed) => {
                let failure = display.record_failure(now);
                let identity = self
                    .store
                    .identity(identity_id)
                    .await?
                    .ok_or(StoreError::NotFound("identity"))?;
                let mut effects = Effects {
                    audit: vec![AuditDraft::new(format!("person:{identity_id}"), "authenticator.code_wrong")
                        .subject(identity_id.to_string())
                        .details(json!({ "serial": display.serial, "failures": display.lockout.failures }))],
                    messages: vec![],
                };
                let err = match failure {
                    Failure::Wrong { remaining } => CodeDisplayError::WrongCode { remaining },
                    Failure::LockedUntil(until) => CodeDisplayError::Locked { until },
                    Failure::Blocked => CodeDisplayError::Blocked,
                };
                if !matches!(failure, Failure::Wrong { .. }) {
                    let blocked = matches!(failure, Failure::Blocked);
                    effects.audit.push(
                        AuditDraft::new("system", "authenticator.code_display_locked")
                            .subject(identity_id.to_string())
                            .details(
                                json!({ "serial": display.serial, "until_reactivated": blocked }),
                            ),
                    );
                    effects.messages = self
                        .messages(
                            &Event::CodeDisplayLocked {
                                kind: display.kind,
                                at: now,
                                until_reactivated: blocked,
                            },
                            &identity,
                        )
                        .await?;
                }
                unit.save(&display, None, now, effects).await?;
                self.wake_outbox();
                Err(refused(err))
            }
            Err(e) => Err(refused(CodeDisplayError::Codes(e))),
        }
    }
}

/// Reads a pre-shared AES-128 key file: 32 hex characters, or exactly 16 raw bytes.
pub fn read_key_file(path: &std::path::Path) -> Result<[u8; 16], AppError> {
    let bytes = std::fs::read(path).map_err(|source| AppError::Io {
        what: format!("cannot read the key file {}", path.display()),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let mut key = [0u8; 16];
    if hex_decode(text.trim(), &mut key) {
        return Ok(key);
    }
    if bytes.len() == 16 {
        key.copy_from_slice(&bytes);
        return Ok(key);
    }
    Err(AppError::BadInput(format!(
        "the key file {} must hold an AES-128 key: 32 hexadecimal characters or 16 raw bytes",
        path.display()
    )))
}

fn hex_decode(s: &str, out: &mut [u8; 16]) -> bool {
    if s.len() != 32 || !s.is_ascii() {
        return false;
    }
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        match u8::from_str_radix(std::str::from_utf8(chunk).unwrap_or("zz"), 16) {
            Ok(b) => out[i] = b,
            Err(_) => return false,
        }
    }
    true
}

pub use sesam_api::LetterCodeDisplay;

impl Sesam {
    /// Completes an activation letter with a code display: the second step of the two-
    /// channel activation, registering a code display (and the password) instead of an app.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn activate_code_display_with_letter(
        &self,
        req: &LetterCodeDisplay,
    ) -> Result<CodeDisplay, AppError> {
        use sesam_domain::activation::{ActivationError, TemporaryPin};
        let refuse_letter = |e: ActivationError| AppError::Invalid(DomainError::Activation(e));
        let sms = TemporaryPin::parse(&req.sms_code).map_err(refuse_letter)?;
        let code = sesam_domain::ActivationCode::parse(&req.activation_code)
            .map_err(|_| refuse_letter(ActivationError::CodeNotValid))?;
        let serial = parse_serial(&req.serial).map_err(refused)?;
        let code1 = TotpCode::parse(&req.code1).map_err(|e| refused(CodeDisplayError::Codes(e)))?;
        let code2 = TotpCode::parse(&req.code2).map_err(|e| refused(CodeDisplayError::Codes(e)))?;

        let (unit, mut grant, identity) = self.open_letter(req.activation_id, &code, &sms).await?;
        if identity.state == IdentityState::Revoked
            || (identity.state == IdentityState::Suspended
                && grant.purpose != sesam_domain::ActivationPurpose::Recovery)
        {
            return Err(refuse_letter(ActivationError::IdentityBlocked));
        }
        let now = self.clock.now();
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
        let user_id = user_id_change
            .as_ref()
            .map(|c| &c.new)
            .or(identity.user_id.as_ref());
        let new_password = self
            .password_proven_or_new(identity.id, user_id, &req.password, true)
            .await?;
        let (mut display, sealed) = unit
            .lock_code_display(&serial)
            .await?
            .ok_or_else(|| refused(CodeDisplayError::UnknownSerial))?;
        if !display.is_active_for(identity.id) {
            if display.state != CodeDisplayState::Unassigned {
                return Err(refused(CodeDisplayError::InUse));
            }
            if !unit.active_code_displays().await?.is_empty() {
                return Err(refused(CodeDisplayError::AlreadyHaveOne));
            }
        }
        let seed = self
            .keys
            .open_data(&seed_purpose(&serial), &sealed)
            .map_err(DomainError::from)?;
        let matched = two_fresh_codes(&seed, &display, &code1, &code2, now)?;
        display
            .activate(identity.id, matched.state, now)
            .map_err(refused)?;
        grant.consume();
        let actor = format!("person:{}", identity.id);
        let mut audit = vec![
            AuditDraft::new(&actor, "authenticator.code_display_activated")
                .subject(identity.id.to_string())
                .details(json!({ "serial": serial, "grant": grant.id })),
        ];
        if new_password.is_some() {
            audit.push(
                AuditDraft::new(&actor, "authenticator.password_set")
                    .subject(identity.id.to_string()),
            );
        }
        if let Some(c) = &user_id_change {
            audit.push(
                AuditDraft::new(&actor, "identity.user_id_chosen")
                    .subject(identity.id.to_string())
                    .details(json!({ "to": c.new.as_str() })),
            );
        }
        if identity.state == IdentityState::Suspended {
            audit.push(
                AuditDraft::new(&actor, "identity.reopened")
                    .subject(identity.id.to_string())
                    .reason(Some("activated with a new activation letter".into())),
            );
        }
        let mut messages = self
            .code_display_activation_messages(&display, new_password.is_some(), &identity, now)
            .await?;
        if identity.state == IdentityState::Suspended {
            messages.extend(
                self.messages(&Event::IdentityReopened { at: now }, &identity)
                    .await?,
            );
        }
        let effects = Effects { audit, messages };
        unit.activate_code_display(
            &grant,
            &display,
            new_password.as_deref(),
            user_id_change.as_ref(),
            effects,
        )
        .await?;
        self.wake_outbox();
        Ok(display)
    }
}

impl Sesam {
    /// What a code-display activation tells the person: the activation, and the password
    /// when one was set with it (both mandatory, every channel).
    async fn code_display_activation_messages(
        &self,
        display: &sesam_domain::code_display::CodeDisplay,
        password_set: bool,
        identity: &sesam_domain::Identity,
        now: sesam_domain::Timestamp,
    ) -> Result<Vec<sesam_store::QueuedMessage>, AppError> {
        let mut messages = self
            .messages(
                &Event::CodeDisplayActivated {
                    serial: display.serial.clone(),
                    kind: display.kind,
                    at: now,
                },
                identity,
            )
            .await?;
        if password_set {
            messages.extend(
                self.messages(
                    &Event::PasswordChanged {
                        at: now,
                        first: true,
                    },
                    identity,
                )
                .await?,
            );
        }
        Ok(messages)
    }
}
