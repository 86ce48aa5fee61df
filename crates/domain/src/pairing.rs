//! Pairing: activating a further app, approved from an app that is already active.
//!
//! The new app registers its public key and its own PIN (as a PIN proof) under the
//! person's user ID; an active app of that person sees "Activate new app '<name>'" and
//! approves it with its PIN. A pairing for an unknown user ID is stored too, and simply
//! never approved, so the answer does not reveal whether a user ID exists.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::device::{DeviceName, DevicePublicKey};

/// How long a pairing waits for approval.
pub const PAIRING_VALIDITY_SECONDS: i64 = 5 * 60;

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
    pub state: PairingState,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Pairing {
    /// What the person sees in their active app.
    pub fn approval_text(&self) -> String {
        format!("Activate new app '{}'", self.name.as_str())
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
