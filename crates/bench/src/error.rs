//! What can stop the benchmark, in words that say what to do.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BenchError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Server(sesam_core::error::AppError),
    #[error("the server at {url} cannot be used: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the server stopped answering: {0}")]
    ServerGone(String),
}
