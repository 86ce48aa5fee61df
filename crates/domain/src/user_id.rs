//! User IDs: the self-chosen login name (DESIGN §2, MitID's published rules).

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

use crate::contact::PhoneNumber;
use crate::national_id::NationalId;

pub const MIN_CHARS: usize = 5;
pub const MAX_CHARS: usize = 48;
/// Punctuation MitID allows besides letters, digits and space.
const SPECIALS: &str = "{}!#$^,*()_+-=:;?.@";
/// How long a released user ID stays reserved for its former owner.
pub const QUARANTINE_DAYS: i64 = 365;

/// Why a string cannot be (this person's) user ID.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UserIdError {
    #[error("a user ID needs at least {MIN_CHARS} characters, this one has {0}")]
    TooShort(usize),
    #[error("a user ID may have at most {MAX_CHARS} characters, this one has {0}")]
    TooLong(usize),
    #[error(
        "character {position} ({shown}) is not allowed in a user ID: use letters a-z, æ, ø, å, digits, space and {{ }} ! # $ ^ , * ( ) _ + - = : ; ? . @"
    )]
    ForbiddenCharacter { position: usize, shown: String },
    #[error("a user ID may not start or end with a space")]
    EdgeSpace,
    #[error("a user ID may not contain 10 digits in a row")]
    TenDigitRun,
    #[error("a user ID may not contain your national ID number")]
    ContainsNationalId,
    #[error("a user ID may not contain your phone number")]
    ContainsPhoneNumber,
}

impl UserIdError {
    /// The reason as a person reads it on a page in `locale`: whole sentences in the
    /// page's language (the `Display` form is the terse English the CLI and API use).
    pub fn message(&self, locale: crate::locale::Locale) -> String {
        let da = locale == crate::locale::Locale::Da;
        let allowed = "{ } ! # $ ^ , * ( ) _ + - = : ; ? . @";
        match (self, da) {
            (Self::TooShort(0), true) => {
                format!("Skriv dit bruger-ID. Det har mindst {MIN_CHARS} tegn.")
            }
            (Self::TooShort(0), false) => {
                format!("Enter your user ID. It has at least {MIN_CHARS} characters.")
            }
            (Self::TooShort(n), true) => {
                format!("Et bruger-ID har mindst {MIN_CHARS} tegn. Dette har {n}.")
            }
            (Self::TooShort(n), false) => {
                format!("A user ID has at least {MIN_CHARS} characters. This one has {n}.")
            }
            (Self::TooLong(n), true) => {
                format!("Et bruger-ID har højst {MAX_CHARS} tegn. Dette har {n}.")
            }
            (Self::TooLong(n), false) => {
                format!("A user ID has at most {MAX_CHARS} characters. This one has {n}.")
            }
            (Self::ForbiddenCharacter { position, shown }, true) => format!(
                "Tegn nummer {position} ({shown}) kan ikke bruges i et bruger-ID. Brug bogstaverne a-z, æ, ø, å, tal, mellemrum og {allowed}"
            ),
            (Self::ForbiddenCharacter { position, shown }, false) => format!(
                "Character {position} ({shown}) cannot be used in a user ID. Use the letters a-z, æ, ø, å, digits, space and {allowed}"
            ),
            (Self::EdgeSpace, true) => {
                "Et bruger-ID kan ikke begynde eller slutte med et mellemrum.".into()
            }
            (Self::EdgeSpace, false) => "A user ID cannot start or end with a space.".into(),
            (Self::TenDigitRun, true) => "Et bruger-ID kan ikke indeholde 10 cifre i træk.".into(),
            (Self::TenDigitRun, false) => "A user ID cannot contain 10 digits in a row.".into(),
            (Self::ContainsNationalId, true) => {
                "Et bruger-ID kan ikke indeholde dit CPR-nummer.".into()
            }
            (Self::ContainsNationalId, false) => {
                "A user ID cannot contain your national ID number.".into()
            }
            (Self::ContainsPhoneNumber, true) => {
                "Et bruger-ID kan ikke indeholde dit telefonnummer.".into()
            }
            (Self::ContainsPhoneNumber, false) => {
                "A user ID cannot contain your phone number.".into()
            }
        }
    }
}

/// A user ID as the person wrote it (after NFC normalisation).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

/// The case-folded form of a user ID: two user IDs are the same exactly when their keys are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserIdKey(String);

impl UserId {
    /// Checks the rules that depend on the text alone.
    pub fn parse(input: &str) -> Result<Self, UserIdError> {
        let s: String = input.nfc().collect();
        let len = s.chars().count();
        for (i, c) in s.chars().enumerate() {
            if !is_allowed(c) {
                return Err(UserIdError::ForbiddenCharacter {
                    position: i + 1,
                    shown: show_char(c),
                });
            }
        }
        if len < MIN_CHARS {
            return Err(UserIdError::TooShort(len));
        }
        if len > MAX_CHARS {
            return Err(UserIdError::TooLong(len));
        }
        if s.starts_with(' ') || s.ends_with(' ') {
            return Err(UserIdError::EdgeSpace);
        }
        if longest_digit_run(&s) >= 10 {
            return Err(UserIdError::TenDigitRun);
        }
        Ok(Self(s))
    }

    /// Checks the rules that depend on the person: their national ID number (in any
    /// formatting) and their phone number must not be readable from the user ID.
    pub fn check_personal(
        &self,
        national_id: &NationalId,
        phone: Option<&PhoneNumber>,
    ) -> Result<(), UserIdError> {
        let alnum = alphanumeric_only(&self.0);
        if alnum.contains(national_id.expose_digits()) {
            return Err(UserIdError::ContainsNationalId);
        }
        if let Some(phone) = phone {
            let digits = phone.digits();
            let local = phone.subscriber_digits();
            if alnum.contains(digits) || alnum.contains(local) {
                return Err(UserIdError::ContainsPhoneNumber);
            }
        }
        Ok(())
    }

    pub fn key(&self) -> UserIdKey {
        UserIdKey(self.0.to_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl UserIdKey {
    /// The key of arbitrary login input. Input that is not a valid user ID gets a key too,
    /// so a login with it takes the same path as a login with an unknown valid ID.
    pub fn of_input(input: &str) -> Self {
        Self(input.trim().nfc().collect::<String>().to_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({:?})", self.0)
    }
}

impl TryFrom<String> for UserId {
    type Error = UserIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<UserId> for String {
    fn from(u: UserId) -> Self {
        u.0
    }
}

fn is_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "æøåÆØÅ ".contains(c) || SPECIALS.contains(c)
}

/// A character as an error message may show it: printable ones as themselves, the rest
/// (controls, invisible format characters) by code point, so the message cannot be
/// used to smuggle control sequences into a terminal or log.
fn show_char(c: char) -> String {
    if c.is_whitespace() || crate::text::hidden_character(c).is_some() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("'{c}' U+{:04X}", u32::from(c))
    }
}

fn longest_digit_run(s: &str) -> usize {
    let mut best = 0;
    let mut run = 0;
    for c in s.chars() {
        if c.is_ascii_digit() {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// Letters and digits with every separator removed, so "010190-1234", "010190 1234" and
/// "0101.90.1234" all expose the same digit string.
fn alphanumeric_only(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn nid() -> NationalId {
        NationalId::parse("0101901234").unwrap()
    }

    fn phone() -> PhoneNumber {
        PhoneNumber::parse("+4512345678").unwrap()
    }

    #[test]
    fn accepts_the_published_examples() {
        for s in [
            "Anna.Hansen",
            "anna hansen 1990",
            "Søren{}!#$^,*()_+-=:;?.@",
            "ÆBLEGRØD",
            "abcde",
            &"x".repeat(48),
            "987654321a98765432",
        ] {
            let u = UserId::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            u.check_personal(&nid(), Some(&phone())).unwrap();
        }
    }

    #[test]
    fn each_rule_has_its_own_error() {
        use UserIdError::*;
        let cases: &[(&str, UserIdError)] = &[
            ("abcd", TooShort(4)),
            ("", TooShort(0)),
            (&"y".repeat(49), TooLong(49)),
            (" anna", EdgeSpace),
            ("anna ", EdgeSpace),
            ("anna0123456789", TenDigitRun),
            ("0101901234", TenDigitRun),
            (
                "anna\u{202E}hansen",
                ForbiddenCharacter {
                    position: 5,
                    shown: "U+202E".into(),
                },
            ),
            (
                "anna\u{200B}hans",
                ForbiddenCharacter {
                    position: 5,
                    shown: "U+200B".into(),
                },
            ),
            (
                "ann\tahansen",
                ForbiddenCharacter {
                    position: 4,
                    shown: "U+0009".into(),
                },
            ),
            (
                "anna\u{0}hansen",
                ForbiddenCharacter {
                    position: 5,
                    shown: "U+0000".into(),
                },
            ),
            (
                "müller",
                ForbiddenCharacter {
                    position: 2,
                    shown: "'ü' U+00FC".into(),
                },
            ),
            (
                "anna&hans",
                ForbiddenCharacter {
                    position: 5,
                    shown: "'&' U+0026".into(),
                },
            ),
            (
                "ａｎｎａｈ",
                ForbiddenCharacter {
                    position: 1,
                    shown: "'ａ' U+FF41".into(),
                },
            ),
        ];
        for (s, e) in cases {
            assert_eq!(UserId::parse(s).as_ref().err(), Some(e), "{s:?}");
        }
    }

    #[test]
    fn nfc_makes_decomposed_letters_count_once() {
        // "å" written as 'a' + COMBINING RING ABOVE is the same user ID as precomposed "å".
        let decomposed = UserId::parse("ga\u{30A}rd1").unwrap();
        let composed = UserId::parse("gård1").unwrap();
        assert_eq!(decomposed, composed);
        assert_eq!(decomposed.as_str().chars().count(), 5);
    }

    #[test]
    fn keys_are_case_insensitive_including_danish_letters() {
        let pairs = [
            ("Anna.Hansen", "anna.hansen"),
            ("ÆØÅ-jens", "æøå-JENS"),
            ("GÅRD1", "ga\u{30A}rd1"),
        ];
        for (a, b) in pairs {
            assert_eq!(
                UserId::parse(a).unwrap().key(),
                UserId::parse(b).unwrap().key()
            );
        }
        assert_ne!(
            UserId::parse("anna.hansen").unwrap().key(),
            UserId::parse("anna_hansen").unwrap().key()
        );
    }

    #[test]
    fn own_national_id_in_any_formatting_is_refused() {
        for s in [
            "anna010190-1234",
            "010190 1234 anna",
            "x0101.90.1234",
            "010190-1234",
            "anna 0 1 0 1 9 0 1 2 3 4",
        ] {
            let u = UserId::parse(s).unwrap();
            assert_eq!(
                u.check_personal(&nid(), None),
                Err(UserIdError::ContainsNationalId),
                "{s}"
            );
        }
        // Someone else's number in dashed form is only a run of 6 and 4 digits.
        let other = UserId::parse("020290-1234").unwrap();
        assert_eq!(other.check_personal(&nid(), None), Ok(()));
    }

    #[test]
    fn own_phone_number_is_refused() {
        for s in [
            "anna12345678",
            "anna 12 34 56 78",
            "+45 12345678x",
            "45-1234-5678",
        ] {
            let u = UserId::parse(s).unwrap();
            assert_eq!(
                u.check_personal(&nid(), Some(&phone())),
                Err(UserIdError::ContainsPhoneNumber),
                "{s}"
            );
        }
        let u = UserId::parse("anna1234567").unwrap();
        assert_eq!(u.check_personal(&nid(), Some(&phone())), Ok(()));
    }

    #[test]
    fn error_messages_are_specific() {
        assert_eq!(
            UserId::parse("abc").unwrap_err().to_string(),
            "a user ID needs at least 5 characters, this one has 3"
        );
        assert!(
            UserId::parse("anna\u{1b}[31m")
                .unwrap_err()
                .to_string()
                .contains("character 5 (U+001B)")
        );
    }

    proptest! {
        #[test]
        fn no_accepted_user_id_has_ten_digits_in_a_row(s in "[0-9a-z .@]{0,60}") {
            if let Ok(u) = UserId::parse(&s) {
                prop_assert!(longest_digit_run(u.as_str()) < 10);
                prop_assert!(!u.as_str().starts_with(' ') && !u.as_str().ends_with(' '));
            }
        }

        #[test]
        fn accepted_user_ids_respect_length_and_alphabet(s in "\\PC{0,60}") {
            if let Ok(u) = UserId::parse(&s) {
                let n = u.as_str().chars().count();
                prop_assert!((MIN_CHARS..=MAX_CHARS).contains(&n));
                prop_assert!(u.as_str().chars().all(is_allowed));
            }
        }

        #[test]
        fn key_ignores_case(s in "[a-zA-ZæøåÆØÅ0-9]{5,20}") {
            let u = UserId::parse(&s).unwrap();
            let upper = UserId::parse(&s.to_uppercase()).unwrap();
            let lower = UserId::parse(&s.to_lowercase()).unwrap();
            prop_assert_eq!(u.key(), upper.key());
            prop_assert_eq!(u.key(), lower.key());
        }

        #[test]
        fn key_of_input_matches_key_of_valid_id(s in "[a-zA-ZæøåÆØÅ0-9.]{5,20}") {
            let u = UserId::parse(&s).unwrap();
            prop_assert_eq!(UserIdKey::of_input(&s), u.key());
        }

        #[test]
        fn national_id_digits_never_survive_check(prefix in "[a-z]{0,5}", sep in "[ .\\-]{0,1}", suffix in "[a-z]{0,5}") {
            let s = format!("{prefix}010190{sep}1234{suffix}");
            if let Ok(u) = UserId::parse(&s) {
                prop_assert_eq!(u.check_personal(&nid(), None), Err(UserIdError::ContainsNationalId));
            }
        }
    }

    #[test]
    fn reasons_are_told_in_the_page_language() {
        use crate::locale::Locale;
        let empty = UserId::parse("").unwrap_err();
        assert_eq!(
            empty.message(Locale::Da),
            "Skriv dit bruger-ID. Det har mindst 5 tegn."
        );
        assert_eq!(
            empty.message(Locale::En),
            "Enter your user ID. It has at least 5 characters."
        );
        let short = UserId::parse("abc").unwrap_err();
        assert_eq!(
            short.message(Locale::Da),
            "Et bruger-ID har mindst 5 tegn. Dette har 3."
        );
        for e in [
            UserIdError::TooShort(2),
            UserIdError::TooLong(60),
            UserIdError::ForbiddenCharacter {
                position: 3,
                shown: "\"".into(),
            },
            UserIdError::EdgeSpace,
            UserIdError::TenDigitRun,
            UserIdError::ContainsNationalId,
            UserIdError::ContainsPhoneNumber,
        ] {
            let (da, en) = (e.message(Locale::Da), e.message(Locale::En));
            assert_ne!(da, en, "{e:?}");
            assert!(da.contains("bruger-ID"), "{da}");
            assert!(en.contains("user ID"), "{en}");
        }
    }
}
