//! sesam's domain: the rules and state machines of a national digital identity.
//!
//! Nothing here knows about HTTP, SQL or an async runtime. Time and randomness come in
//! through [`Clock`] and [`Random`], so every rule can be tested with fixed values.
#![forbid(unsafe_code)]

pub mod action;
pub mod activation;
pub mod app_protocol;
pub mod audit;
pub mod auth_request;
pub mod authorization;
pub mod authorization_details;
pub mod channels;
pub mod chip;
pub mod clock;
pub mod code_display;
pub mod contact;
pub mod device;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod level;
pub mod locale;
pub mod lockout;
pub mod national_id;
pub mod notification;
pub mod pairing;
pub mod password;
pub mod password_guard;
pub mod pskc;
pub mod random;
pub mod rate_limit;
pub mod secrets;
pub mod self_service;
pub mod service_provider;
pub mod signing_keys;
pub mod text;
pub mod totp;
pub mod transaction_text;
pub mod user_id;
pub mod user_id_reminder;
pub mod web_push;

pub use activation::{ActivationCode, ActivationGrant, ActivationPurpose};
pub use audit::{AuditChainError, AuditDraft, AuditEntry, AuditKey, ChainHead, UnchainedEntry};
pub use clock::{Clock, FixedClock, SystemClock, Timestamp};
pub use contact::{EmailAddress, PhoneNumber};
pub use error::DomainError;
pub use identity::{Identity, IdentityState, PersonName, TransitionError};
pub use level::Level;
pub use national_id::{NationalId, NationalIdError};
pub use random::{OsRandom, Random};
pub use secrets::{MasterKey, SecretKeys};
pub use service_provider::{ClientId, ClientSecret, DisplayName, RedirectUri};
pub use user_id::{UserId, UserIdError, UserIdKey};
