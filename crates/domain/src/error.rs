//! The domain's error: every way a rule can refuse, named after what went wrong.

use thiserror::Error;

use crate::contact::ContactError;
use crate::identity::{NameError, TransitionError};
use crate::level::UnknownLevel;
use crate::national_id::NationalIdError;
use crate::secrets::SecretError;
use crate::service_provider::ServiceProviderError;
use crate::user_id::UserIdError;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("national ID number: {0}")]
    NationalId(#[from] NationalIdError),
    #[error("user ID: {0}")]
    UserId(#[from] UserIdError),
    #[error("{0}")]
    Contact(#[from] ContactError),
    #[error("name: {0}")]
    Name(#[from] NameError),
    #[error("{0}")]
    Level(#[from] UnknownLevel),
    #[error("{0}")]
    Transition(#[from] TransitionError),
    #[error("{0}")]
    ServiceProvider(#[from] ServiceProviderError),
    #[error("{0}")]
    Secret(#[from] SecretError),
    #[error("{0}")]
    Activation(#[from] crate::activation::ActivationError),
    #[error("{0}")]
    Device(#[from] crate::device::DeviceError),
    #[error("{0}")]
    Protocol(#[from] crate::app_protocol::ProtocolError),
    #[error("{0}")]
    Pin(#[from] crate::device::PinError),
    #[error("{0}")]
    Approval(#[from] crate::auth_request::ApprovalError),
    #[error("{0}")]
    Pairing(#[from] crate::pairing::PairingError),
    #[error("{0}")]
    CodeDisplay(#[from] crate::code_display::CodeDisplayError),
    #[error("{0}")]
    Chip(#[from] crate::chip::ChipError),
    #[error("{0}")]
    Channel(#[from] crate::channels::ChannelError),
    #[error("{0}")]
    PushSubscription(#[from] crate::web_push::SubscriptionError),
    #[error("password: {0}")]
    Password(#[from] crate::password::PasswordError),
    #[error("the birth date does not match the one in the national ID number")]
    BirthdateMismatch,
    #[error("{0}")]
    ActivationCode(#[from] crate::activation::MalformedActivationCode),
}

/// Enrolment keeps its own error type (so `identity` needs nothing from here); callers
/// see the same variants as before it had one.
impl From<crate::identity::EnrolmentError> for DomainError {
    fn from(e: crate::identity::EnrolmentError) -> Self {
        match e {
            crate::identity::EnrolmentError::BirthdateMismatch => Self::BirthdateMismatch,
            crate::identity::EnrolmentError::UserId(e) => Self::UserId(e),
        }
    }
}
