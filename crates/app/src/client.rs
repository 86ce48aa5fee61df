//! Talking to the server's app API.

use p256::ecdsa::Signature;
use p256::ecdsa::signature::Signer;
use serde::Deserialize;
use serde_json::{Value, json};
use sesam_domain::app_protocol::{
    self, AppPin, HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, b64, unb64,
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

/// The answer to the activation code.
#[derive(Debug, Clone, Deserialize)]
pub struct ActivationStarted {
    pub activation_id: Uuid,
    pub sms_sent_to: String,
    pub sms_code_expires_at: String,
    pub user_id_required: bool,
    pub pin_key: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Activated {
    pub device_id: Uuid,
    pub user_id: String,
    pub device_name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Me {
    pub user_id: Option<String>,
    pub name: String,
    pub state: String,
    pub devices: Vec<Value>,
}

pub struct AppClient {
    http: reqwest::Client,
    server: String,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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
        })
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
        Err(AppError::Server {
            status,
            code: body["error"].as_str().unwrap_or("unknown").to_owned(),
            description: body["error_description"]
                .as_str()
                .unwrap_or("the server refused")
                .to_owned(),
        })
    }

    fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, AppError> {
        serde_json::from_value(v).map_err(|e| AppError::Protocol(e.to_string()))
    }

    /// Step 1: the activation code from the letter; the server sends the SMS code.
    pub async fn start_activation(
        &self,
        activation_code: &str,
    ) -> Result<ActivationStarted, AppError> {
        let r = self
            .http
            .post(format!("{}/app/v1/activation/start", self.server))
            .json(&json!({ "activation_code": activation_code }))
            .send()
            .await;
        Self::parse(Self::read(r).await?)
    }

    /// Step 2: both codes, the device's public key and proof of its private key, the
    /// app PIN (as a proof bound to this activation) and the user ID.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_activation(
        &self,
        state: &AppState,
        started: &ActivationStarted,
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
        let proof = app_protocol::seal_pin(&pin_key, &pin, &binding, random)
            .map_err(|e| AppError::Protocol(e.to_string()))?;
        let signature: Signature = key.sign(&binding);
        let body = json!({
            "activation_id": started.activation_id,
            "activation_code": activation_code,
            "sms_code": sms_code,
            "device_public_key": b64(&public),
            "device_name": device_name,
            "possession_signature": b64(&signature.to_bytes()),
            "pin_proof": b64(&proof),
            "user_id": user_id,
            "new_user_id": new_user_id,
        });
        let r = self
            .http
            .post(format!("{}/app/v1/activation/complete", self.server))
            .json(&body)
            .send()
            .await;
        Self::parse(Self::read(r).await?)
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
        let key = state.signing_key().map_err(AppError::Protocol)?;
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let ts = now_ms();
        let nonce = b64(&random_bytes::<18>(random));
        let to_sign =
            app_protocol::request_signing_bytes(method.as_str(), path, ts, &nonce, device, &bytes);
        let sig: Signature = key.sign(&to_sign);
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.server))
            .header(HEADER_DEVICE, device.to_string())
            .header(HEADER_TIMESTAMP, ts.to_string())
            .header(HEADER_NONCE, nonce)
            .header(HEADER_SIGNATURE, b64(&sig.to_bytes()));
        if body.is_some() {
            req = req.header("content-type", "application/json").body(bytes);
        }
        Self::read(req.send().await).await
    }

    /// Who this app belongs to, and the person's devices.
    pub async fn me(&self, state: &AppState, random: &dyn Random) -> Result<Me, AppError> {
        Self::parse(
            self.signed(state, reqwest::Method::GET, "/app/v1/me", None, random)
                .await?,
        )
    }
}
