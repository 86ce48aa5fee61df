//! Device-signed requests of the app API: who sent one, checked before anything else.

use sesam_domain::Timestamp;
use sesam_domain::app_protocol::{self, MAX_CLOCK_SKEW_MS, SignatureHeaderError, SignatureHeaders};
use sesam_domain::device::{Device, DeviceState};
use thiserror::Error;

use crate::context::Sesam;
use crate::error::AppError;

/// The four signature headers of a device-signed request, as sent.
#[derive(Debug, Clone, Copy)]
pub struct SentSignature<'a> {
    pub device: &'a str,
    pub timestamp: &'a str,
    pub nonce: &'a str,
    pub signature: &'a str,
}

/// A request as it arrived: its signature headers (shape and clock already checked by
/// [`Sesam::signature_headers`]), what was signed besides them, and the exact body bytes.
#[derive(Debug, Clone)]
pub struct DeviceRequest<'a> {
    pub method: &'a str,
    /// The path and query, exactly as sent.
    pub path_and_query: &'a str,
    pub headers: SignatureHeaders,
    pub body: &'a [u8],
}

/// Why a device-signed request was refused. Every variant but `Failed` is the sender's
/// fault (HTTP 401); the texts are what the sender reads.
#[derive(Debug, Error)]
pub enum DeviceRequestError {
    #[error("{0}")]
    Headers(#[from] SignatureHeaderError),
    #[error("unknown or revoked device")]
    UnknownDevice,
    #[error("the request signature does not verify")]
    BadSignature,
    #[error("this request was already received (replay)")]
    Replay,
    /// The check could not be made (the store failed).
    #[error(transparent)]
    Failed(#[from] AppError),
}

/// The JSON body of a device-signed request as the type the call needs (read only after
/// the signature over its bytes was checked).
pub fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(bytes)
        .map_err(|e| AppError::BadInput(format!("the request body is not the expected JSON: {e}")))
}

impl Sesam {
    /// The signature headers' shape and the clock skew: checked before the body is read,
    /// so a request that cannot be device-signed is refused without reading it.
    pub fn signature_headers(
        &self,
        sent: SentSignature<'_>,
    ) -> Result<SignatureHeaders, DeviceRequestError> {
        Ok(SignatureHeaders::parse(
            sent.device,
            sent.timestamp,
            sent.nonce,
            sent.signature,
            self.clock.now().millis(),
        )?)
    }

    /// The active device that signed `request`: the device (active), the ECDSA signature
    /// over the signing bytes, and the nonce, which is remembered for twice the allowed
    /// skew so a replay inside the window is refused.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn authenticate_device_request(
        &self,
        request: DeviceRequest<'_>,
    ) -> Result<Device, DeviceRequestError> {
        let now = self.clock.now();
        let SignatureHeaders {
            device_id,
            timestamp_ms,
            nonce,
            signature,
        } = request.headers;
        let device = self
            .store
            .device(device_id)
            .await
            .map_err(AppError::from)?
            .filter(|d| d.state == DeviceState::Active)
            .ok_or(DeviceRequestError::UnknownDevice)?;
        let signed = app_protocol::request_signing_bytes(
            request.method,
            request.path_and_query,
            timestamp_ms,
            &nonce,
            device_id,
            request.body,
        );
        device
            .public_key
            .verify(&signed, &signature)
            .map_err(|_| DeviceRequestError::BadSignature)?;
        let remember_until: Timestamp = now.plus_seconds(2 * MAX_CLOCK_SKEW_MS / 1000);
        let fresh = self
            .store
            .register_nonce(device_id, &nonce, remember_until)
            .await
            .map_err(AppError::from)?;
        if !fresh {
            return Err(DeviceRequestError::Replay);
        }
        Ok(device)
    }
}
