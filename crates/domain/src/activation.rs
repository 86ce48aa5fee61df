//! Activation grants: the right, proven on two channels, to activate an authenticator.
//!
//! Enrolment issues a grant with an activation code (channel 1: the paper letter or an
//! e-mail). The code is shown once and stored only as a keyed hash.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::error::DomainError;
use crate::random::{Random, uniform_below};

/// Unambiguous alphabet: no 0/O, 1/I; 32 symbols, so each character carries 5 bits.
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// 12 characters = 60 bits.
pub const CODE_LEN: usize = 12;
/// How long an activation code is valid (MitID: 48 hours).
pub const CODE_VALIDITY_SECONDS: i64 = 48 * 3600;
/// Wrong entries that void a grant.
pub const MAX_FAILED_ATTEMPTS: i32 = 3;

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
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let code: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if code.chars().count() != CODE_LEN {
            return Err(DomainError::ActivationCode(
                "it has 12 characters, e.g. ABCD-EFGH-JKLM",
            ));
        }
        if !code.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(DomainError::ActivationCode(
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

impl FromStr for ActivationPurpose {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "first_activation" => Ok(Self::FirstActivation),
            "recovery" => Ok(Self::Recovery),
            other => Err(DomainError::Corrupt(format!(
                "unknown activation purpose '{other}'"
            ))),
        }
    }
}

/// Where a grant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    Issued,
    Consumed,
    Voided,
}

impl GrantState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Consumed => "consumed",
            Self::Voided => "voided",
        }
    }
}

impl FromStr for GrantState {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "issued" => Ok(Self::Issued),
            "consumed" => Ok(Self::Consumed),
            "voided" => Ok(Self::Voided),
            other => Err(DomainError::Corrupt(format!(
                "unknown grant state '{other}'"
            ))),
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
        }
    }

    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.state == GrantState::Issued && now < self.expires_at
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
