//! The sesam authenticator app as a library: the device key, its state file, activation,
//! and device-signed calls to the server's app API. The `sesam-app` command is a thin
//! shell around it; tests and the benchmark drive it directly.
#![forbid(unsafe_code)]

mod client;
mod state;

pub use client::{Activated, AppClient, AppError, Pairing, PendingRequest};
pub use sesam_api::{ActivationStarted, Me};
pub use state::{AppState, StateError};
