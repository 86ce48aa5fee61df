//! Pairing: activating a further app, approved from an app that is already active.
//!
//! The new app registers its public key and its own PIN (as a PIN proof) under the
//! person's user ID and shows a 4-digit **pairing code**; an active app of that person
//! sees "Activate a new app" with the name the new device gave, and approves it with its
//! PIN *and that code*. A pairing for an unknown user ID is stored too, and simply never
//! approved, so the answer does not reveal whether a user ID exists.
//!
//! Anyone who knows a user ID can ask, so pairings get the protections of login requests
//! against "MFA fatigue": the code (an approval by reflex cannot succeed, and 3 wrong codes
//! void the pairing), at most [`MAX_PENDING_PAIRINGS`] waiting per person (a new one
//! pushes out the oldest, so an attacker's pairings cannot block the person's own), and
//! start limits per person and per address.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::auth_request::BindingCode;
use crate::clock::Timestamp;
use crate::device::{DeviceName, DevicePublicKey};
use crate::notification::Language;

/// How long a pairing waits for approval.
pub const PAIRING_VALIDITY_SECONDS: i64 = 5 * 60;
/// At most this many pairings wait for one person at once; a new one evicts the oldest.
pub const MAX_PENDING_PAIRINGS: i64 = 3;
/// Wrong pairing codes before the pairing is voided.
pub const MAX_CODE_FAILURES: i32 = 3;
/// Pairings started for one person (from any address) per window, by default.
pub const MAX_PAIRINGS_PER_PERSON: i64 = 3;
/// Pairings started from one address (for anyone) per window, by default.
pub const MAX_PAIRINGS_PER_SOURCE: i64 = 10;
/// The counting window of the start limits.
pub const PAIRING_WINDOW_SECONDS: i64 = 600;

/// Why a pairing could not be started or approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PairingError {
    #[error(
        "too many new apps were asked for lately (for this user ID or from this address); try again in {retry_after_seconds} seconds"
    )]
    TooManyStarted { retry_after_seconds: i64 },
    #[error(
        "the pairing code does not match the one the new app shows; {remaining} attempt(s) left"
    )]
    WrongCode { remaining: i32 },
    #[error(
        "the pairing code was wrong 3 times: this pairing is cancelled, and the new app must ask again"
    )]
    Voided,
}

impl PairingError {
    pub fn code(self) -> &'static str {
        match self {
            Self::TooManyStarted { .. } => "too_many_requests",
            Self::WrongCode { .. } => "pairing_code_wrong",
            Self::Voided => "pairing_voided",
        }
    }
}

/// Seconds from `now` until the fixed counting window that holds `now` ends (what a
/// refused start is told to wait, as `Retry-After`).
pub fn retry_after_seconds(now: Timestamp, window_seconds: i64) -> i64 {
    crate::rate_limit::RateWindow::seconds(window_seconds).retry_after_seconds(now)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PairingState {
    Pending,
    Approved,
    Rejected,
}

impl PairingState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }
}

/// A new app waiting for approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairing {
    pub id: Uuid,
    /// `None` when the user ID given was unknown (the pairing can never be approved).
    pub identity_id: Option<Uuid>,
    /// The id the device will have once approved (its PIN hash is bound to it).
    pub device_id: Uuid,
    pub public_key: DevicePublicKey,
    pub name: DeviceName,
    pub pin_hash: [u8; 32],
    /// The code the new app shows; `None` only for pairings stored before codes existed,
    /// which can never be approved.
    pub code: Option<BindingCode>,
    /// Wrong codes given so far.
    pub code_failures: i32,
    pub state: PairingState,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What became of a wrong pairing code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrongCode {
    /// Counted; this many attempts are left.
    Counted { remaining: i32 },
    /// The last allowed attempt: the pairing is now rejected.
    Voided,
}

impl Pairing {
    /// What the person sees in their active app: a fixed sentence of sesam's, then the
    /// name the new device chose, quoted and labelled as such, so a name cannot pass
    /// itself off as sesam's own words.
    pub fn approval_text(&self, language: Language) -> String {
        match language {
            Language::Da => format!(
                "Aktivér en ny app? Navn valgt på den nye enhed: «{}». Godkend kun, hvis du selv er ved at sætte den op, og indtast koden, den viser.",
                self.name.as_str()
            ),
            Language::En => format!(
                "Activate a new app? Name chosen on the new device: «{}». Approve only if you are setting it up yourself, and type the code it shows.",
                self.name.as_str()
            ),
        }
    }

    /// Whether `presented` is this pairing's code (constant time).
    pub fn code_matches(&self, presented: Option<&str>) -> bool {
        self.code.as_ref().is_some_and(|c| c.matches(presented))
    }

    /// Counts a wrong code; the third voids the pairing (it is rejected).
    pub fn code_wrong(&mut self) -> WrongCode {
        self.code_failures = self.code_failures.saturating_add(1);
        if self.code_failures >= MAX_CODE_FAILURES {
            self.state = PairingState::Rejected;
            WrongCode::Voided
        } else {
            WrongCode::Counted {
                remaining: MAX_CODE_FAILURES - self.code_failures,
            }
        }
    }

    pub fn is_pending(&self, now: Timestamp) -> bool {
        self.state == PairingState::Pending && now < self.expires_at
    }

    /// The state as the new app sees it.
    pub fn status(&self, now: Timestamp) -> &'static str {
        match self.state {
            PairingState::Pending if now >= self.expires_at => "expired",
            s => s.as_str(),
        }
    }
}

/// What the new app's PIN proof and proof of possession are bound to.
pub fn pairing_binding(user_id_key: &str, device_public_key_sec1: &[u8]) -> Vec<u8> {
    format!(
        "sesam-pairing/v1\n{user_id_key}\n{}",
        hex::encode(device_public_key_sec1)
    )
    .into_bytes()
}

/// What the approving app's PIN proof is bound to: this pairing and this new key.
pub fn pairing_approval_binding(
    pairing_id: Uuid,
    approving_device: Uuid,
    new_key_sec1: &[u8],
) -> Vec<u8> {
    use sha2::Digest;
    format!(
        "sesam-pairing-approval/v1\n{}\n{}\n{}",
        pairing_id.hyphenated(),
        approving_device.hyphenated(),
        hex::encode(sha2::Sha256::digest(new_key_sec1))
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairing() -> Pairing {
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        Pairing {
            id: Uuid::nil(),
            identity_id: None,
            device_id: Uuid::nil(),
            public_key: DevicePublicKey::from_sec1(
                key.verifying_key().to_sec1_point(false).as_bytes(),
            )
            .unwrap(),
            name: DeviceName::parse("Pixel 8").unwrap(),
            pin_hash: [0; 32],
            code: BindingCode::parse("0042"),
            code_failures: 0,
            state: PairingState::Pending,
            created_at: Timestamp::from_millis(0),
            expires_at: Timestamp::from_millis(300_000),
        }
    }

    #[test]
    fn three_wrong_codes_void_the_pairing() {
        let mut p = pairing();
        assert!(p.code_matches(Some("0042")) && !p.code_matches(Some("0043")));
        assert!(!p.code_matches(None));
        assert_eq!(p.code_wrong(), WrongCode::Counted { remaining: 2 });
        assert_eq!(p.code_wrong(), WrongCode::Counted { remaining: 1 });
        assert!(p.is_pending(Timestamp::from_millis(1)));
        assert_eq!(p.code_wrong(), WrongCode::Voided);
        assert!(!p.is_pending(Timestamp::from_millis(1)));
        assert_eq!(p.status(Timestamp::from_millis(1)), "rejected");
    }

    #[test]
    fn a_pairing_without_a_code_never_matches() {
        let p = Pairing {
            code: None,
            ..pairing()
        };
        assert!(!p.code_matches(Some("0042")) && !p.code_matches(Some("")));
    }

    #[test]
    fn the_name_is_shown_behind_a_fixed_prefix() {
        let p = pairing();
        assert!(
            p.approval_text(Language::En)
                .starts_with("Activate a new app? Name chosen on the new device: «Pixel 8»")
        );
        assert!(
            p.approval_text(Language::Da)
                .starts_with("Aktivér en ny app? Navn valgt på den nye enhed: «Pixel 8»")
        );
    }

    #[test]
    fn retry_after_is_the_rest_of_the_window() {
        assert_eq!(retry_after_seconds(Timestamp::from_millis(0), 600), 600);
        assert_eq!(retry_after_seconds(Timestamp::from_millis(1), 600), 600);
        assert_eq!(retry_after_seconds(Timestamp::from_millis(599_001), 600), 1);
        assert_eq!(
            retry_after_seconds(Timestamp::from_millis(600_000), 600),
            600
        );
    }
}
