//! The password's guard, one for every place a password is checked: the login pages,
//! chip registration and code-display activation. Each check reserves a try, verifies
//! (Argon2, without a lock), then settles the try (see `PasswordGuard`).
//!
//! A wrong password counts toward the lock that needs re-activation only when another
//! factor of the same attempt was right (`Attempt::Informed`): anyone who knows a user ID
//! can type wrong passwords, and must not be able to push the person into a lock that
//! needs a new letter (docs/threat-model.md, "Lockout rules and why").

use std::future::Future;

use serde_json::json;
use sesam_domain::AuditDraft;
use sesam_domain::code_display::CodeDisplayError;
use sesam_domain::lockout::{Attempt, Failure, Locked};
use sesam_domain::notification::Event;
use sesam_domain::password::Password;
use sesam_domain::password_guard::Refusal;
use sesam_store::{Effects, StoreError};
use uuid::Uuid;

use crate::context::Sesam;
use crate::error::AppError;

/// The longest password input looked at (the rules allow 64 characters).
const MAX_PASSWORD_INPUT: usize = 256;

/// What one guarded password check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PasswordCheck {
    Right,
    /// Wrong, and counted.
    Wrong(Failure),
    /// Not evaluated (locked, or every remaining try in flight).
    Refused(Refusal),
    /// No password to check against (unknown user ID, or none set).
    NoPassword,
}

impl PasswordCheck {
    /// The refusal an app-facing step answers with; `Ok` when the password was right.
    fn as_result(self) -> Result<(), CodeDisplayError> {
        match self {
            Self::Right => Ok(()),
            Self::Wrong(Failure::Wrong { .. }) | Self::NoPassword => {
                Err(CodeDisplayError::WrongPassword)
            }
            Self::Wrong(Failure::LockedUntil(until))
            | Self::Refused(Refusal::Locked(Locked::Until(until))) => {
                Err(CodeDisplayError::PasswordLocked { until })
            }
            Self::Wrong(Failure::Blocked)
            | Self::Refused(Refusal::Locked(Locked::UntilReactivated)) => {
                Err(CodeDisplayError::PasswordBlocked)
            }
            Self::Refused(Refusal::Busy) => Err(CodeDisplayError::PasswordBusy),
        }
    }
}

impl Sesam {
    /// Checks `password` under the identity's password lockout; always spends one Argon2
    /// verification (also for an unknown identity, no password, or a lock).
    ///
    /// `other_factor_right` is asked only when the password is wrong: whether another
    /// factor of the same attempt was right, which decides whether this failure can
    /// escalate to "until re-activated".
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn check_password<F, Fut>(
        &self,
        identity_id: Option<Uuid>,
        password: &str,
        other_factor_right: F,
    ) -> Result<PasswordCheck, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<bool, AppError>>,
    {
        let pw = Password::for_login(
            &password
                .chars()
                .take(MAX_PASSWORD_INPUT)
                .collect::<String>(),
        );
        let unit = match identity_id {
            Some(id) => self.store.lock_password(id).await?,
            None => None,
        };
        let (Some(id), Some(unit)) = (identity_id, unit) else {
            self.passwords
                .verify_nothing(pw, self.random.clone())
                .await?;
            return Ok(PasswordCheck::NoPassword);
        };
        let now = self.clock.now();
        let mut guard = *unit.guard();
        let phc = unit.phc().to_owned();
        if let Err(refusal) = guard.reserve(now) {
            drop(unit);
            self.passwords
                .verify_nothing(pw, self.random.clone())
                .await?;
            return Ok(PasswordCheck::Refused(refusal));
        }
        unit.save(&guard, now, Effects::default()).await?;
        let ok = self.passwords.verify(pw, phc).await?;
        let attempt = if ok {
            Attempt::Informed
        } else {
            match other_factor_right().await {
                Ok(true) => Attempt::Informed,
                Ok(false) => Attempt::Uninformed,
                Err(e) => {
                    // The try must still be settled; the person's side of the rule wins.
                    tracing::warn!(error = %e, "the other factor could not be looked at");
                    Attempt::Uninformed
                }
            }
        };
        let unit = self
            .store
            .lock_password(id)
            .await?
            .ok_or(StoreError::NotFound("password"))?;
        let mut guard = *unit.guard();
        let now = self.clock.now();
        if ok {
            guard.succeed();
            unit.save(&guard, now, Effects::default()).await?;
            return Ok(PasswordCheck::Right);
        }
        let failure = guard.fail(now, attempt);
        let informed = attempt == Attempt::Informed;
        let mut effects = Effects {
            audit: vec![
                AuditDraft::new(format!("person:{id}"), "authenticator.password_wrong")
                    .subject(id.to_string())
                    .details(json!({ "failures": guard.lockout.failures, "informed": informed })),
            ],
            messages: vec![],
        };
        if !matches!(failure, Failure::Wrong { .. }) {
            let blocked = matches!(failure, Failure::Blocked);
            effects.audit.push(
                AuditDraft::new("system", "authenticator.password_locked")
                    .subject(id.to_string())
                    .details(json!({ "until_reactivated": blocked, "informed": informed })),
            );
            if let Some(identity) = self.store.identity(id).await? {
                effects.messages = self
                    .messages(
                        &Event::PasswordLocked {
                            at: now,
                            until_reactivated: blocked,
                        },
                        &identity,
                    )
                    .await?;
            }
        }
        let notify = !effects.messages.is_empty();
        unit.save(&guard, now, effects).await?;
        if notify {
            self.wake_outbox();
        }
        Ok(PasswordCheck::Wrong(failure))
    }

    /// The password that goes with a code display or chip, in an activation that already
    /// proved another factor. From the app (`letter` false): proven under the lockout if
    /// the person has one (`Ok(None)`), else checked against the rules and hashed
    /// (`Ok(Some(phc))`) to be stored with the new authenticator. With a letter and its SMS
    /// code (two fresh channels, the recovery path) the password given is always set, so a
    /// forgotten or blocked password is re-activated; the new one starts with a clean
    /// lockout. (The letter's grant is locked meanwhile; on SQLite a second write
    /// transaction for the guard would wait on it.)
    ///
    /// A password locked until re-activated is refused from the app: a thief with the
    /// phone and its PIN could otherwise guess until the lock and then choose their own.
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn password_proven_or_new(
        &self,
        identity_id: Uuid,
        user_id: Option<&sesam_domain::UserId>,
        password: &str,
        letter: bool,
    ) -> Result<Option<String>, AppError> {
        let refused = |e: CodeDisplayError| AppError::Invalid(e.into());
        let check = if letter {
            PasswordCheck::NoPassword
        } else {
            let blocked = self
                .store
                .lock_password(identity_id)
                .await?
                .map(|unit| unit.guard().lockout.blocked);
            match blocked {
                Some(true) => return Err(refused(CodeDisplayError::PasswordBlocked)),
                None => PasswordCheck::NoPassword,
                // After the app's signature and PIN: an informed attempt.
                Some(false) => {
                    self.check_password(Some(identity_id), password, || async { Ok(true) })
                        .await?
                }
            }
        };
        match check {
            PasswordCheck::NoPassword => {
                let pw =
                    Password::parse(password, user_id).map_err(sesam_domain::DomainError::from)?;
                Ok(Some(self.passwords.hash(pw, self.random.clone()).await?))
            }
            other => other.as_result().map(|()| None).map_err(refused),
        }
    }

    /// Lifts the lock "until re-activated" of the person's password (the password stays):
    /// after a completed two-channel activation (a letter and its SMS code).
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn reactivate_password(
        &self,
        identity_id: Uuid,
        actor: &str,
    ) -> Result<(), AppError> {
        let Some(unit) = self.store.lock_password(identity_id).await? else {
            return Ok(());
        };
        if !unit.guard().lockout.blocked {
            return Ok(());
        }
        let mut guard = *unit.guard();
        guard.reactivate();
        let audit = AuditDraft::new(actor, "authenticator.password_reactivated")
            .subject(identity_id.to_string());
        unit.save(
            &guard,
            self.clock.now(),
            Effects {
                audit: vec![audit],
                messages: vec![],
            },
        )
        .await?;
        Ok(())
    }
}
