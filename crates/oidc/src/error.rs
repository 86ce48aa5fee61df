//! OAuth 2.0 / OpenID Connect errors, named after what went wrong, each with its wire code.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OAuthError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    InvalidGrant(String),
    #[error("the client may not use this grant or parameter: {0}")]
    UnauthorizedClient(String),
    #[error("only response_type=code is supported")]
    UnsupportedResponseType,
    #[error("{0}")]
    ServerError(String),
}

impl OAuthError {
    /// The `error` value of the response.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError(_) => "server_error",
        }
    }
}
