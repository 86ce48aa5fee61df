//! Contact channels a person registers: phone numbers (E.164) and e-mail addresses.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a contact address is not usable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContactError {
    #[error(
        "a phone number must be in international form: '+', the country code and the number, 8 to 15 digits in all (e.g. +4512345678)"
    )]
    PhoneNotE164,
    #[error("an e-mail address must look like name@example.dk: {0}")]
    EmailInvalid(&'static str),
}

/// A phone number in E.164 form (`+4512345678`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Accepts `+` and 8–15 digits; spaces and dashes between digits are dropped.
    pub fn parse(input: &str) -> Result<Self, ContactError> {
        let s = input.trim();
        let rest = s.strip_prefix('+').ok_or(ContactError::PhoneNotE164)?;
        let mut digits = String::with_capacity(15);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' => {}
                _ => return Err(ContactError::PhoneNotE164),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(ContactError::PhoneNotE164);
        }
        Ok(Self(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// The last eight digits: the subscriber number in Denmark and the other Nordic
    /// countries, which is what a person would write without the country code.
    pub fn subscriber_digits(&self) -> &str {
        let d = self.digits();
        &d[d.len().saturating_sub(8)..]
    }

    /// `+45 •••• 5678`: enough for a person to recognise their number.
    pub fn masked(&self) -> String {
        let d = self.digits();
        format!("+{}…{}", &d[..2.min(d.len())], &d[d.len() - 2..])
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = ContactError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> Self {
        p.0
    }
}

/// An e-mail address, checked for the shape a mail server will accept (not for existence:
/// that takes a confirmation code sent to it).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, ContactError> {
        let s = input.trim();
        if s.len() > 254 {
            return Err(ContactError::EmailInvalid("longer than 254 characters"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ContactError::EmailInvalid(
                "it contains spaces or control characters",
            ));
        }
        let (local, domain) = s
            .rsplit_once('@')
            .ok_or(ContactError::EmailInvalid("there is no '@'"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(ContactError::EmailInvalid(
                "the part before '@' must have 1 to 64 characters",
            ));
        }
        if local.contains('@')
            || local.contains(['<', '>', '"', '\\', ',', ';', '(', ')', '[', ']'])
        {
            return Err(ContactError::EmailInvalid(
                "the part before '@' has characters mail servers refuse",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(ContactError::EmailInvalid(
                "the domain after '@' is not a valid host name",
            ));
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `a…@example.dk`.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or(("", &self.0));
        let first: String = local.chars().take(1).collect();
        format!("{first}…@{domain}")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.masked())
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = ContactError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> Self {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn phone_numbers() {
        assert_eq!(
            PhoneNumber::parse("+45 12 34 56 78").unwrap().as_str(),
            "+4512345678"
        );
        assert_eq!(
            PhoneNumber::parse("+4512345678")
                .unwrap()
                .subscriber_digits(),
            "12345678"
        );
        for bad in [
            "12345678",
            "+45",
            "+4512a45678",
            "+0123456789",
            "+1234567890123456",
            "",
            "+",
        ] {
            assert_eq!(
                PhoneNumber::parse(bad),
                Err(ContactError::PhoneNotE164),
                "{bad}"
            );
        }
        assert_eq!(
            PhoneNumber::parse("+4512345678").unwrap().masked(),
            "+45…78"
        );
    }

    #[test]
    fn email_addresses() {
        assert_eq!(
            EmailAddress::parse(" Anna@Example.DK ").unwrap().as_str(),
            "Anna@example.dk"
        );
        assert_eq!(
            EmailAddress::parse("anna@example.dk").unwrap().masked(),
            "a…@example.dk"
        );
        for bad in [
            "",
            "anna",
            "anna@",
            "@example.dk",
            "anna@localhost",
            "an na@example.dk",
            "anna@exa_mple.dk",
            "anna@-x.dk",
            "a<b@example.dk",
            "anna@example..dk",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,80}") {
            let _ = PhoneNumber::parse(&s).map(|p| p.masked());
            let _ = EmailAddress::parse(&s).map(|e| e.masked());
        }
    }
}
