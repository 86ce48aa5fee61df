//! The application layer's error: a domain refusal, a storage failure or a configuration
//! problem. Mapped once to an exit status (CLI) or an HTTP status (server).

use sesam_domain::DomainError;
use sesam_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AppError {
    #[error("{0}")]
    Invalid(#[from] DomainError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("no identity has the user ID '{0}'")]
    UnknownUserId(String),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    MasterKey(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    BadInput(String),
    #[error("the audit log is broken: {0}")]
    AuditBroken(#[from] sesam_domain::AuditChainError),
    /// An OAuth / OpenID Connect refusal, answered with its own error code.
    #[error("{0}")]
    Protocol(#[from] sesam_oidc::OAuthError),
}

impl AppError {
    /// Whether the caller (not the system) is at fault: HTTP 4xx rather than 5xx.
    pub fn is_client_error(&self) -> bool {
        match self {
            Self::Invalid(_) | Self::UnknownUserId(_) | Self::BadInput(_) => true,
            Self::Protocol(e) => !matches!(
                e,
                sesam_oidc::OAuthError::ServerError(_)
                    | sesam_oidc::OAuthError::TemporarilyUnavailable
            ),
            Self::Store(e) => matches!(
                e,
                StoreError::NationalIdTaken
                    | StoreError::UserIdTaken
                    | StoreError::UserIdReserved
                    | StoreError::ClientIdTaken
                    | StoreError::NotFound(_)
                    | StoreError::Conflict(_)
            ),
            _ => false,
        }
    }
}
