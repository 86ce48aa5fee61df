//! Application services: each use case validates input through the domain, then makes one
//! atomic store call that carries its audit entry. Used by the CLI and the HTTP layer alike.

pub mod account;
pub mod activation;
pub mod app_requests;
pub mod approvals;
pub mod audit;
pub mod authorization;
pub mod browser;
pub mod bulk_activation;
pub mod channels;
pub mod chips;
pub mod ciba;
pub mod code_displays;
pub mod demo_client;
pub mod device_requests;
pub mod devices;
pub mod identities;
pub mod import;
pub mod login;
pub mod notifications;
mod own_clients;
pub mod passwords;
pub mod push;
pub mod read_cache;
pub mod reminders;
pub mod self_service;
pub mod service_providers;
pub mod signals;
pub mod signing_keys;
pub mod tokens;
pub mod upkeep;

use sesam_domain::text::first_hidden;

use crate::error::AppError;

/// Who is acting, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Operator(String),
    /// The person themselves, acting on their own identity (in self-service).
    Person(uuid::Uuid),
    /// The person themself, through their app (a device-signed request with the PIN).
    Device(uuid::Uuid),
}

impl Actor {
    /// An operator's name: 1–64 visible characters.
    pub fn operator(name: &str) -> Result<Self, AppError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(AppError::BadInput(
                "the operator name must have 1 to 64 characters".into(),
            ));
        }
        if let Some((pos, _, h)) = first_hidden(name) {
            return Err(AppError::BadInput(format!(
                "character {pos} of the operator name is {}",
                h.describe()
            )));
        }
        Ok(Self::Operator(name.to_owned()))
    }

    pub fn audit_name(&self) -> String {
        match self {
            Self::Operator(n) => format!("operator:{n}"),
            Self::Person(id) => format!("person:{id}"),
            Self::Device(id) => format!("device:{}", id.hyphenated()),
        }
    }
}

/// A reason an operator gives: required where the action needs one.
pub fn reason(text: &str) -> Result<String, AppError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AppError::BadInput(
            "a reason is required (--reason \"...\")".into(),
        ));
    }
    if t.chars().count() > 500 {
        return Err(AppError::BadInput(
            "the reason may have at most 500 characters".into(),
        ));
    }
    if let Some((pos, _, h)) = first_hidden(t) {
        return Err(AppError::BadInput(format!(
            "character {pos} of the reason is {}",
            h.describe()
        )));
    }
    Ok(t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_and_reason_validation() {
        assert_eq!(
            Actor::operator(" alice ").unwrap().audit_name(),
            "operator:alice"
        );
        assert!(Actor::operator("").is_err());
        assert!(Actor::operator("a\u{202E}b").is_err());
        assert_eq!(reason(" lost phone ").unwrap(), "lost phone");
        assert!(reason("  ").is_err());
        assert!(reason("x\ny").is_err());
        assert!(reason(&"x".repeat(501)).is_err());
    }
}
