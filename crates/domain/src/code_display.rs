//! Code displays: hardware TOTP tokens imported from the manufacturer's PSKC file, inert
//! until a person activates one by its serial number and two consecutive codes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::lockout::Lockout;
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

/// One code display as stored (its seed is sealed under the master key, bound to the
/// serial number, and kept apart from this value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDisplay {
    pub serial: String,
    pub identity_id: Option<Uuid>,
    pub state: CodeDisplayState,
    pub totp: TotpState,
    pub lockout: Lockout,
    pub imported_at: Timestamp,
    pub activated_at: Option<Timestamp>,
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
