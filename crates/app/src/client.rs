//! Talking to the server's app API.

use p256::ecdsa::Signature;
use p256::ecdsa::signature::Signer;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sesam_api as api;
use sesam_domain::app_protocol::{
    self, AppPin, DevicePinKey, EnrolmentKey, HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE,
    HEADER_TIMESTAMP, b64, unb64,
};
use sesam_domain::{Random, random::random_bytes};
use thiserror::Error;
use uuid::Uuid;

use crate::state::{AppState, StateError};

#[derive(Debug, Error)]
pub enum AppError {
    #[error("{description}")]
    Server {
        status: u16,
        code: String,
        description: String,
    },
    #[error("cannot reach the server: {0}")]
    Network(String),
    #[error("the server's answer is not what this app understands: {0}")]
    Protocol(String),
    #[error("{0}")]
    State(#[from] StateError),
    #[error("{0}")]
    Input(String),
}

impl AppError {
    /// The server's error code, if the server refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A pairing started by a new app.
#[derive(Debug, Clone)]
pub struct Pairing {
    pub pairing_id: Uuid,
    pub expires_at: String,
    /// This app's device PIN key, for its PIN proofs once the pairing is approved (keep
    /// it in the state: [`AppState::set_pin_key`]).
    pub device_pin_key: DevicePinKey,
    /// The code this (new) app shows; the approving app must type it.
    pub pairing_code: String,
}

/// An activated app: the server's answer, with the device PIN key it carried opened.
#[derive(Debug, Clone)]
pub struct Activated {
    pub device_id: Uuid,
    pub user_id: String,
    pub device_name: String,
    /// This app's device PIN key (keep it in the state: [`AppState::set_pin_key`]).
    pub device_pin_key: DevicePinKey,
}

/// Opens the device PIN key an enrolment's answer carries (`docs/protocol.md` §3).
fn open_device_key(
    enrolment: &EnrolmentKey,
    wrapped: &str,
    binding: &[u8],
) -> Result<DevicePinKey, AppError> {
    let wrapped =
        unb64(wrapped, "device_pin_key").map_err(|e| AppError::Protocol(e.to_string()))?;
    enrolment
        .unwrap(&wrapped, binding)
        .map_err(|e| AppError::Protocol(e.to_string()))
}

/// A request waiting for the person's decision, as the app handles it: a login or
/// approval, or a pairing, in one shape (what the other kind lacks is `None`).
#[derive(Debug, Clone)]
pub struct PendingRequest {
    pub id: Uuid,
    pub kind: String,
    pub text: String,
    pub expires_at: String,
    /// For "activate new app": the new app's public key, which the approval is bound to.
    pub new_device_key: Option<String>,
    /// For "activate new app": the name the new device chose (not sesam's words).
    pub device_name: Option<String>,
    /// For "activate new app": the code the new app shows must be given.
    pub pairing_code_required: bool,
    /// For logins and approvals: the SP as registered, the action, and whether the code
    /// the browser shows must be given.
    pub client_id: Option<String>,
    pub sp_name: Option<String>,
    pub action: Option<String>,
    pub binding_required: bool,
    /// The assurance level the approval gives (`low`, `substantial`).
    pub level: Option<String>,
}

impl From<api::Pending> for PendingRequest {
    fn from(p: api::Pending) -> Self {
        match p {
            api::Pending::Login(l) => Self {
                id: l.id,
                kind: l.kind,
                text: l.text,
                expires_at: l.expires_at,
                new_device_key: None,
                device_name: None,
                pairing_code_required: false,
                client_id: Some(l.client_id),
                sp_name: Some(l.sp_name),
                action: Some(l.action),
                binding_required: l.binding_required,
                level: l.level,
            },
            api::Pending::Pairing(p) => Self {
                id: p.id,
                kind: p.kind,
                text: p.text,
                expires_at: p.expires_at,
                new_device_key: p.new_device_key,
                device_name: Some(p.device_name),
                pairing_code_required: p.pairing_code_required,
                client_id: None,
                sp_name: None,
                action: None,
                binding_required: false,
                level: None,
            },
        }
    }
}

pub struct AppClient {
    http: reqwest::Client,
    server: String,
    /// Milliseconds since the epoch for request timestamps (the device clock).
    clock: std::sync::Arc<dyn Fn() -> i64 + Send + Sync>,
}

fn now_ms() -> i64 {
    use sesam_domain::Clock as _;
    sesam_domain::SystemClock.now().millis()
}

impl AppClient {
    pub fn new(server: &str) -> Result<Self, AppError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| AppError::Network(e.to_string()))?;
        Ok(Self {
            http,
            server: server.trim_end_matches('/').to_owned(),
            clock: std::sync::Arc::new(now_ms),
        })
    }

    /// Uses another clock for request timestamps (tests that move time).
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn Fn() -> i64 + Send + Sync>) -> Self {
        self.clock = clock;
        self
    }

    async fn read(response: Result<reqwest::Response, reqwest::Error>) -> Result<Value, AppError> {
        let response = response.map_err(|e| AppError::Network(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let body: Value = response
            .json()
            .await
            .map_err(|e| AppError::Protocol(format!("HTTP {status}: {e}")))?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let (code, description) = match serde_json::from_value::<api::ErrorBody>(body) {
            Ok(e) => (e.error, e.error_description),
            Err(_) => ("unknown".into(), "the server refused".into()),
        };
        Err(AppError::Server {
            status,
            code,
            description,
        })
    }

    fn parse<T: DeserializeOwned>(v: Value) -> Result<T, AppError> {
        serde_json::from_value(v).map_err(|e| AppError::Protocol(e.to_string()))
    }

    /// An unsigned POST with a typed body and answer.
    async fn post_unsigned<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, AppError> {
        let r = self
            .http
            .post(format!("{}{path}", self.server))
            .json(body)
            .send()
            .await;
        Self::parse(Self::read(r).await?)
    }

    /// An unsigned GET with a typed answer.
    async fn get_unsigned<T: DeserializeOwned>(&self, path: &str) -> Result<T, AppError> {
        let r = self.http.get(format!("{}{path}", self.server)).send().await;
        Self::parse(Self::read(r).await?)
    }

    /// A device-signed GET with a typed answer.
    async fn get<T: DeserializeOwned>(
        &self,
        state: &AppState,
        path: &str,
        random: &dyn Random,
    ) -> Result<T, AppError> {
        Self::parse(
            self.signed(state, reqwest::Method::GET, path, None, random)
                .await?,
        )
    }

    /// A device-signed POST with a typed body and answer.
    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        state: &AppState,
        path: &str,
        body: &B,
        random: &dyn Random,
    ) -> Result<T, AppError> {
        let body = serde_json::to_value(body).map_err(|e| AppError::Protocol(e.to_string()))?;
        Self::parse(
            self.signed(state, reqwest::Method::POST, path, Some(&body), random)
                .await?,
        )
    }

    /// Step 1: the activation code from the letter; the server sends the SMS code.
    pub async fn start_activation(
        &self,
        activation_code: &str,
    ) -> Result<api::ActivationStarted, AppError> {
        let body = api::StartActivation {
            activation_code: activation_code.to_owned(),
        };
        self.post_unsigned("/app/v1/activation/start", &body).await
    }

    /// Step 2: both codes, the device's public key and proof of its private key, the
    /// app PIN (as a proof bound to this activation) and the user ID.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_activation(
        &self,
        state: &AppState,
        started: &api::ActivationStarted,
        activation_code: &str,
        sms_code: &str,
        pin: &str,
        device_name: &str,
        user_id: Option<&str>,
        new_user_id: Option<&str>,
        random: &dyn Random,
    ) -> Result<Activated, AppError> {
        let pin = AppPin::parse(pin).map_err(|e| AppError::Input(e.to_string()))?;
        let key = state.signing_key().map_err(AppError::Protocol)?;
        let public = state.public_key_sec1().map_err(AppError::Protocol)?;
        let binding = app_protocol::activation_binding(started.activation_id, &public);
        let pin_key =
            unb64(&started.pin_key, "pin_key").map_err(|e| AppError::Protocol(e.to_string()))?;
        let (proof, enrolment) = app_protocol::seal_enrolment_pin(&pin_key, &pin, &binding, random)
            .map_err(|e| AppError::Protocol(e.to_string()))?;
        let signature: Signature = key.sign(&binding);
        let body = api::CompleteActivation {
            activation_id: started.activation_id,
            activation_code: activation_code.to_owned(),
            sms_code: sms_code.to_owned(),
            device_public_key: b64(&public),
            device_name: device_name.to_owned(),
            possession_signature: b64(&signature.to_bytes()),
            pin_proof: b64(&proof),
            user_id: user_id.map(str::to_owned),
            new_user_id: new_user_id.map(str::to_owned),
        };
        let done: api::Activated = self
            .post_unsigned("/app/v1/activation/complete", &body)
            .await?;
        Ok(Activated {
            device_pin_key: open_device_key(&enrolment, &done.device_pin_key, &binding)?,
            device_id: done.device_id,
            user_id: done.user_id,
            device_name: done.device_name,
        })
    }

    /// A device-signed call (every app API call after activation).
    pub async fn signed(
        &self,
        state: &AppState,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        random: &dyn Random,
    ) -> Result<Value, AppError> {
        let device = state.activated_device()?;
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let ts = (self.clock)();
        let nonce = b64(&random_bytes::<18>(random));
        let to_sign =
            app_protocol::request_signing_bytes(method.as_str(), path, ts, &nonce, device, &bytes);
        let sig = state.sign(&to_sign).map_err(AppError::Protocol)?;
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.server))
            .header(HEADER_DEVICE, device.to_string())
            .header(HEADER_TIMESTAMP, ts.to_string())
            .header(HEADER_NONCE, nonce)
            .header(HEADER_SIGNATURE, b64(&sig));
        if body.is_some() {
            req = req.header("content-type", "application/json").body(bytes);
        }
        Self::read(req.send().await).await
    }

    /// A further app: registers this app's key and PIN under the person's user ID; an
    /// active app of theirs must approve it.
    pub async fn start_pairing(
        &self,
        state: &AppState,
        user_id: &str,
        pin: &str,
        device_name: &str,
        random: &dyn Random,
    ) -> Result<Pairing, AppError> {
        let pin = AppPin::parse(pin).map_err(|e| AppError::Input(e.to_string()))?;
        let key = state.signing_key().map_err(AppError::Protocol)?;
        let public = state.public_key_sec1().map_err(AppError::Protocol)?;
        let config: api::Config = self.get_unsigned("/app/v1/config").await?;
        let pin_key =
            unb64(&config.pin_key, "pin_key").map_err(|e| AppError::Protocol(e.to_string()))?;
        let user_key = sesam_domain::UserIdKey::of_input(user_id);
        let binding = sesam_domain::pairing::pairing_binding(user_key.as_str(), &public);
        let (proof, enrolment) = app_protocol::seal_enrolment_pin(&pin_key, &pin, &binding, random)
            .map_err(|e| AppError::Protocol(e.to_string()))?;
        let signature: Signature = key.sign(&binding);
        let body = api::StartPairing {
            user_id: user_id.to_owned(),
            device_public_key: b64(&public),
            device_name: device_name.to_owned(),
            possession_signature: b64(&signature.to_bytes()),
            pin_proof: b64(&proof),
        };
        let started: api::PairingStarted =
            self.post_unsigned("/app/v1/pairing/start", &body).await?;
        Ok(Pairing {
            device_pin_key: open_device_key(&enrolment, &started.device_pin_key, &binding)?,
            pairing_id: started.pairing_id,
            expires_at: started.expires_at,
            pairing_code: started.pairing_code,
        })
    }

    /// `pending`, `approved` (with the device id), `rejected` or `expired`.
    pub async fn pairing_status(
        &self,
        pairing_id: Uuid,
    ) -> Result<(String, Option<Uuid>), AppError> {
        let v: api::PairingStatus = self
            .get_unsigned(&format!("/app/v1/pairing/{pairing_id}"))
            .await?;
        Ok((v.status, v.device_id))
    }

    /// Requests waiting for this person's decision.
    pub async fn requests(
        &self,
        state: &AppState,
        random: &dyn Random,
    ) -> Result<Vec<PendingRequest>, AppError> {
        self.wait_for_requests(state, 0, random).await
    }

    /// Like [`Self::requests`], but the server holds the answer up to `wait_seconds` (at
    /// most 25) until a request arrives (long-poll).
    pub async fn wait_for_requests(
        &self,
        state: &AppState,
        wait_seconds: u64,
        random: &dyn Random,
    ) -> Result<Vec<PendingRequest>, AppError> {
        let path = match wait_seconds {
            0 => "/app/v1/approvals".to_owned(),
            s => format!("/app/v1/approvals?wait={}", s.min(25)),
        };
        let list: api::PendingList = self.get(state, &path, random).await?;
        Ok(list
            .requests
            .into_iter()
            .map(PendingRequest::from)
            .collect())
    }

    fn pin_proof(
        &self,
        state: &AppState,
        pin: &str,
        binding: &[u8],
        random: &dyn Random,
    ) -> Result<String, AppError> {
        let pin = AppPin::parse(pin).map_err(|e| AppError::Input(e.to_string()))?;
        let key = state.pin_key().map_err(AppError::Protocol)?;
        Ok(b64(&key.seal(&pin, binding, random)))
    }

    /// The signature over the approval bytes of a login or approval, computed from what
    /// this app shows: the text is hashed here, so a server that changed it after the
    /// person read it would not get a valid signature.
    fn sign_answer(
        &self,
        state: &AppState,
        request: &PendingRequest,
        decision: sesam_domain::auth_request::Decision,
        binding_code: Option<&str>,
        timestamp_ms: i64,
    ) -> Result<String, AppError> {
        let device = state.activated_device()?;
        // The app refuses to sign a text it would not show as it is.
        let text = sesam_domain::transaction_text::TransactionText::parse(&request.text)
            .map_err(|e| AppError::Protocol(format!("the request's text cannot be shown: {e}")))?;
        let action = request
            .action
            .as_deref()
            .and_then(sesam_domain::authorization::Action::parse)
            .ok_or_else(|| AppError::Protocol("the request has no known action".into()))?;
        let bytes = sesam_domain::auth_request::approval_signing_bytes(
            &sesam_domain::auth_request::ApprovalFields {
                request_id: request.id,
                client_id: request.client_id.as_deref().unwrap_or_default(),
                sp_name: request.sp_name.as_deref().unwrap_or_default(),
                action,
                text_sha256: text.sha256(),
                binding_code,
                decision,
                device_id: device,
                timestamp_ms,
            },
        );
        let sig = state.sign(&bytes).map_err(AppError::Protocol)?;
        Ok(b64(&sig))
    }

    /// Approves a login or approval: the PIN (bound to this request and device), the code
    /// the browser shows, and the device's signature.
    pub async fn approve_request(
        &self,
        state: &AppState,
        request: &PendingRequest,
        pin: &str,
        binding_code: Option<&str>,
        random: &dyn Random,
    ) -> Result<api::Approved, AppError> {
        use sesam_domain::auth_request::{Decision, approval_pin_binding};
        if request.binding_required && binding_code.is_none() {
            return Err(AppError::Input(
                "this request needs the 4-digit code shown in the browser (--binding-code)".into(),
            ));
        }
        let device = state.activated_device()?;
        let ts = (self.clock)();
        let code = binding_code.map(str::trim);
        let signature = self.sign_answer(state, request, Decision::Approve, code, ts)?;
        let proof = self.pin_proof(
            state,
            pin,
            &approval_pin_binding(request.id, device),
            random,
        )?;
        let path = format!("/app/v1/approvals/{}/approve", request.id);
        let body = api::SignedAnswer {
            pin_proof: Some(proof),
            binding_code: code.map(str::to_owned),
            timestamp_ms: ts,
            signature,
            not_me: false,
        };
        self.post(state, &path, &body, random).await
    }

    /// Declines a login or approval; `not_me` reports it as not started by the person.
    pub async fn reject_request(
        &self,
        state: &AppState,
        request: &PendingRequest,
        not_me: bool,
        random: &dyn Random,
    ) -> Result<api::Rejected, AppError> {
        let ts = (self.clock)();
        let signature = self.sign_answer(
            state,
            request,
            sesam_domain::auth_request::Decision::Reject,
            None,
            ts,
        )?;
        let path = format!("/app/v1/approvals/{}/reject", request.id);
        let body = api::SignedAnswer {
            pin_proof: None,
            binding_code: None,
            timestamp_ms: ts,
            signature,
            not_me,
        };
        self.post(state, &path, &body, random).await
    }

    /// Approves an "activate new app" request with the PIN and the pairing code the new
    /// app shows. The PIN proof is bound to the request and the new app's key.
    pub async fn approve(
        &self,
        state: &AppState,
        request: &PendingRequest,
        pin: &str,
        pairing_code: Option<&str>,
        random: &dyn Random,
    ) -> Result<api::Approved, AppError> {
        if request.pairing_code_required && pairing_code.is_none() {
            return Err(AppError::Input(
                "this new app shows a 4-digit pairing code: give it with --binding-code".into(),
            ));
        }
        let device = state.activated_device()?;
        let key = unb64(
            request.new_device_key.as_deref().unwrap_or_default(),
            "new_device_key",
        )
        .map_err(|e| AppError::Protocol(e.to_string()))?;
        let binding = sesam_domain::pairing::pairing_approval_binding(request.id, device, &key);
        let proof = self.pin_proof(state, pin, &binding, random)?;
        let path = format!("/app/v1/approvals/{}/approve", request.id);
        let body = api::PairingApproval {
            pin_proof: proof,
            pairing_code: pairing_code.map(|c| c.trim().to_owned()),
        };
        self.post(state, &path, &body, random).await
    }

    pub async fn reject(
        &self,
        state: &AppState,
        request_id: Uuid,
        random: &dyn Random,
    ) -> Result<api::Rejected, AppError> {
        let path = format!("/app/v1/approvals/{request_id}/reject");
        self.post(state, &path, &serde_json::Map::new(), random)
            .await
    }

    /// Removes one of the person's apps (e.g. a lost phone), with the PIN.
    pub async fn revoke(
        &self,
        state: &AppState,
        target: Uuid,
        pin: &str,
        random: &dyn Random,
    ) -> Result<api::Revoked, AppError> {
        let binding =
            app_protocol::revoke_binding(&format!("app:{target}"), state.activated_device()?);
        let pin_proof = self.pin_proof(state, pin, &binding, random)?;
        let path = format!("/app/v1/devices/{target}/revoke");
        self.post(state, &path, &api::PinBody { pin_proof }, random)
            .await
    }

    pub async fn rename(
        &self,
        state: &AppState,
        target: Uuid,
        name: &str,
        random: &dyn Random,
    ) -> Result<api::Renamed, AppError> {
        let path = format!("/app/v1/devices/{target}/rename");
        let body = api::RenameBody {
            name: name.to_owned(),
        };
        self.post(state, &path, &body, random).await
    }

    /// Activates a code display: its serial number, two consecutive codes, the password
    /// (set now or proven), and this app's PIN bound to the serial number.
    #[allow(clippy::too_many_arguments)]
    pub async fn activate_code_display(
        &self,
        state: &AppState,
        serial: &str,
        code1: &str,
        code2: &str,
        password: &str,
        pin: &str,
        random: &dyn Random,
    ) -> Result<api::CodeDisplayActivated, AppError> {
        let binding = sesam_domain::code_display::activation_binding(
            serial.trim(),
            state.activated_device()?,
        );
        let proof = self.pin_proof(state, pin, &binding, random)?;
        let body = api::ActivateCodeDisplay {
            serial: serial.to_owned(),
            code1: code1.to_owned(),
            code2: code2.to_owned(),
            password: password.to_owned(),
            pin_proof: proof,
        };
        self.post(state, "/app/v1/code-displays/activate", &body, random)
            .await
    }

    /// Starts registering a chip (security key): this app's PIN and the password. Returns
    /// the registration id and the options for the browser's `navigator.credentials.create`.
    pub async fn start_chip_registration(
        &self,
        state: &AppState,
        pin: &str,
        password: &str,
        random: &dyn Random,
    ) -> Result<(Uuid, Value), AppError> {
        let binding = sesam_domain::chip::registration_binding(state.activated_device()?);
        let body = api::ChipStart {
            pin_proof: self.pin_proof(state, pin, &binding, random)?,
            password: password.to_owned(),
        };
        let started: api::ChipRegistrationStarted = self
            .post(state, "/app/v1/chips/register/start", &body, random)
            .await?;
        Ok((started.registration_id, started.options))
    }

    /// Removes the person's code display (`code_display:<serial>`) or chip (`chip:<id>`),
    /// with the PIN.
    pub async fn revoke_other(
        &self,
        state: &AppState,
        target: &str,
        pin: &str,
        random: &dyn Random,
    ) -> Result<api::Revoked, AppError> {
        let binding = app_protocol::revoke_binding(target, state.activated_device()?);
        let pin_proof = self.pin_proof(state, pin, &binding, random)?;
        let path = match target.split_once(':') {
            Some(("code_display", serial)) => format!("/app/v1/code-displays/{serial}/revoke"),
            Some(("chip", id)) => format!("/app/v1/chips/{id}/revoke"),
            _ => {
                return Err(AppError::Input(
                    "name the authenticator as code_display:<serial> or chip:<id>".into(),
                ));
            }
        };
        self.post(state, &path, &api::PinBody { pin_proof }, random)
            .await
    }

    /// Blocks the person's whole identity at once, with the PIN.
    pub async fn block(
        &self,
        state: &AppState,
        pin: &str,
        random: &dyn Random,
    ) -> Result<api::Blocked, AppError> {
        let binding = app_protocol::block_binding(state.activated_device()?);
        let pin_proof = self.pin_proof(state, pin, &binding, random)?;
        self.post(
            state,
            "/app/v1/identity/block",
            &api::PinBody { pin_proof },
            random,
        )
        .await
    }

    /// Changes the person's user ID, with the PIN; the old one stays theirs for 365 days.
    pub async fn change_user_id(
        &self,
        state: &AppState,
        new_user_id: &str,
        pin: &str,
        random: &dyn Random,
    ) -> Result<api::UserIdChanged, AppError> {
        let binding = app_protocol::user_id_change_binding(new_user_id, state.activated_device()?);
        let body = api::ChangeUserId {
            new_user_id: new_user_id.to_owned(),
            pin_proof: self.pin_proof(state, pin, &binding, random)?,
        };
        self.post(state, "/app/v1/identity/user-id", &body, random)
            .await
    }

    /// The person's notification channels, the every-use opt-in and any recommendation.
    pub async fn channels(
        &self,
        state: &AppState,
        random: &dyn Random,
    ) -> Result<api::Channels, AppError> {
        self.get(state, "/app/v1/channels", random).await
    }

    /// Adds a phone number (`sms`) or e-mail address (`email`), with the PIN; a code is
    /// sent to it.
    pub async fn add_channel(
        &self,
        state: &AppState,
        kind: &str,
        address: &str,
        pin: &str,
        random: &dyn Random,
    ) -> Result<Uuid, AppError> {
        let binding = app_protocol::channel_add_binding(kind, address, state.activated_device()?);
        let body = api::AddChannel {
            kind: kind.to_owned(),
            address: address.to_owned(),
            pin_proof: self.pin_proof(state, pin, &binding, random)?,
        };
        let added: api::ChannelAdded = self.post(state, "/app/v1/channels", &body, random).await?;
        Ok(added.channel_id)
    }

    /// Confirms a new channel with the code sent to it, with the PIN.
    pub async fn confirm_channel(
        &self,
        state: &AppState,
        id: Uuid,
        code: &str,
        pin: &str,
        random: &dyn Random,
    ) -> Result<api::Channels, AppError> {
        let binding = app_protocol::channel_confirm_binding(id, state.activated_device()?);
        let body = api::ConfirmChannel {
            code: code.to_owned(),
            pin_proof: self.pin_proof(state, pin, &binding, random)?,
        };
        let path = format!("/app/v1/channels/{id}/confirm");
        self.post(state, &path, &body, random).await
    }

    /// Removes a channel, with the PIN.
    pub async fn remove_channel(
        &self,
        state: &AppState,
        id: Uuid,
        pin: &str,
        random: &dyn Random,
    ) -> Result<api::Channels, AppError> {
        let binding = app_protocol::channel_remove_binding(id, state.activated_device()?);
        let pin_proof = self.pin_proof(state, pin, &binding, random)?;
        let path = format!("/app/v1/channels/{id}/remove");
        self.post(state, &path, &api::PinBody { pin_proof }, random)
            .await
    }

    /// Puts the channels in a new order, with the PIN.
    pub async fn order_channels(
        &self,
        state: &AppState,
        order: &[Uuid],
        pin: &str,
        random: &dyn Random,
    ) -> Result<api::Channels, AppError> {
        let binding = app_protocol::channel_order_binding(order, state.activated_device()?);
        let body = api::ChannelOrder {
            order: order.to_vec(),
            pin_proof: self.pin_proof(state, pin, &binding, random)?,
        };
        self.post(state, "/app/v1/channels/order", &body, random)
            .await
    }

    /// Opts in or out of a message on every use, with the PIN.
    pub async fn set_every_use(
        &self,
        state: &AppState,
        enabled: bool,
        pin: &str,
        random: &dyn Random,
    ) -> Result<api::Channels, AppError> {
        let binding = app_protocol::channel_every_use_binding(enabled, state.activated_device()?);
        let body = api::EveryUse {
            enabled,
            pin_proof: self.pin_proof(state, pin, &binding, random)?,
        };
        self.post(state, "/app/v1/channels/every-use", &body, random)
            .await
    }

    /// The app inbox: messages sesam sent to the person's apps, newest first.
    pub async fn inbox(
        &self,
        state: &AppState,
        random: &dyn Random,
    ) -> Result<Vec<api::InboxMessage>, AppError> {
        let inbox: api::Inbox = self.get(state, "/app/v1/inbox", random).await?;
        Ok(inbox.messages)
    }

    /// Every request the person was asked to approve, with its result (newest first).
    pub async fn request_history(
        &self,
        state: &AppState,
        random: &dyn Random,
    ) -> Result<Vec<api::RequestHistoryEntry>, AppError> {
        let activity: api::Activity = self.get(state, "/app/v1/activity", random).await?;
        Ok(activity.requests)
    }

    /// Every message sesam sent the person and its delivery status, newest first.
    pub async fn activity(
        &self,
        state: &AppState,
        random: &dyn Random,
    ) -> Result<Vec<api::ActivityMessage>, AppError> {
        let activity: api::Activity = self.get(state, "/app/v1/activity", random).await?;
        Ok(activity.messages)
    }

    /// Who this app belongs to, and the person's devices, code displays and chips.
    pub async fn me(&self, state: &AppState, random: &dyn Random) -> Result<api::Me, AppError> {
        self.get(state, "/app/v1/me", random).await
    }
}
