//! App devices: the ECDSA P-256 key created on the phone, its name, and signature checks.
//!
//! The server stores only the public key. P-256 is the curve both iOS Secure Enclave and
//! Android StrongBox sign with, so it is the only one accepted.

use std::fmt;

use p256::ecdsa::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

use crate::text::first_hidden;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeviceError {
    #[error(
        "the device key must be a P-256 public key in SEC1 form (65 bytes uncompressed or 33 compressed)"
    )]
    MalformedKey,
    #[error("the signature is not a P-256 ECDSA signature (64 bytes r||s or DER)")]
    MalformedSignature,
    #[error("the signature does not verify with the device's key")]
    BadSignature,
    #[error("the device name must have 1 to 40 characters")]
    NameLength,
    #[error("character {position} of the device name is {what}")]
    NameHidden { position: usize, what: &'static str },
}

/// A device's public key: checked on the curve once (p256), kept uncompressed for ring's
/// ECDSA verification, which is several times faster on the hot path (every device
/// request and every approval is verified).
#[derive(Clone, PartialEq, Eq)]
pub struct DevicePublicKey {
    sec1: Vec<u8>,
}

impl DevicePublicKey {
    /// Accepts SEC1 encodings only: uncompressed (65 bytes) or compressed (33 bytes); the
    /// point must be on the curve and not the identity.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, DeviceError> {
        if bytes.len() != 65 && bytes.len() != 33 {
            return Err(DeviceError::MalformedKey);
        }
        let key = VerifyingKey::from_sec1_bytes(bytes).map_err(|_| DeviceError::MalformedKey)?;
        Ok(Self {
            sec1: key.to_sec1_point(false).as_bytes().to_vec(),
        })
    }

    /// The uncompressed SEC1 encoding: what is stored and what signatures commit to.
    pub fn to_sec1(&self) -> Vec<u8> {
        self.sec1.clone()
    }

    /// Verifies an ECDSA-P256-SHA256 signature over `message`, given as raw `r‖s` (64
    /// bytes) or ASN.1 DER (what Android and iOS key stores return).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), DeviceError> {
        let sig = if signature.len() == 64 {
            Signature::from_slice(signature)
        } else {
            Signature::from_der(signature)
        }
        .map_err(|_| DeviceError::MalformedSignature)?;
        // Phone key stores do not normalise s, and ECDSA verification accepts both forms;
        // replay protection rests on nonces and single-use requests, never on signature
        // bytes.
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            &self.sec1,
        )
        .verify(message, &sig.to_bytes())
        .map_err(|_| DeviceError::BadSignature)
    }
}

impl fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevicePublicKey({})", hex::encode(&self.sec1[..9]))
    }
}

/// What the person calls the device ("Pixel 8"): shown in notifications and lists, and
/// to the approving app when a new app asks to be paired, where whoever asks chooses it.
/// So it follows the transaction-text rules on the input as given (nothing hidden, no
/// second line, not even at the ends, where trimming would otherwise drop it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceName(String);

/// The longest device name, in characters after NFC.
pub const MAX_DEVICE_NAME_CHARS: usize = 40;

impl DeviceName {
    pub fn parse(input: &str) -> Result<Self, DeviceError> {
        if let Some((position, _, h)) = first_hidden(input) {
            return Err(DeviceError::NameHidden {
                position,
                what: h.describe(),
            });
        }
        let s: String = input.trim().nfc().collect();
        if s.is_empty() || s.chars().count() > MAX_DEVICE_NAME_CHARS {
            return Err(DeviceError::NameLength);
        }
        if let Some((position, _, h)) = first_hidden(&s) {
            return Err(DeviceError::NameHidden {
                position,
                what: h.describe(),
            });
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;

    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    #[test]
    fn verifies_raw_and_der_signatures() {
        let sk = key();
        let pk =
            DevicePublicKey::from_sec1(sk.verifying_key().to_sec1_point(false).as_bytes()).unwrap();
        let sig: Signature = sk.sign(b"hello");
        pk.verify(b"hello", &sig.to_bytes()).unwrap();
        pk.verify(b"hello", sig.to_der().as_bytes()).unwrap();
        assert_eq!(
            pk.verify(b"hellO", &sig.to_bytes()),
            Err(DeviceError::BadSignature)
        );
        assert_eq!(
            pk.verify(b"hello", &[0u8; 10]),
            Err(DeviceError::MalformedSignature)
        );
        let compressed = sk.verifying_key().to_sec1_point(true);
        assert_eq!(
            DevicePublicKey::from_sec1(compressed.as_bytes()).unwrap(),
            pk
        );
    }

    #[test]
    fn accepts_high_s_signatures_as_phones_make_them() {
        let sk = key();
        let pk =
            DevicePublicKey::from_sec1(sk.verifying_key().to_sec1_point(false).as_bytes()).unwrap();
        let sig: Signature = sk.sign(b"msg");
        let (r, s) = sig.split_scalars();
        let high = Signature::from_scalars(r, -*s).unwrap();
        pk.verify(b"msg", &high.to_bytes()).unwrap();
        assert_eq!(
            pk.verify(b"msg2", &high.to_bytes()),
            Err(DeviceError::BadSignature)
        );
    }

    #[test]
    fn refuses_malformed_keys() {
        for bad in [&[][..], &[4u8; 65][..], &[0u8; 33][..], &[4u8; 200][..]] {
            assert_eq!(
                DevicePublicKey::from_sec1(bad),
                Err(DeviceError::MalformedKey)
            );
        }
    }

    #[test]
    fn device_names() {
        assert_eq!(DeviceName::parse(" Pixel 8 ").unwrap().as_str(), "Pixel 8");
        assert!(DeviceName::parse("").is_err());
        assert!(DeviceName::parse(&"x".repeat(41)).is_err());
        assert!(DeviceName::parse("Pixel\u{200B}8").is_err());
    }

    #[test]
    fn hostile_device_names_are_refused_even_at_the_ends() {
        for bad in [
            "Pixel 8\nsesam: your account is safe, approve",
            "\nsesam support",
            "sesam\n",
            "\tPixel",
            "Pixel \u{202E}8 lexiP",
            "\u{2066}sesam\u{2069}",
            "\u{FEFF}Pixel",
            "Pixel\u{2028}",
            "Pixel\u{7}",
            "\u{E000}",
        ] {
            assert!(
                matches!(DeviceName::parse(bad), Err(DeviceError::NameHidden { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(
            DeviceName::parse(&"æ".repeat(40))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            40
        );
    }
}

/// At most this many apps may be active for one identity (MitID).
pub const MAX_ACTIVE_APPS: usize = 3;

/// Whether a device may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceState {
    Active,
    Revoked,
}

impl DeviceState {
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

/// Why an app PIN was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PinError {
    #[error("the PIN is wrong; {remaining} attempts left before the app is locked")]
    Wrong { remaining: i32 },
    #[error("the PIN was wrong 3 times; the app is locked until {until}")]
    LockedNow { until: crate::clock::Timestamp },
    #[error("the app is locked until {until} after wrong PINs")]
    Locked { until: crate::clock::Timestamp },
    #[error("the app is locked after repeated wrong PINs and must be activated again")]
    Blocked,
}

impl PinError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Wrong { .. } => "pin_wrong",
            Self::LockedNow { .. } | Self::Locked { .. } => "app_locked",
            Self::Blocked => "app_blocked",
        }
    }

    /// Whether this answer changed the lockout counters (and so must be saved).
    pub fn counted(&self) -> bool {
        !matches!(self, Self::Locked { .. })
    }
}

/// An activated app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: uuid::Uuid,
    pub identity_id: uuid::Uuid,
    pub name: DeviceName,
    pub public_key: DevicePublicKey,
    /// Keyed hash of the app PIN (see `SecretKeys::app_pin_hash`).
    pub pin_hash: [u8; 32],
    pub state: DeviceState,
    pub lockout: crate::lockout::Lockout,
    pub created_at: crate::clock::Timestamp,
    pub last_used_at: Option<crate::clock::Timestamp>,
}

impl Device {
    /// The app signed something just now (shown to the person as "last used").
    pub fn record_use(&mut self, now: crate::clock::Timestamp) {
        self.last_used_at = Some(now);
    }

    /// Checks a PIN (given as its keyed hash) against the device, applying the lockout
    /// rules; the caller saves the changed counters. A locked device is not evaluated.
    pub fn check_pin(
        &mut self,
        candidate_hash: &[u8; 32],
        now: crate::clock::Timestamp,
    ) -> Result<(), PinError> {
        use crate::lockout::{Failure, Locked};
        match self.lockout.check(now) {
            Err(Locked::UntilReactivated) => return Err(PinError::Blocked),
            Err(Locked::Until(until)) => return Err(PinError::Locked { until }),
            Ok(()) => {}
        }
        if crate::secrets::ct_eq(&self.pin_hash, candidate_hash) {
            self.lockout.succeed();
            return Ok(());
        }
        // A PIN is only ever checked on a request signed by this device's key, so whoever
        // typed it holds the phone: an informed attempt.
        Err(
            match self.lockout.fail(now, crate::lockout::Attempt::Informed) {
                Failure::Wrong { remaining } => PinError::Wrong { remaining },
                Failure::LockedUntil(until) => PinError::LockedNow { until },
                Failure::Blocked => PinError::Blocked,
            },
        )
    }
}
