//! What clients send. The fields are unvalidated: the server's services check them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /app/v1/activation/start`: the code from the activation letter.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct StartActivation {
    pub activation_code: String,
}

/// `POST /app/v1/activation/complete`: the second step as the app sends it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CompleteActivation {
    pub activation_id: Uuid,
    pub activation_code: String,
    pub sms_code: String,
    /// SEC1 P-256 public key, base64url.
    pub device_public_key: String,
    pub device_name: String,
    /// The device key's signature over the activation binding, base64url.
    pub possession_signature: String,
    /// The PIN proof bound to the activation binding, base64url.
    pub pin_proof: String,
    pub user_id: Option<String>,
    pub new_user_id: Option<String>,
}

/// `POST /app/v1/pairing/start`: a new app's request to be paired.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct StartPairing {
    pub user_id: String,
    pub device_public_key: String,
    pub device_name: String,
    pub possession_signature: String,
    pub pin_proof: String,
}

/// A body that carries only a PIN proof (revocations, channel removal).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PinBody {
    pub pin_proof: String,
}

/// `POST /app/v1/identity/user-id`: the person's new user ID, with the PIN proof bound
/// to it exactly as sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ChangeUserId {
    pub new_user_id: String,
    pub pin_proof: String,
}

/// Approving a pairing: the PIN proof and the code the new app shows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PairingApproval {
    pub pin_proof: String,
    #[serde(default)]
    pub pairing_code: Option<String>,
}

/// The answer to a login or approval, signed over the approval bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SignedAnswer {
    /// Only approvals need it.
    #[serde(default)]
    pub pin_proof: Option<String>,
    /// The code the browser shows, when the request has one.
    #[serde(default)]
    pub binding_code: Option<String>,
    pub timestamp_ms: i64,
    /// base64url of the ECDSA P-256 signature (DER or raw r‖s) over the approval bytes.
    pub signature: String,
    #[serde(default)]
    pub not_me: bool,
}

/// The body of `POST /app/v1/approvals/{id}/approve`: which one depends on what `id` is
/// (a login or approval, or a pairing). The server reads the one the request calls for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ApprovalBody {
    Login(SignedAnswer),
    Pairing(PairingApproval),
}

/// `POST /app/v1/devices/{id}/rename`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RenameBody {
    pub name: String,
}

/// `POST /app/v1/channels`: a new SMS or e-mail channel.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AddChannel {
    /// `sms` or `email`.
    pub kind: String,
    pub address: String,
    pub pin_proof: String,
}

/// `POST /app/v1/channels/{id}/confirm`: the code sent to the new address.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ConfirmChannel {
    pub code: String,
    pub pin_proof: String,
}

/// `POST /app/v1/channels/order`: every channel exactly once, in failover order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ChannelOrder {
    pub order: Vec<Uuid>,
    pub pin_proof: String,
}

/// `POST /app/v1/channels/every-use`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct EveryUse {
    pub enabled: bool,
    pub pin_proof: String,
}

/// `POST /app/v1/code-displays/activate`: a code display activated from the app.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ActivateCodeDisplay {
    pub serial: String,
    pub code1: String,
    pub code2: String,
    pub password: String,
    pub pin_proof: String,
}

/// `POST /code-displays/activate-with-letter`: a code display activated with the letter
/// and the SMS code instead of an app (for people who do not use the app).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct LetterCodeDisplay {
    pub activation_id: Uuid,
    pub activation_code: String,
    pub sms_code: String,
    pub serial: String,
    pub code1: String,
    pub code2: String,
    pub password: String,
    pub user_id: Option<String>,
    pub new_user_id: Option<String>,
}

/// `POST /app/v1/chips/register/start`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ChipStart {
    pub pin_proof: String,
    pub password: String,
}

/// `POST /chips/register/finish`: sent by the browser that talked to the security key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChipFinish {
    pub registration_id: Uuid,
    /// The WebAuthn `RegisterPublicKeyCredential` JSON.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// `POST /app/v1/push/subscription`: the browser's push subscription, as
/// `PushSubscription.toJSON()` gives it (other members, like `expirationTime`, are ignored).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PushSubscribe {
    /// The push service's URL for this subscription (https).
    pub endpoint: String,
    pub keys: PushKeys,
}

/// The keys a push is encrypted to (RFC 8291), base64url.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PushKeys {
    /// The browser's P-256 public key, uncompressed (65 bytes).
    pub p256dh: String,
    /// The authentication secret (16 bytes).
    pub auth: String,
}
