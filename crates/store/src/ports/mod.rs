//! The storage ports. Each method is one atomic operation: state changes take the audit
//! event they cause and append it in the same transaction, so an unaudited change cannot
//! be committed and an audit entry cannot describe a change that was rolled back.
//!
//! One file per concern, mirroring the adapter's files in `sql/`.

mod activation;
mod audit;
mod auth_requests;
mod bulk;
mod channels;
mod chips;
mod code_displays;
mod devices;
mod effects;
mod grants;
mod identities;
mod meta;
mod oidc;
mod outbox;
mod pairings;
mod passwords;
mod push;
mod self_service;
mod service_providers;
mod signals;
mod signing_keys;
mod store;
mod sweep;

pub use activation::*;
pub use audit::*;
pub use auth_requests::*;
pub use bulk::*;
pub use channels::*;
pub use chips::*;
pub use code_displays::*;
pub use devices::*;
pub use effects::*;
pub use grants::*;
pub use identities::*;
pub use meta::*;
pub use oidc::*;
pub use outbox::*;
pub use pairings::*;
pub use passwords::*;
pub use push::*;
pub use self_service::*;
pub use service_providers::*;
pub use signals::*;
pub use signing_keys::*;
pub use store::*;
pub use sweep::*;
