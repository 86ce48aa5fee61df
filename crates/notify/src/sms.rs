//! The SMS gateway contract (DESIGN §5): `POST {url}` with `Authorization: Bearer {token}`
//! and JSON `{"message_id", "to", "text"}`; any 2xx means accepted.

use std::time::Duration;

use serde_json::json;
use thiserror::Error;
use uuid::Uuid;

/// Why a message was not accepted, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SendError {
    /// 5xx, timeouts, connection failures: worth retrying.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// 4xx and other definite refusals: retrying the same channel will not help.
    #[error("refused: {0}")]
    Permanent(String),
}

#[derive(Clone)]
pub struct SmsGateway {
    url: url::Url,
    token: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsGateway")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl SmsGateway {
    pub fn new(url: url::Url, token: String, timeout: Duration) -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the SMS gateway client: {e}"))?;
        Ok(Self { url, token, client })
    }

    pub async fn send(&self, message_id: Uuid, to: &str, text: &str) -> Result<(), SendError> {
        let body = json!({ "message_id": message_id, "to": to, "text": text });
        let response = self
            .client
            .post(self.url.clone())
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    SendError::Temporary("the gateway did not answer in time".into())
                } else {
                    SendError::Temporary(format!("cannot reach the gateway: {}", without_url(&e)))
                }
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let detail: String = response
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let reason = format!("gateway answered {status}: {}", detail.trim());
        if status.is_server_error() || status.as_u16() == 429 {
            Err(SendError::Temporary(reason))
        } else {
            Err(SendError::Permanent(reason))
        }
    }
}

/// reqwest's errors include the URL, which may carry credentials in its query.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<gateway>");
    }
    s
}
