//! The OpenID Connect protocol engine. Each endpoint will be a short pipeline of named
//! checks over these parts; nothing here knows HTTP or SQL. Errors are typed and carry the
//! OAuth error code they map to, once, at the edge.
#![forbid(unsafe_code)]

pub mod client_auth;
pub mod error;
pub mod id_token;
pub mod pkce;

pub use error::OAuthError;
