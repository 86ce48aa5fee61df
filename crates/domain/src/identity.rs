//! Identities: one person, their state machine and what enrolment requires.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::Date;
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::contact::{EmailAddress, PhoneNumber};
use crate::level::Level;
use crate::national_id::NationalId;
use crate::text::first_hidden;
use crate::user_id::UserId;

/// Where an identity is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityState {
    /// Enrolled, no authenticator activated yet.
    Pending,
    /// At least one authenticator was activated; the identity can be used.
    Active,
    /// Blocked by the person or the operator; nothing authenticates until reopened.
    Suspended,
    /// Closed for good.
    Revoked,
}

/// A state change the rules do not allow.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransitionError {
    #[error("the identity is already suspended")]
    AlreadySuspended,
    #[error("the identity is not suspended, so it cannot be reopened")]
    NotSuspended,
    #[error("the identity is revoked; a revoked identity cannot change")]
    Revoked,
    #[error("the identity is suspended; it must be reopened first")]
    Suspended,
}

impl IdentityState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
        }
    }

    pub fn suspend(self) -> Result<Self, TransitionError> {
        match self {
            Self::Pending | Self::Active => Ok(Self::Suspended),
            Self::Suspended => Err(TransitionError::AlreadySuspended),
            Self::Revoked => Err(TransitionError::Revoked),
        }
    }

    /// A reopened identity returns to `active` if it ever had an activated authenticator,
    /// else to `pending`.
    pub fn reopen(self, ever_activated: bool) -> Result<Self, TransitionError> {
        match self {
            Self::Suspended if ever_activated => Ok(Self::Active),
            Self::Suspended => Ok(Self::Pending),
            Self::Revoked => Err(TransitionError::Revoked),
            Self::Pending | Self::Active => Err(TransitionError::NotSuspended),
        }
    }

    /// The first activated authenticator makes a pending identity active.
    pub fn activate(self) -> Result<Self, TransitionError> {
        match self {
            Self::Pending | Self::Active => Ok(Self::Active),
            Self::Suspended => Err(TransitionError::Suspended),
            Self::Revoked => Err(TransitionError::Revoked),
        }
    }

    /// Changes that the person makes (user ID, contact channels) need an identity that is
    /// not blocked.
    pub fn ensure_changeable(self) -> Result<(), TransitionError> {
        match self {
            Self::Pending | Self::Active => Ok(()),
            Self::Suspended => Err(TransitionError::Suspended),
            Self::Revoked => Err(TransitionError::Revoked),
        }
    }
}

/// A stored identity state this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("stored data is inconsistent: unknown identity state '{0}'")]
pub struct UnknownIdentityState(pub String);

impl FromStr for IdentityState {
    type Err = UnknownIdentityState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            "revoked" => Ok(Self::Revoked),
            other => Err(UnknownIdentityState(other.to_owned())),
        }
    }
}

impl fmt::Display for IdentityState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person's name as registered: NFC, trimmed, 1–200 characters, no hidden characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than 200 characters")]
    TooLong,
    #[error("character {position} of the name is {what}")]
    Hidden { position: usize, what: &'static str },
    #[error("the name has no letters")]
    NoLetters,
}

impl PersonName {
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let s: String = input.trim().nfc().collect();
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.chars().count() > 200 {
            return Err(NameError::TooLong);
        }
        if let Some((position, _, h)) = first_hidden(&s) {
            return Err(NameError::Hidden {
                position,
                what: h.describe(),
            });
        }
        if !s.chars().any(char::is_alphabetic) {
            return Err(NameError::NoLetters);
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({:?})", self.0)
    }
}

impl TryFrom<String> for PersonName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PersonName> for String {
    fn from(n: PersonName) -> Self {
        n.0
    }
}

/// One person as sesam knows them. The national ID number is not here: it lives
/// encrypted in storage and only its masked form travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: Uuid,
    pub user_id: Option<UserId>,
    pub name: PersonName,
    pub birthdate: Date,
    pub national_id_masked: String,
    pub ial: Level,
    pub state: IdentityState,
    pub phone: PhoneNumber,
    pub email: Option<EmailAddress>,
    /// The language of the person's messages.
    pub language: crate::notification::Language,
    /// Opted in to a message on every use of the identity.
    pub notify_every_use: bool,
    pub activated_at: Option<Timestamp>,
    /// When the phone number was last changed (not set by the first registration).
    pub phone_changed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Why an enrolment's fields do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnrolmentError {
    #[error("the birth date does not match the one in the national ID number")]
    BirthdateMismatch,
    #[error("user ID: {0}")]
    UserId(#[from] crate::user_id::UserIdError),
}

/// A validated request to enrol a person, as the registration unit states it.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub national_id: NationalId,
    pub name: PersonName,
    pub birthdate: Date,
    pub phone: PhoneNumber,
    pub email: Option<EmailAddress>,
    pub user_id: Option<UserId>,
    pub ial: Level,
    pub language: crate::notification::Language,
}

impl Enrolment {
    /// Checks every rule that ties the fields together: the birth date must be the one
    /// the national ID number encodes, and the user ID must not expose the number or phone.
    pub fn new(
        national_id: NationalId,
        name: PersonName,
        birthdate: Date,
        phone: PhoneNumber,
        email: Option<EmailAddress>,
        user_id: Option<UserId>,
        ial: Level,
    ) -> Result<Self, EnrolmentError> {
        if national_id.birth_date() != Some(birthdate) {
            return Err(EnrolmentError::BirthdateMismatch);
        }
        if let Some(u) = &user_id {
            u.check_personal(&national_id, Some(&phone))?;
        }
        Ok(Self {
            national_id,
            name,
            birthdate,
            phone,
            email,
            user_id,
            ial,
            language: crate::notification::Language::Da,
        })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use IdentityState::*;

    #[test]
    fn state_machine() {
        assert_eq!(Pending.suspend(), Ok(Suspended));
        assert_eq!(Active.suspend(), Ok(Suspended));
        assert_eq!(Suspended.suspend(), Err(TransitionError::AlreadySuspended));
        assert_eq!(Revoked.suspend(), Err(TransitionError::Revoked));
        assert_eq!(Suspended.reopen(true), Ok(Active));
        assert_eq!(Suspended.reopen(false), Ok(Pending));
        assert_eq!(Active.reopen(true), Err(TransitionError::NotSuspended));
        assert_eq!(Revoked.reopen(true), Err(TransitionError::Revoked));
        assert_eq!(Pending.activate(), Ok(Active));
        assert_eq!(Suspended.activate(), Err(TransitionError::Suspended));
        for s in [Pending, Active, Suspended, Revoked] {
            assert_eq!(s.as_str().parse::<IdentityState>().unwrap(), s);
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            PersonName::parse("  Anna Hansen ").unwrap().as_str(),
            "Anna Hansen"
        );
        assert_eq!(PersonName::parse("   "), Err(NameError::Empty));
        assert_eq!(PersonName::parse("1234"), Err(NameError::NoLetters));
        assert!(matches!(
            PersonName::parse("Anna\u{202E}Hansen"),
            Err(NameError::Hidden { position: 5, .. })
        ));
        assert!(matches!(
            PersonName::parse("Anna\nHansen"),
            Err(NameError::Hidden { .. })
        ));
        assert_eq!(PersonName::parse(&"a".repeat(201)), Err(NameError::TooLong));
    }

    #[test]
    fn enrolment_ties_fields_together() {
        let nid = NationalId::parse("0101901234").unwrap();
        let name = PersonName::parse("Anna Hansen").unwrap();
        let phone = PhoneNumber::parse("+4512345678").unwrap();
        let ok = Enrolment::new(
            nid.clone(),
            name.clone(),
            date!(1990 - 01 - 01),
            phone.clone(),
            None,
            None,
            Level::Substantial,
        );
        assert!(ok.is_ok());
        let wrong_date = Enrolment::new(
            nid.clone(),
            name.clone(),
            date!(1990 - 01 - 02),
            phone.clone(),
            None,
            None,
            Level::Substantial,
        );
        assert!(matches!(wrong_date, Err(EnrolmentError::BirthdateMismatch)));
        let exposing = Enrolment::new(
            nid,
            name,
            date!(1990 - 01 - 01),
            phone,
            None,
            Some(UserId::parse("anna12345678").unwrap()),
            Level::Substantial,
        );
        assert!(matches!(
            exposing,
            Err(EnrolmentError::UserId(
                crate::UserIdError::ContainsPhoneNumber
            ))
        ));
    }
}
