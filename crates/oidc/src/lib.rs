//! The OpenID Connect protocol engine. Each endpoint is a short pipeline of named checks
//! over these parts; nothing here knows HTTP or SQL. Errors are typed and carry the OAuth
//! error code they map to, once, at the edge.
#![forbid(unsafe_code)]

pub mod access_token;
pub mod authorize;
pub mod client_auth;
pub mod discovery;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod id_token;
pub mod params;
pub mod pkce;
pub mod private_key_jwt;
pub mod receipt;
pub mod response;
pub mod token;

pub use error::OAuthError;
pub use params::Params;
