//! The app API's contract: every request body and answer of `/app/v1/*` (and of the two
//! app-API endpoints outside it, chip registration finish and code-display activation with
//! a letter), the error body, and the OpenAPI 3.1 document generated from them; and the
//! answers of the OAuth/CIBA endpoints whose shape sesam fixes (`oauth`).
//!
//! The server, the reference app and the load generator all use these types, so the wire
//! format is written once. Field names are the wire names; an absent value travels as
//! `null` (no field is left out), as the server has always sent it.
#![forbid(unsafe_code)]

pub mod oauth;
pub mod openapi;
mod requests;
mod responses;

pub use openapi::{Operation, document};
pub use requests::*;
pub use responses::*;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every refusal, of the app API as of the OAuth endpoints: a 4xx/5xx status with this
/// body (and `Retry-After` with 429).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code for programs (`unauthorized`, `invalid_request`, `pin_wrong`, …).
    pub error: String,
    /// A sentence for people.
    pub error_description: String,
}
