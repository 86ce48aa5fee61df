//! Chips: FIDO2 security keys, used with the password. The WebAuthn credential itself
//! (public key, counter, attestation) is kept as the relying-party library's opaque record;
//! the domain knows which person it belongs to and whether it may be used.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Timestamp;

/// How long a registration or sign-in ceremony may take.
pub const CEREMONY_SECONDS: i64 = 5 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChipState {
    Active,
    Revoked,
}

impl ChipState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chip {
    pub id: Uuid,
    pub identity_id: Uuid,
    pub credential_id: Vec<u8>,
    /// The WebAuthn credential record (JSON), updated after each use (signature counter).
    pub credential: String,
    pub state: ChipState,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// A WebAuthn ceremony in progress: its state is kept server-side, sealed, single-use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    pub id: Uuid,
    pub identity_id: Uuid,
    /// `registration` or `authentication`.
    pub kind: &'static str,
    pub state_sealed: Vec<u8>,
    /// For a registration by a person without a password: the new password's hash.
    pub password_phc: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Why a chip step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChipError {
    #[error("you already have an active chip; remove it before registering another")]
    AlreadyHaveOne,
    #[error("this chip registration or sign-in has expired or was already used; start again")]
    CeremonyGone,
    #[error("the security key's answer was not accepted: {0}")]
    Rejected(String),
    #[error("this security key is already registered")]
    KeyTaken,
    #[error(
        "chips need a public URL with a host name (e.g. https://login.example.dk or http://localhost:8080)"
    )]
    NotConfigured,
    #[error("you have no active chip")]
    NoneActive,
}

impl ChipError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::AlreadyHaveOne => "chip_limit",
            Self::CeremonyGone => "chip_ceremony_expired",
            Self::Rejected(_) => "chip_rejected",
            Self::KeyTaken => "chip_key_taken",
            Self::NotConfigured => "chip_not_configured",
            Self::NoneActive => "chip_missing",
        }
    }
}

/// What the PIN proof of an app that starts a chip registration is bound to.
pub fn registration_binding(acting_device: Uuid) -> Vec<u8> {
    format!("sesam-chip/v1\n{}", acting_device.hyphenated()).into_bytes()
}
