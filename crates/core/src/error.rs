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
    /// A file or socket could not be used; `what` says which and for what.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A value could not be written as JSON (kept with its cause; never the person's fault).
    #[error("cannot encode {what}: {source}")]
    Encoding {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A background worker ended before answering (shutdown or a panic in it).
    #[error("{what} stopped: {source}")]
    WorkerStopped {
        what: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    /// The bounded password-hashing pool is shut down.
    #[error("the password pool is closed")]
    PasswordPoolClosed,
    /// A bulk import's batch failed to commit. The lines before it are in, and so is
    /// any later batch that was being written at the same time and committed.
    #[error(
        "{source}; lines {first_line} to {last_line} were not imported: run the import again to go on (it skips everyone already enrolled)"
    )]
    ImportInterrupted {
        first_line: u64,
        last_line: u64,
        #[source]
        source: StoreError,
    },
    /// Letters of people already enrolled could not be written out.
    #[error(
        "cannot write the letters file {path}: {source}; the people of this batch are enrolled, their letters must be reissued"
    )]
    LettersNotWritten {
        path: String,
        #[source]
        source: std::io::Error,
    },
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
