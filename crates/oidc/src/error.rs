//! OAuth 2.0 / OpenID Connect errors, named after what went wrong, each with its wire code.
//! The HTTP layer maps them to statuses once; nothing else decides an error code.

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
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error("the person has no session here; call again without prompt=none")]
    LoginRequired,
    #[error("{0}")]
    UnmetAuthenticationRequirements(String),
    #[error("{0}")]
    InvalidRequestUri(String),
    #[error("the request object (request=...) is not supported; use PAR")]
    RequestNotSupported,
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    InvalidToken(String),
    #[error("{0}")]
    ServerError(String),
    #[error("the service cannot answer right now; try again shortly")]
    TemporarilyUnavailable,
    #[error("the person has not answered yet")]
    AuthorizationPending,
    #[error("polling too fast; wait the interval between polls")]
    SlowDown,
    #[error("{0}")]
    ExpiredToken(String),
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
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::LoginRequired => "login_required",
            Self::UnmetAuthenticationRequirements(_) => "unmet_authentication_requirements",
            Self::InvalidRequestUri(_) => "invalid_request_uri",
            Self::RequestNotSupported => "request_not_supported",
            Self::AccessDenied(_) => "access_denied",
            Self::InvalidToken(_) => "invalid_token",
            Self::ServerError(_) => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken(_) => "expired_token",
        }
    }

    pub fn invalid_request(why: impl Into<String>) -> Self {
        Self::InvalidRequest(why.into())
    }
}
