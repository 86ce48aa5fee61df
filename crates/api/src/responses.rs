//! What the server answers. Times are RFC 3339 strings in UTC.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `GET /app/v1/config`: the protocol and the server's PIN key for enrolment proofs
/// (base64url SEC1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Config {
    pub protocol: String,
    pub pin_key: String,
    /// The server's VAPID public key for web push (`applicationServerKey`, base64url
    /// SEC1 uncompressed); empty when the server does not push.
    #[serde(default)]
    pub push_key: String,
}

/// The answer to the activation code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActivationStarted {
    pub activation_id: Uuid,
    /// The registered phone number, masked.
    pub sms_sent_to: String,
    pub sms_code_expires_at: String,
    pub user_id_required: bool,
    pub pin_key: String,
}

/// An activated app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Activated {
    pub device_id: Uuid,
    pub user_id: String,
    pub device_name: String,
    /// The app's device PIN key, wrapped under its enrolment proof's key (base64url,
    /// 60 bytes): its PIN proofs from now on are sealed under it (`docs/protocol.md` §3).
    pub device_pin_key: String,
}

/// `GET /app/v1/me`: the person, their apps, code displays and chips.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub user_id: Option<String>,
    pub name: String,
    /// `pending`, `active`, `suspended` or `revoked`.
    pub state: String,
    pub devices: Vec<DeviceView>,
    pub code_displays: Vec<CodeDisplayView>,
    pub chips: Vec<ChipView>,
}

/// One of the person's apps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceView {
    pub device_id: Uuid,
    pub name: String,
    pub state: String,
    pub created_at: String,
    /// Whether this is the app that asked.
    pub this_device: bool,
}

/// One of the person's code displays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CodeDisplayView {
    pub serial: String,
    /// `display` or `audio_reader` (an audio code reader, which reads the code aloud).
    /// Absent from servers before the kind existed: read as `display`.
    #[serde(default = "display_kind")]
    pub kind: String,
    pub state: String,
    pub activated_at: Option<String>,
}

fn display_kind() -> String {
    "display".into()
}

/// One of the person's chips.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChipView {
    pub chip_id: Uuid,
    pub state: String,
    pub created_at: String,
}

/// `GET /app/v1/inbox`: the messages sent to the app channel, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Inbox {
    pub messages: Vec<InboxMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InboxMessage {
    pub message_id: Uuid,
    pub event: String,
    pub text: String,
    pub at: String,
}

/// `GET /app/v1/activity`: every message sent to the person with its delivery, and every
/// request they were asked to answer, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Activity {
    pub messages: Vec<ActivityMessage>,
    pub requests: Vec<RequestHistoryEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActivityMessage {
    pub message_id: Uuid,
    pub event: String,
    /// `sms`, `email` or `app`.
    pub channel: String,
    /// The address, masked (`app` for the app inbox).
    pub to: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub at: String,
    pub sent_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestHistoryEntry {
    pub id: Uuid,
    pub sp_name: String,
    pub action: String,
    pub text: String,
    pub result: String,
    pub not_me: bool,
    /// Whether a browser asked (with a channel-binding code).
    pub browser: bool,
    pub at: String,
    pub answered_at: Option<String>,
}

/// The person's channels (`GET /app/v1/channels` and the answer to every change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Channels {
    pub channels: Vec<ChannelView>,
    pub notify_every_use: bool,
    /// Set when fewer than two channels are confirmed.
    pub recommendation: Option<String>,
}

/// One channel, in failover order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChannelView {
    pub id: Uuid,
    pub kind: String,
    pub address: String,
    pub position: i32,
    pub confirmed: bool,
}

/// A channel added and waiting for its confirmation code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChannelAdded {
    pub channel_id: Uuid,
    pub message: String,
}

/// A pairing started by a new app; the same shape for any user ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PairingStarted {
    pub pairing_id: Uuid,
    pub expires_at: String,
    /// The code the new app shows; the approving app must type it.
    pub pairing_code: String,
    pub message: String,
    pub message_da: String,
    /// The new app's device PIN key, wrapped under its enrolment proof's key (base64url,
    /// 60 bytes), for its PIN proofs once the pairing is approved (`docs/protocol.md` §3).
    pub device_pin_key: String,
}

/// `GET /app/v1/pairing/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PairingStatus {
    /// `pending`, `approved`, `rejected` or `expired`.
    pub status: String,
    pub device_id: Option<Uuid>,
}

/// `GET /app/v1/approvals`: what waits for the person's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PendingList {
    pub requests: Vec<Pending>,
}

/// A login or approval, or a new app asking to be paired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Pending {
    Login(PendingLogin),
    Pairing(PendingPairing),
}

impl Pending {
    pub fn id(&self) -> Uuid {
        match self {
            Self::Login(l) => l.id,
            Self::Pairing(p) => p.id,
        }
    }

    /// What the app shows, exactly.
    pub fn text(&self) -> &str {
        match self {
            Self::Login(l) => &l.text,
            Self::Pairing(p) => &p.text,
        }
    }

    pub fn expires_at(&self) -> &str {
        match self {
            Self::Login(l) => &l.expires_at,
            Self::Pairing(p) => &p.expires_at,
        }
    }
}

/// A login or approval started by a service provider (`kind` is `approval`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PendingLogin {
    pub id: Uuid,
    pub kind: String,
    pub client_id: String,
    pub sp_name: String,
    pub action: String,
    pub text: String,
    /// Whether the code the browser shows must be given.
    pub binding_required: bool,
    pub expires_at: String,
    /// The assurance level an approval in this app gives (`low`, `substantial`).
    pub level: Option<String>,
}

/// A new app asking to be paired (`kind` is `activate_app`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PendingPairing {
    pub id: Uuid,
    pub kind: String,
    /// sesam's fixed sentence with the device name, in the person's language.
    pub text: String,
    /// The name the new device chose (not sesam's words).
    pub device_name: String,
    pub expires_at: String,
    pub pairing_code_required: bool,
    /// The new app's public key (SEC1, base64url), which the approval is bound to.
    pub new_device_key: Option<String>,
}

/// The answer to `POST /app/v1/approvals/{id}/approve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Approved {
    Login(LoginApproved),
    Pairing(PairingApproved),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LoginApproved {
    pub approved: Uuid,
    pub client_id: String,
    pub sp_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PairingApproved {
    pub approved: Uuid,
    pub device_id: Uuid,
    pub device_name: String,
}

/// The answer to `POST /app/v1/approvals/{id}/reject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Rejected {
    Login(LoginRejected),
    Pairing(PairingRejected),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LoginRejected {
    pub rejected: Uuid,
    pub not_me: bool,
    /// With `not_me`: what the person should do next.
    pub advice: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PairingRejected {
    pub rejected: Uuid,
}

/// An app, code display or chip removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    /// The device id, or `code_display:<serial>`, or `chip:<id>`.
    pub revoked: String,
    /// Set when what is left is weaker than before (for example no app any more).
    pub warning: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Renamed {
    pub renamed: Uuid,
    pub name: String,
}

/// The identity blocked ("block my ID").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Blocked {
    pub state: String,
    pub message: String,
}

/// A code display activated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CodeDisplayActivated {
    pub serial: String,
    pub state: String,
}

/// A chip registration started: the options for `navigator.credentials.create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChipRegistrationStarted {
    pub registration_id: Uuid,
    /// The WebAuthn `CreationChallengeResponse`.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// A chip registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChipRegistered {
    pub chip_id: Uuid,
    pub state: String,
}

/// `POST /app/v1/push/subscription` and `POST /app/v1/push/subscription/remove`: whether
/// this app is now woken by web push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PushState {
    pub subscribed: bool,
}
