//! Delivering what the outbox holds. Messages are written by the flows that cause them,
//! in the same transaction; the [`Dispatcher`] sends them afterwards, so a crash between
//! the two loses nothing (a message may be sent twice, always with the same message id).
#![forbid(unsafe_code)]

mod dev_outbox;
mod dispatcher;
mod email;
mod sms;
mod web_push;

pub use dev_outbox::{DevMessage, DevOutbox};
pub use dispatcher::{Channels, DEFAULT_LEASE_SECONDS, DEFAULT_POLL, Dispatcher};
pub use email::{SmtpMailer, SmtpSecurity};
pub use sms::{SendError, SmsGateway};
pub use web_push::WebPush;
