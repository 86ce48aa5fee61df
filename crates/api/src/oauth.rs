//! The JSON answers of the OpenID Connect and CIBA endpoints whose shape sesam fixes: the
//! token response (RFC 6749 §5.1 with the ID token, and sesam's approval receipt), the PAR
//! answer (RFC 9126 §2.2) and the start of a backchannel authentication (OpenID CIBA
//! §7.3). Their refusals are [`crate::ErrorBody`] (RFC 6749 §5.2).

use serde::{Deserialize, Serialize};

/// A successful token response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    pub expires_in: i64,
    pub id_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
    /// For logins approved in the app: the signed approval receipt (evidence for the SP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_receipt: Option<String>,
}

/// The answer to a pushed authorization request: the reference `/authorize` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedAuthorization {
    pub request_uri: String,
    pub expires_in: i64,
}

/// The answer to a backchannel authentication request: the handle the SP polls `/token`
/// with, and how often it may.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CibaStarted {
    pub auth_req_id: String,
    pub expires_in: i64,
    pub interval: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Optional fields are left out when absent, as the token endpoint always answered.
    #[test]
    fn absent_optional_fields_are_left_out() {
        let t = TokenResponse {
            access_token: "a".into(),
            token_type: "Bearer".into(),
            expires_in: 300,
            id_token: "i".into(),
            refresh_token: None,
            scope: "openid".into(),
            approval_receipt: None,
        };
        let v = serde_json::to_value(&t).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({ "access_token": "a", "token_type": "Bearer", "expires_in": 300, "id_token": "i", "scope": "openid" })
        );
        assert_eq!(serde_json::from_value::<TokenResponse>(v).ok(), Some(t));
    }
}
