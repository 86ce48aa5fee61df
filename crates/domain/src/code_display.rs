//! Code displays: hardware TOTP tokens imported from the manufacturer's PSKC file, inert
//! until a person activates one by its serial number and two consecutive codes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::lockout::{Attempt, Failure, Lockout};
use crate::totp::TotpState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeDisplayState {
    /// Imported, not yet anybody's.
    Unassigned,
    Active,
    Revoked,
}

impl CodeDisplayState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unassigned => "unassigned",
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "unassigned" => Some(Self::Unassigned),
            "active" => Some(Self::Active),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// What kind of one-time-code device it is. Both give the same 6-digit codes and log on
/// the same way; the kind only changes what sesam calls it, so a blind person reading a
/// page or a message aloud hears the name of the device in their hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeDisplayKind {
    /// A code display: shows the code on a small screen.
    #[default]
    Display,
    /// An audio code reader: reads the code aloud (headphones), for blind and partially
    /// sighted people (MitID's "kodeoplæser").
    AudioReader,
}

impl CodeDisplayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Display => "display",
            Self::AudioReader => "audio_reader",
        }
    }

    /// The stored and command-line spellings (`audio-reader` too).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "display" => Some(Self::Display),
            "audio_reader" | "audio-reader" => Some(Self::AudioReader),
            _ => None,
        }
    }

    /// The device's name in a sentence: "kodeviseren" / "the code display".
    pub fn the_name(self, language: crate::notification::Language) -> &'static str {
        use crate::notification::Language::{Da, En};
        match (self, language) {
            (Self::Display, Da) => "kodeviseren",
            (Self::AudioReader, Da) => "kodeoplæseren",
            (Self::Display, En) => "the code display",
            (Self::AudioReader, En) => "the audio code reader",
        }
    }

    /// The device's name as a title: "Kodeviser" / "Code display".
    pub fn title(self, language: crate::notification::Language) -> &'static str {
        use crate::notification::Language::{Da, En};
        match (self, language) {
            (Self::Display, Da) => "Kodeviser",
            (Self::AudioReader, Da) => "Kodeoplæser",
            (Self::Display, En) => "Code display",
            (Self::AudioReader, En) => "Audio code reader",
        }
    }
}

/// One code display as stored (its seed is sealed under the master key, bound to the
/// serial number, and kept apart from this value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDisplay {
    pub serial: String,
    pub kind: CodeDisplayKind,
    pub identity_id: Option<Uuid>,
    pub state: CodeDisplayState,
    pub totp: TotpState,
    pub lockout: Lockout,
    pub imported_at: Timestamp,
    pub activated_at: Option<Timestamp>,
}

impl CodeDisplay {
    /// Whether it is already this person's active display: activating it again is then a
    /// re-activation, which lifts its locks ("until re-activated" included). It proves the
    /// same as a first activation: the app with its PIN or a letter with its SMS code, the
    /// password, and two consecutive codes from the display in hand.
    pub fn is_active_for(&self, identity_id: Uuid) -> bool {
        self.state == CodeDisplayState::Active && self.identity_id == Some(identity_id)
    }

    /// Makes it the person's active display, continuing from the TOTP state of the codes
    /// that proved possession: an unassigned display, or the person's own active one again
    /// (which clears its lockout). Someone else's display, or a revoked one, stays as it is.
    pub fn activate(
        &mut self,
        identity_id: Uuid,
        totp: TotpState,
        now: Timestamp,
    ) -> Result<(), CodeDisplayError> {
        if self.state != CodeDisplayState::Unassigned && !self.is_active_for(identity_id) {
            return Err(CodeDisplayError::InUse);
        }
        self.identity_id = Some(identity_id);
        self.state = CodeDisplayState::Active;
        self.totp = totp;
        self.lockout.reactivate();
        self.activated_at = Some(now);
        Ok(())
    }

    /// A right code: it (and every earlier one) is used up, and the wrong ones before it
    /// are forgotten.
    pub fn accept_code(&mut self, totp: TotpState) {
        self.totp = totp;
        self.lockout.succeed();
    }

    /// A wrong code. It is only ever checked after the password was right, so the attempt
    /// is informed and can escalate to "until re-activated".
    pub fn record_failure(&mut self, now: Timestamp) -> Failure {
        self.lockout.fail(now, Attempt::Informed)
    }
}

/// The sealing purpose of a code display's seed: a sealed seed copied to another serial
/// does not open.
pub fn seed_purpose(serial: &str) -> String {
    format!("code-display-seed:{serial}")
}

/// What the PIN proof of an app that activates a code display is bound to.
pub fn activation_binding(serial: &str, acting_device: Uuid) -> Vec<u8> {
    format!(
        "sesam-code-display/v1\n{serial}\n{}",
        acting_device.hyphenated()
    )
    .into_bytes()
}

/// Why a code display step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeDisplayError {
    #[error("no code display has this serial number; check the number on the back of the device")]
    UnknownSerial,
    #[error("this code display is already in use")]
    InUse,
    #[error("you already have an active code display; remove it before activating another")]
    AlreadyHaveOne,
    #[error("you have no active code display")]
    NoneActive,
    #[error("the codes do not match this code display: {0}")]
    Codes(crate::totp::TotpError),
    #[error("the code is wrong; {remaining} attempts left before the code display is locked")]
    WrongCode { remaining: i32 },
    #[error("the code display is locked until {until} after wrong codes")]
    Locked { until: Timestamp },
    #[error(
        "the code display is locked after repeated wrong codes; activate it again (in the app, or with a new activation letter) with its serial number and two codes"
    )]
    Blocked,
    #[error("the password is wrong")]
    WrongPassword,
    #[error("the password is locked until {until} after wrong attempts")]
    PasswordLocked { until: Timestamp },
    #[error(
        "the password is locked after repeated wrong attempts; a new activation letter re-activates it (you choose a new password then)"
    )]
    PasswordBlocked,
    #[error("other attempts with this password are being checked; try again in a moment")]
    PasswordBusy,
    #[error("the serial number must have 1 to 64 visible characters")]
    SerialFormat,
}

impl CodeDisplayError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownSerial => "code_display_unknown",
            Self::InUse => "code_display_in_use",
            Self::AlreadyHaveOne => "code_display_limit",
            Self::NoneActive => "code_display_missing",
            Self::Codes(_) => "code_display_codes_wrong",
            Self::WrongCode { .. } => "code_wrong",
            Self::Locked { .. } => "code_display_locked",
            Self::Blocked => "code_display_blocked",
            Self::WrongPassword => "password_wrong",
            Self::PasswordLocked { .. } | Self::PasswordBusy => "password_locked",
            Self::PasswordBlocked => "password_blocked",
            Self::SerialFormat => "invalid_request",
        }
    }
}

/// A serial number as typed: trimmed, 1–64 characters, no hidden characters.
pub fn parse_serial(input: &str) -> Result<String, CodeDisplayError> {
    let s = input.trim();
    if s.is_empty() || s.chars().count() > 64 || crate::text::first_hidden(s).is_some() {
        return Err(CodeDisplayError::SerialFormat);
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lockout::Locked;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_millis(1_700_000_000_000 + seconds * 1000)
    }

    fn unassigned() -> CodeDisplay {
        CodeDisplay {
            kind: CodeDisplayKind::Display,
            serial: "CD-1".into(),
            identity_id: None,
            state: CodeDisplayState::Unassigned,
            totp: TotpState::default(),
            lockout: Lockout::default(),
            imported_at: t(0),
            activated_at: None,
        }
    }

    fn totp(step: u64) -> TotpState {
        TotpState {
            last_used_step: Some(step),
            drift_steps: 1,
        }
    }

    #[test]
    fn an_unassigned_display_becomes_the_persons() {
        let person = Uuid::from_u128(1);
        let mut d = unassigned();
        assert!(!d.is_active_for(person));
        d.activate(person, totp(7), t(10)).unwrap();
        assert_eq!(d.state, CodeDisplayState::Active);
        assert_eq!(d.identity_id, Some(person));
        assert_eq!(d.totp, totp(7));
        assert_eq!(d.activated_at, Some(t(10)));
        assert!(d.is_active_for(person));
    }

    #[test]
    fn activating_ones_own_display_again_lifts_its_lock() {
        let person = Uuid::from_u128(1);
        let mut d = unassigned();
        d.activate(person, totp(7), t(10)).unwrap();
        for _ in 0..3 {
            d.record_failure(t(20));
        }
        assert!(matches!(d.lockout.check(t(21)), Err(Locked::Until(_))));
        d.activate(person, totp(9), t(30)).unwrap();
        assert_eq!(d.lockout.check(t(31)), Ok(()));
        assert_eq!(d.totp, totp(9));
        assert_eq!(d.activated_at, Some(t(30)));
    }

    #[test]
    fn someone_elses_or_a_revoked_display_cannot_be_activated() {
        let (anna, bo) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut d = unassigned();
        d.activate(anna, totp(7), t(10)).unwrap();
        let before = d.clone();
        assert_eq!(d.activate(bo, totp(9), t(20)), Err(CodeDisplayError::InUse));
        assert_eq!(d, before);
        d.state = CodeDisplayState::Revoked;
        assert_eq!(
            d.activate(anna, totp(9), t(20)),
            Err(CodeDisplayError::InUse)
        );
        assert!(!d.is_active_for(anna));
    }

    #[test]
    fn a_right_code_is_used_up_and_forgets_the_wrong_ones() {
        let mut d = unassigned();
        d.activate(Uuid::from_u128(1), totp(7), t(10)).unwrap();
        assert_eq!(d.record_failure(t(20)), Failure::Wrong { remaining: 2 });
        d.accept_code(totp(8));
        assert_eq!(d.totp, totp(8));
        assert_eq!(d.lockout.failures, 0);
        // Three informed failures in a row lock it for a while.
        assert_eq!(d.record_failure(t(30)), Failure::Wrong { remaining: 2 });
        assert_eq!(d.record_failure(t(31)), Failure::Wrong { remaining: 1 });
        assert!(matches!(d.record_failure(t(32)), Failure::LockedUntil(_)));
    }
}
