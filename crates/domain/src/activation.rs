//! Activation grants: the right, proven on two channels, to activate an authenticator.
//!
//! Enrolment issues a grant with an activation code (channel 1: the paper letter or an
//! e-mail). The code is shown once and stored only as a keyed hash.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::random::{Random, uniform_below};

/// Unambiguous alphabet: no 0/O, 1/I; 32 symbols, so each character carries 5 bits.
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// 12 characters = 60 bits.
pub const CODE_LEN: usize = 12;
/// How long an activation code is valid (MitID: 48 hours).
pub const CODE_VALIDITY_SECONDS: i64 = 48 * 3600;
/// Wrong entries that void a grant.
pub const MAX_FAILED_ATTEMPTS: i32 = 3;
/// How long the temporary PIN sent by SMS is valid (MitID: 30 minutes).
pub const SMS_PIN_VALIDITY_SECONDS: i64 = 30 * 60;
/// SMS messages one grant may cause, so a leaked letter cannot flood a phone.
pub const MAX_SMS_PER_GRANT: i32 = 3;
/// A phone number changed less than this long ago may not receive codes.
pub const PHONE_CHANGE_QUARANTINE_SECONDS: i64 = 5 * 24 * 3600;
/// Digits of the temporary PIN.
pub const SMS_PIN_DIGITS: usize = 8;
/// User IDs that may be refused (taken, reserved, against the rules) per SMS code. With
/// both codes in hand, "taken" answers which user IDs exist; this caps that at
/// `MAX_USER_ID_CHOICES` × `MAX_SMS_PER_GRANT` guesses per letter, while a person whose
/// first choices clash just picks another (or asks for a new SMS code).
pub const MAX_USER_ID_CHOICES: i32 = 5;

/// Why typed text is not an activation code at all (before any grant is looked at).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("the activation code is not valid: {0}")]
pub struct MalformedActivationCode(pub &'static str);

/// An activation code, normalised to upper case without separators.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationCode(String);

impl ActivationCode {
    pub fn generate(random: &dyn Random) -> Self {
        let code = (0..CODE_LEN)
            .map(|_| char::from(ALPHABET[uniform_below(random, 32)]))
            .collect();
        Self(code)
    }

    /// Accepts what a person types: any case, with spaces or dashes between groups.
    pub fn parse(input: &str) -> Result<Self, MalformedActivationCode> {
        let code: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if code.chars().count() != CODE_LEN {
            return Err(MalformedActivationCode(
                "it has 12 characters, e.g. ABCD-EFGH-JKLM",
            ));
        }
        if !code.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(MalformedActivationCode(
                "it uses only the digits 2-9 and the letters A-Z without I and O",
            ));
        }
        Ok(Self(code))
    }

    /// The normalised form, which is what gets hashed.
    pub fn normalized(&self) -> &str {
        &self.0
    }

    /// `ABCD-EFGH-JKLM`: the form printed on the letter.
    pub fn grouped(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("-")
    }
}

impl fmt::Debug for ActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActivationCode(<redacted>)")
    }
}

/// What a grant may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationPurpose {
    /// The first app of a newly enrolled person.
    FirstActivation,
    /// A fresh two-channel grant for a person who lost every authenticator or reopens.
    Recovery,
}

impl ActivationPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstActivation => "first_activation",
            Self::Recovery => "recovery",
        }
    }
}

/// A stored purpose this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("stored data is inconsistent: unknown activation purpose '{0}'")]
pub struct UnknownPurpose(pub String);

impl FromStr for ActivationPurpose {
    type Err = UnknownPurpose;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "first_activation" => Ok(Self::FirstActivation),
            "recovery" => Ok(Self::Recovery),
            other => Err(UnknownPurpose(other.to_owned())),
        }
    }
}

/// Where a grant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    /// Issued; the activation code has not been used yet.
    Issued,
    /// The activation code was accepted and a temporary PIN sent by SMS.
    CodeAccepted,
    Consumed,
    Voided,
}

impl GrantState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::CodeAccepted => "code_accepted",
            Self::Consumed => "consumed",
            Self::Voided => "voided",
        }
    }
}

/// A stored grant state this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("stored data is inconsistent: unknown grant state '{0}'")]
pub struct UnknownGrantState(pub String);

impl FromStr for GrantState {
    type Err = UnknownGrantState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "issued" => Ok(Self::Issued),
            "code_accepted" => Ok(Self::CodeAccepted),
            "consumed" => Ok(Self::Consumed),
            "voided" => Ok(Self::Voided),
            other => Err(UnknownGrantState(other.to_owned())),
        }
    }
}

/// An activation grant as stored: the code only as its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationGrant {
    pub id: Uuid,
    pub identity_id: Uuid,
    pub purpose: ActivationPurpose,
    pub code_hash: [u8; 32],
    pub state: GrantState,
    pub failed_attempts: i32,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The temporary PIN (keyed hash) and its expiry, once the code was accepted.
    pub sms_pin_hash: Option<[u8; 32]>,
    pub sms_pin_expires_at: Option<Timestamp>,
    pub sms_sent_count: i32,
    /// User IDs refused since the current SMS code was sent.
    pub user_id_refusals: i32,
}

/// Why an activation step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivationError {
    #[error("the activation code is wrong or no longer valid")]
    CodeNotValid,
    #[error("the activation code has expired (it is valid for 48 hours); ask for a new one")]
    CodeExpired,
    #[error("this activation was already completed or cancelled; ask for a new activation code")]
    GrantClosed,
    #[error("the SMS code is wrong; {remaining} attempts left")]
    WrongSmsCode { remaining: i32 },
    #[error(
        "the SMS code was entered wrongly 3 times; this activation is cancelled, ask for a new activation code"
    )]
    Voided,
    #[error(
        "the SMS code has expired (it is valid for 30 minutes); start the activation again to get a new one"
    )]
    SmsCodeExpired,
    #[error("the activation code was accepted but no SMS code was requested yet")]
    NoSmsCode,
    #[error("too many SMS codes were sent for this activation; ask for a new activation code")]
    TooManySms,
    #[error("the SMS code must be 8 digits")]
    SmsCodeFormat,
    #[error("this identity is blocked; it must be reopened before anything can be activated")]
    IdentityBlocked,
    #[error("the phone number was changed less than 5 days ago; codes cannot be sent to it yet")]
    PhoneRecentlyChanged,
    #[error("there are already 3 active apps; remove one before activating another")]
    TooManyApps,
    #[error("choose a user ID to finish the activation (--new-user-id)")]
    UserIdRequired,
    #[error("you already have a user ID; give it with --user-id, or change it after activation")]
    UserIdAlreadyChosen,
    #[error("the user ID does not belong to this activation code")]
    UserIdMismatch,
    #[error("the app's proof of its key does not verify")]
    BadPossessionProof,
    #[error(
        "5 user IDs were refused with this SMS code; start the activation again to get a new SMS code, then choose another user ID"
    )]
    TooManyUserIdChoices,
}

impl ActivationError {
    /// A stable machine-readable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::CodeNotValid => "activation_code_invalid",
            Self::CodeExpired => "activation_code_expired",
            Self::GrantClosed => "activation_closed",
            Self::WrongSmsCode { .. } => "sms_code_wrong",
            Self::Voided => "activation_voided",
            Self::SmsCodeExpired => "sms_code_expired",
            Self::NoSmsCode => "sms_code_not_requested",
            Self::TooManySms => "too_many_sms",
            Self::SmsCodeFormat => "sms_code_malformed",
            Self::IdentityBlocked => "identity_blocked",
            Self::PhoneRecentlyChanged => "phone_recently_changed",
            Self::TooManyApps => "too_many_apps",
            Self::UserIdRequired => "user_id_required",
            Self::UserIdAlreadyChosen => "user_id_already_chosen",
            Self::UserIdMismatch => "user_id_mismatch",
            Self::BadPossessionProof => "bad_possession_proof",
            Self::TooManyUserIdChoices => "user_id_choices_used_up",
        }
    }
}

/// What accepting the activation code led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsStep {
    /// Send this new temporary PIN.
    Send,
    /// A valid temporary PIN was already sent; do not send another.
    AlreadySent,
}

/// An 8-digit temporary PIN sent by SMS (channel 2).
#[derive(Clone, PartialEq, Eq)]
pub struct TemporaryPin(String);

impl TemporaryPin {
    pub fn generate(random: &dyn Random) -> Self {
        Self(
            (0..SMS_PIN_DIGITS)
                .map(|_| char::from(b'0' + uniform_below(random, 10) as u8))
                .collect(),
        )
    }

    pub fn parse(s: &str) -> Result<Self, ActivationError> {
        let s: String = s.chars().filter(|c| *c != ' ' && *c != '-').collect();
        if s.len() != SMS_PIN_DIGITS || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ActivationError::SmsCodeFormat);
        }
        Ok(Self(s))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TemporaryPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TemporaryPin(<redacted>)")
    }
}

impl ActivationGrant {
    pub fn issue(
        identity_id: Uuid,
        purpose: ActivationPurpose,
        code_hash: [u8; 32],
        now: Timestamp,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            identity_id,
            purpose,
            code_hash,
            state: GrantState::Issued,
            failed_attempts: 0,
            created_at: now,
            expires_at: now.plus_seconds(CODE_VALIDITY_SECONDS),
            sms_pin_hash: None,
            sms_pin_expires_at: None,
            sms_sent_count: 0,
            user_id_refusals: 0,
        }
    }

    /// Still open for activation: not used, not cancelled, not expired.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        matches!(self.state, GrantState::Issued | GrantState::CodeAccepted) && now < self.expires_at
    }

    fn ensure_open(&self, now: Timestamp) -> Result<(), ActivationError> {
        match self.state {
            GrantState::Consumed => Err(ActivationError::GrantClosed),
            GrantState::Voided => Err(ActivationError::Voided),
            _ if now >= self.expires_at => Err(ActivationError::CodeExpired),
            _ => Ok(()),
        }
    }

    /// The activation code was presented: a temporary PIN is to be sent, unless a valid
    /// one was sent already.
    pub fn accept_code(
        &mut self,
        now: Timestamp,
        new_pin_hash: [u8; 32],
    ) -> Result<SmsStep, ActivationError> {
        self.ensure_open(now)?;
        if self.sms_pin_expires_at.is_some_and(|t| now < t) {
            return Ok(SmsStep::AlreadySent);
        }
        if self.sms_sent_count >= MAX_SMS_PER_GRANT {
            return Err(ActivationError::TooManySms);
        }
        self.state = GrantState::CodeAccepted;
        self.sms_pin_hash = Some(new_pin_hash);
        self.sms_pin_expires_at = Some(now.plus_seconds(SMS_PIN_VALIDITY_SECONDS));
        self.sms_sent_count += 1;
        self.user_id_refusals = 0;
        Ok(SmsStep::Send)
    }

    /// Checks the temporary PIN; three wrong entries void the grant.
    pub fn check_sms_pin(
        &mut self,
        now: Timestamp,
        candidate_hash: &[u8; 32],
    ) -> Result<(), ActivationError> {
        self.ensure_open(now)?;
        let (Some(hash), Some(expiry)) = (self.sms_pin_hash, self.sms_pin_expires_at) else {
            return Err(ActivationError::NoSmsCode);
        };
        if now >= expiry {
            return Err(ActivationError::SmsCodeExpired);
        }
        if crate::secrets::ct_eq(&hash, candidate_hash) {
            return Ok(());
        }
        self.failed_attempts += 1;
        if self.failed_attempts >= MAX_FAILED_ATTEMPTS {
            self.state = GrantState::Voided;
            return Err(ActivationError::Voided);
        }
        Err(ActivationError::WrongSmsCode {
            remaining: MAX_FAILED_ATTEMPTS - self.failed_attempts,
        })
    }

    /// A chosen user ID was refused. The `MAX_USER_ID_CHOICES`-th refusal ends the SMS
    /// code (the grant stays: starting again sends a new one, at most
    /// `MAX_SMS_PER_GRANT` per letter) and answers `TooManyUserIdChoices`.
    pub fn refuse_user_id(&mut self, now: Timestamp) -> Result<(), ActivationError> {
        self.user_id_refusals += 1;
        if self.user_id_refusals >= MAX_USER_ID_CHOICES {
            self.sms_pin_expires_at = Some(now);
            return Err(ActivationError::TooManyUserIdChoices);
        }
        Ok(())
    }

    pub fn consume(&mut self) {
        self.state = GrantState::Consumed;
        self.sms_pin_hash = None;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::random::testing::SeqRandom;

    #[test]
    fn generated_codes_parse_back() {
        let r = SeqRandom::new(7);
        for _ in 0..200 {
            let c = ActivationCode::generate(&r);
            assert_eq!(c.normalized().len(), CODE_LEN);
            assert_eq!(ActivationCode::parse(&c.grouped()).unwrap(), c);
            assert_eq!(
                ActivationCode::parse(&c.grouped().to_lowercase()).unwrap(),
                c
            );
        }
    }

    #[test]
    fn refuses_ambiguous_and_short_codes() {
        assert!(ActivationCode::parse("ABCD-EFGH-JKL").is_err());
        assert!(ActivationCode::parse("ABCD-EFGH-JKL0").is_err());
        assert!(ActivationCode::parse("ABCD-EFGH-JKLI").is_err());
        assert!(ActivationCode::parse("abcd efgh jklm").is_ok());
        assert_eq!(
            format!("{:?}", ActivationCode::parse("ABCDEFGHJKLM").unwrap()),
            "ActivationCode(<redacted>)"
        );
    }

    #[test]
    fn refused_user_ids_end_the_sms_code_not_the_letter() {
        let now = Timestamp::from_millis(1_000_000);
        let mut g = ActivationGrant::issue(
            Uuid::nil(),
            ActivationPurpose::FirstActivation,
            [0; 32],
            now,
        );
        let mut total = 0;
        for round in 0..MAX_SMS_PER_GRANT {
            assert_eq!(g.accept_code(now, [1; 32]), Ok(SmsStep::Send), "{round}");
            for _ in 1..MAX_USER_ID_CHOICES {
                assert_eq!(g.refuse_user_id(now), Ok(()));
                assert_eq!(g.check_sms_pin(now, &[1; 32]), Ok(()));
                total += 1;
            }
            assert_eq!(
                g.refuse_user_id(now),
                Err(ActivationError::TooManyUserIdChoices)
            );
            total += 1;
            assert_eq!(
                g.check_sms_pin(now, &[1; 32]),
                Err(ActivationError::SmsCodeExpired)
            );
            assert!(g.is_usable(now), "the letter still works");
        }
        assert_eq!(
            g.accept_code(now, [1; 32]),
            Err(ActivationError::TooManySms)
        );
        assert_eq!(total, MAX_USER_ID_CHOICES * MAX_SMS_PER_GRANT);
    }

    #[test]
    fn sms_step_sends_once_then_checks_three_times() {
        let now = Timestamp::from_millis(1_000_000);
        let mut g = ActivationGrant::issue(
            Uuid::nil(),
            ActivationPurpose::FirstActivation,
            [0; 32],
            now,
        );
        assert_eq!(
            g.check_sms_pin(now, &[1; 32]),
            Err(ActivationError::NoSmsCode)
        );
        assert_eq!(g.accept_code(now, [1; 32]), Ok(SmsStep::Send));
        assert_eq!(
            g.accept_code(now.plus_seconds(60), [2; 32]),
            Ok(SmsStep::AlreadySent)
        );
        assert_eq!(g.sms_pin_hash, Some([1; 32]));
        assert_eq!(
            g.check_sms_pin(now, &[9; 32]),
            Err(ActivationError::WrongSmsCode { remaining: 2 })
        );
        assert_eq!(g.check_sms_pin(now, &[1; 32]), Ok(()));
        assert_eq!(
            g.check_sms_pin(now, &[9; 32]),
            Err(ActivationError::WrongSmsCode { remaining: 1 })
        );
        assert_eq!(g.check_sms_pin(now, &[9; 32]), Err(ActivationError::Voided));
        assert_eq!(g.check_sms_pin(now, &[1; 32]), Err(ActivationError::Voided));
        assert_eq!(g.accept_code(now, [3; 32]), Err(ActivationError::Voided));
    }

    #[test]
    fn sms_codes_expire_and_are_limited() {
        let now = Timestamp::from_millis(1_000_000);
        let mut g = ActivationGrant::issue(
            Uuid::nil(),
            ActivationPurpose::FirstActivation,
            [0; 32],
            now,
        );
        let mut t = now;
        for i in 0..MAX_SMS_PER_GRANT {
            assert_eq!(g.accept_code(t, [i as u8; 32]), Ok(SmsStep::Send));
            t = t.plus_seconds(SMS_PIN_VALIDITY_SECONDS);
            assert_eq!(
                g.check_sms_pin(t, &[i as u8; 32]),
                Err(ActivationError::SmsCodeExpired)
            );
        }
        assert_eq!(g.accept_code(t, [9; 32]), Err(ActivationError::TooManySms));
        let late = now.plus_seconds(CODE_VALIDITY_SECONDS);
        assert_eq!(
            g.accept_code(late, [9; 32]),
            Err(ActivationError::CodeExpired)
        );
        g.consume();
        assert_eq!(
            g.accept_code(now, [9; 32]),
            Err(ActivationError::GrantClosed)
        );
    }

    #[test]
    fn temporary_pins_are_eight_digits() {
        let r = SeqRandom::new(4);
        for _ in 0..100 {
            let p = TemporaryPin::generate(&r);
            assert_eq!(p.expose().len(), 8);
            assert_eq!(TemporaryPin::parse(p.expose()).unwrap(), p);
        }
        assert!(TemporaryPin::parse("1234 5678").is_ok());
        assert!(TemporaryPin::parse("1234567").is_err());
        assert!(TemporaryPin::parse("1234567a").is_err());
    }

    #[test]
    fn grants_expire_after_48_hours() {
        let now = Timestamp::from_millis(1_000_000);
        let g = ActivationGrant::issue(
            Uuid::nil(),
            ActivationPurpose::FirstActivation,
            [0; 32],
            now,
        );
        assert!(g.is_usable(now.plus_seconds(48 * 3600 - 1)));
        assert!(!g.is_usable(now.plus_seconds(48 * 3600)));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,30}") {
            let _ = ActivationCode::parse(&s);
        }
    }
}
