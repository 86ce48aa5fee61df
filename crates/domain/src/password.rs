//! Passwords: sesam's (and MitID's published) rules for choosing one, and Argon2id hashing
//! (DESIGN §3). A password is only ever a second factor, so the rules aim at the guesses an
//! attacker who already knows the user ID would try first.
//!
//! The rules, checked on the NFC form and in this order:
//! 1. no control, bidirectional, invisible format or unassigned characters
//!    ([`crate::text::hidden_character`]): they cannot be typed reliably on another device;
//! 2. 8–64 characters (Unicode scalar values);
//! 3. not containing the person's user ID, ignoring case;
//! 4. no 10 decimal digits in a row (any script's digits): no national ID or phone numbers;
//! 5. not containing "password" or the Danish "adgangskode", ignoring case;
//! 6. no keyboard sequence: no 6 characters that appear consecutively, forwards or
//!    backwards and ignoring case, in one of [`KEYBOARD_SEQUENCES`] — the digit row (also
//!    starting at 0), the three letter rows of the Danish keyboard and the alphabet. So
//!    "qwerty", "ytrewq", "asdfgh", "zxcvbn", "123456", "654321" and "abcdef" are refused,
//!    while "qwert" (5) and "qwe rty" (interrupted) are not.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::random::{Random, random_bytes};
use crate::text::{HiddenCharacter, hidden_character};
use crate::user_id::UserId;

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 64;
/// Longest run of digits a password may contain.
const MAX_DIGIT_RUN: usize = 9;
/// Words that make a password one of the first guesses.
const FORBIDDEN_WORDS: [&str; 2] = ["password", "adgangskode"];
/// How many consecutive characters of a keyboard sequence make a password guessable.
pub const KEYBOARD_RUN: usize = 6;
/// The sequences of rule 6, lower case. Each is also checked backwards.
pub const KEYBOARD_SEQUENCES: [&str; 5] = [
    "01234567890",
    "qwertyuiopå",
    "asdfghjklæø",
    "zxcvbnm",
    "abcdefghijklmnopqrstuvwxyzæøå",
];

/// Argon2id cost limits for stored hashes: a PHC string read from the database with
/// absurd costs must not be able to exhaust the server's memory or CPU.
const MAX_M_COST_KIB: u32 = 1024 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

/// Why a string cannot be a password, or a stored hash cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_CHARS} characters, this one has {0}")]
    TooShort(usize),
    #[error("a password may have at most {MAX_CHARS} characters, this one has {0}")]
    TooLong(usize),
    #[error("character {position} of the password is {}, which cannot be part of a password", kind.describe())]
    HiddenCharacter {
        position: usize,
        kind: HiddenCharacter,
    },
    #[error("a password may not contain your user ID")]
    ContainsUserId,
    #[error("a password may not contain 10 digits in a row")]
    TenDigitRun,
    #[error("a password may not contain the word \"{0}\"")]
    ForbiddenWord(&'static str),
    #[error(
        "a password may not contain {KEYBOARD_RUN} characters in keyboard or alphabet order, such as \"qwerty\", \"123456\" or \"abcdef\" (also backwards)"
    )]
    KeyboardSequence,
    #[error("the stored password hash is not a valid Argon2 PHC string")]
    MalformedHash,
    #[error("the stored password hash is not Argon2id version 19")]
    UnsupportedHash,
    #[error(
        "the password hash costs are outside the accepted range (memory 8 KiB to {MAX_M_COST_KIB} KiB and at least 8 KiB per lane, 1 to {MAX_T_COST} passes, 1 to {MAX_P_COST} lanes)"
    )]
    HashCostsOutOfRange,
}

/// A password that follows the rules, NFC-normalised. Redacted in `Debug`, wiped on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Password(String);

impl Password {
    /// Checks a newly chosen password. `user_id` is the person's current user ID, if they
    /// have one yet.
    pub fn parse(input: &str, user_id: Option<&UserId>) -> Result<Self, PasswordError> {
        let password = Self::for_login(input);
        let s = password.0.as_str();
        if let Some((position, kind)) = s
            .chars()
            .enumerate()
            .find_map(|(i, c)| hidden_character(c).map(|k| (i + 1, k)))
        {
            return Err(PasswordError::HiddenCharacter { position, kind });
        }
        let len = s.chars().count();
        if len < MIN_CHARS {
            return Err(PasswordError::TooShort(len));
        }
        if len > MAX_CHARS {
            return Err(PasswordError::TooLong(len));
        }
        let lower = Zeroizing::new(s.to_lowercase());
        if let Some(user_id) = user_id
            && lower.contains(user_id.key().as_str())
        {
            return Err(PasswordError::ContainsUserId);
        }
        if longest_digit_run(s) > MAX_DIGIT_RUN {
            return Err(PasswordError::TenDigitRun);
        }
        if let Some(word) = FORBIDDEN_WORDS.into_iter().find(|w| lower.contains(w)) {
            return Err(PasswordError::ForbiddenWord(word));
        }
        if contains_keyboard_sequence(&lower) {
            return Err(PasswordError::KeyboardSequence);
        }
        Ok(password)
    }

    /// A password as typed at login, to be verified against a stored hash: normalised the
    /// same way as at [`Password::parse`], but not held to today's rules.
    pub fn for_login(input: &str) -> Self {
        // NFC can grow a string up to three times; reserving that up front means no
        // reallocation leaves an unwiped copy behind.
        let mut s = String::with_capacity(input.len().saturating_mul(3));
        s.extend(input.nfc());
        Self(s)
    }

    /// The normalised text, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Argon2id costs for new hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordHasherParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes over the memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl PasswordHasherParams {
    /// OWASP's Password Storage Cheat Sheet minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
    pub const OWASP: Self = Self {
        m_cost_kib: 19_456,
        t_cost: 2,
        p_cost: 1,
    };

    /// The cheapest valid costs: for tests only, never for real passwords.
    pub const INSECURE_FAST_FOR_TESTS: Self = Self {
        m_cost_kib: 8,
        t_cost: 1,
        p_cost: 1,
    };

    /// Checks that the costs are within what [`verify`] will accept later.
    pub fn validate(&self) -> Result<(), PasswordError> {
        self.to_argon2().map(|_| ())
    }

    fn to_argon2(self) -> Result<Params, PasswordError> {
        if self.m_cost_kib > MAX_M_COST_KIB
            || !(1..=MAX_T_COST).contains(&self.t_cost)
            || !(1..=MAX_P_COST).contains(&self.p_cost)
        {
            return Err(PasswordError::HashCostsOutOfRange);
        }
        Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(HASH_LEN))
            .map_err(|_| PasswordError::HashCostsOutOfRange)
    }
}

/// Hashes a password with Argon2id (version 19) and a fresh 16-byte salt, as a PHC string
/// (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
pub fn hash(
    password: &Password,
    params: &PasswordHasherParams,
    random: &dyn Random,
) -> Result<String, PasswordError> {
    let params = params.to_argon2()?;
    let salt: [u8; SALT_LEN] = random_bytes(random);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_with_salt(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::HashCostsOutOfRange)
}

/// Checks a password against a stored PHC string. `Ok(false)` is a wrong password; an error
/// means the stored string itself is unusable.
pub fn verify(password: &Password, phc: &str) -> Result<bool, PasswordError> {
    let parsed = parse_stored(phc)?;
    match Argon2::default().verify_password(password.expose().as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(_) => Err(PasswordError::MalformedHash),
    }
}

/// Whether a stored hash was made with other costs than `params`, so it should be replaced
/// at the next successful login.
pub fn needs_rehash(phc: &str, params: &PasswordHasherParams) -> Result<bool, PasswordError> {
    let parsed = parse_stored(phc)?;
    let stored = Params::try_from(&parsed).map_err(|_| PasswordError::MalformedHash)?;
    Ok(stored.m_cost() != params.m_cost_kib
        || stored.t_cost() != params.t_cost
        || stored.p_cost() != params.p_cost)
}

fn parse_stored(phc: &str) -> Result<PasswordHash, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|_| PasswordError::MalformedHash)?;
    if parsed.algorithm.as_str() != "argon2id" || parsed.version != Some(0x13) {
        return Err(PasswordError::UnsupportedHash);
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(PasswordError::MalformedHash);
    }
    let params = Params::try_from(&parsed).map_err(|_| PasswordError::MalformedHash)?;
    PasswordHasherParams {
        m_cost_kib: params.m_cost(),
        t_cost: params.t_cost(),
        p_cost: params.p_cost(),
    }
    .validate()?;
    Ok(parsed)
}

/// Digits of any script count (Unicode category Nd): "０１２３…" is as guessable as "0123…".
fn longest_digit_run(s: &str) -> usize {
    let mut best = 0;
    let mut run = 0;
    for c in s.chars() {
        if c.general_category() == GeneralCategory::DecimalNumber {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

fn contains_keyboard_sequence(lower: &str) -> bool {
    KEYBOARD_SEQUENCES.iter().any(|seq| {
        let forwards: Vec<char> = seq.chars().collect();
        let backwards: Vec<char> = seq.chars().rev().collect();
        [forwards, backwards].iter().any(|chars| {
            chars
                .windows(KEYBOARD_RUN)
                .any(|w| lower.contains(&w.iter().collect::<String>()))
        })
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::random::testing::SeqRandom;

    fn uid(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    #[test]
    fn accepts_reasonable_passwords() {
        let anna = uid("Anna.Hansen");
        for s in [
            "correct horse battery",
            "Tr0ub4dor&3x",
            "æblegrød med fløde",
            "qwert 12345 asdfg",
            "kode-ord-til-MitID",
            "Anna.Hanse!",
            "中文密码很安全的",
            &"x".repeat(64),
        ] {
            let p = Password::parse(s, Some(&anna)).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            assert_eq!(p.expose(), s);
        }
    }

    #[test]
    fn each_rule_has_its_own_error() {
        use crate::text::HiddenCharacter as H;
        use PasswordError as E;
        let anna = uid("Anna.Hansen");
        let hidden = |position, kind| E::HiddenCharacter { position, kind };
        let cases: &[(&str, PasswordError)] = &[
            ("", E::TooShort(0)),
            ("short7!", E::TooShort(7)),
            (&"y".repeat(65), E::TooLong(65)),
            ("my anna.hansen pw", E::ContainsUserId),
            ("xxANNA.HANSENxx", E::ContainsUserId),
            ("abc0123456789", E::TenDigitRun),
            ("tlf 4512345678", E::TenDigitRun),
            ("my password!", E::ForbiddenWord("password")),
            ("MitPASSWORD99", E::ForbiddenWord("password")),
            ("mit adgangskode", E::ForbiddenWord("adgangskode")),
            ("AdgangsKode2024", E::ForbiddenWord("adgangskode")),
            ("qwerty is weak", E::KeyboardSequence),
            ("weak ytrewq!!", E::KeyboardSequence),
            ("ASDFGH plus", E::KeyboardSequence),
            ("my zxcvbn pw", E::KeyboardSequence),
            ("pin 123456 no", E::KeyboardSequence),
            ("pin 654321 no", E::KeyboardSequence),
            ("pin 567890 no", E::KeyboardSequence),
            ("pin 012345 no", E::KeyboardSequence),
            ("abcdef is weak", E::KeyboardSequence),
            ("FEDCBA is weak", E::KeyboardSequence),
            ("tuvwxyz!", E::KeyboardSequence),
            ("xyzæøå!!", E::KeyboardSequence),
            ("yuiopå rules", E::KeyboardSequence),
            ("hjklæø and more", E::KeyboardSequence),
            ("tab\there!", hidden(4, H::Control)),
            ("line\nbreak", hidden(5, H::Control)),
            ("zero\u{200B}width", hidden(5, H::Format)),
            ("bidi\u{202E}override", hidden(5, H::Bidi)),
            ("private\u{E000}use", hidden(8, H::Unassigned)),
            // Hidden characters are reported before length.
            ("a\u{0}", hidden(2, H::Control)),
        ];
        for (s, e) in cases {
            assert_eq!(
                Password::parse(s, Some(&anna)).err().as_ref(),
                Some(e),
                "{s:?}"
            );
        }
    }

    #[test]
    fn rule_edges() {
        // Exactly 8 and 64 characters; 9 digits in a row; 5 keyboard characters.
        for ok in [
            "abXdeXgh",
            &"ab".repeat(32),
            "x123456789y".replace("456", "4 56").as_str(),
            "9 digits: 135792468",
            "qwert-yuiop",
            "qaz wsx edc",
            "a1b2c3d4e5",
        ] {
            assert!(Password::parse(ok, None).is_ok(), "{ok:?}");
        }
        // Length counts characters, not bytes: 8 Danish letters pass, 7 do not.
        assert!(Password::parse("æøåæøåæø", None).is_ok());
        assert_eq!(
            Password::parse("æøåæøåæ", None).err(),
            Some(PasswordError::TooShort(7))
        );
        // Ten digits of another script are ten digits too.
        assert_eq!(
            Password::parse("x٠١٢٣٤٥٦٧٨٩x", None).err(),
            Some(PasswordError::TenDigitRun)
        );
    }

    #[test]
    fn nfc_normalises_before_counting_and_comparing() {
        // "å" as 'a' + COMBINING RING ABOVE is one character.
        let p = Password::parse("gård gård", None).unwrap();
        let decomposed = Password::parse("ga\u{30A}rd ga\u{30A}rd", None).unwrap();
        assert_eq!(p.expose(), decomposed.expose());
        assert_eq!(
            Password::parse("ga\u{30A}rd123", None).err(),
            Some(PasswordError::TooShort(7))
        );
        // A decomposed user ID still matches a precomposed one in the password.
        let u = uid("ga\u{30A}rd.jens");
        assert_eq!(
            Password::parse("my GÅRD.JENS 1", Some(&u)).err(),
            Some(PasswordError::ContainsUserId)
        );
    }

    #[test]
    fn without_a_user_id_that_rule_is_skipped() {
        assert!(Password::parse("my anna.hansen pw", None).is_ok());
    }

    #[test]
    fn error_messages_are_specific_and_do_not_repeat_the_password() {
        let e = Password::parse("hunter2", None).unwrap_err().to_string();
        assert_eq!(e, "a password needs at least 8 characters, this one has 7");
        let e = Password::parse("x qwerty x", None).unwrap_err().to_string();
        assert!(e.contains("keyboard or alphabet order"), "{e}");
        assert!(!e.contains("x qwerty x"));
        let e = Password::parse("tab\there!", None).unwrap_err().to_string();
        assert_eq!(
            e,
            "character 4 of the password is a control character (e.g. a newline or tab), which cannot be part of a password"
        );
    }

    #[test]
    fn debug_is_redacted() {
        let p = Password::parse("correct horse", None).unwrap();
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
    }

    #[test]
    fn hash_and_verify_round_trip() {
        let rnd = SeqRandom::new(7);
        let p = Password::parse("correct horse battery", None).unwrap();
        let phc = hash(&p, &PasswordHasherParams::INSECURE_FAST_FOR_TESTS, &rnd).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert_eq!(verify(&p, &phc), Ok(true));
        assert_eq!(
            verify(&Password::for_login("correct horse batterY"), &phc),
            Ok(false)
        );
        // Salts differ, so equal passwords give different strings.
        let again = hash(&p, &PasswordHasherParams::INSECURE_FAST_FOR_TESTS, &rnd).unwrap();
        assert_ne!(phc, again);
        assert_eq!(verify(&p, &again), Ok(true));
        // Login input is normalised the same way.
        let p = Password::parse("gård gård", None).unwrap();
        let phc = hash(&p, &PasswordHasherParams::INSECURE_FAST_FOR_TESTS, &rnd).unwrap();
        assert_eq!(
            verify(&Password::for_login("ga\u{30A}rd ga\u{30A}rd"), &phc),
            Ok(true)
        );
    }

    #[test]
    fn verifies_a_reference_hash_with_owasp_costs() {
        let rnd = SeqRandom::new(1);
        let p = Password::for_login("Tr0ub4dor&3x");
        let phc = hash(&p, &PasswordHasherParams::OWASP, &rnd).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(verify(&p, &phc), Ok(true));
        assert_eq!(needs_rehash(&phc, &PasswordHasherParams::OWASP), Ok(false));
        assert_eq!(
            needs_rehash(&phc, &PasswordHasherParams::INSECURE_FAST_FOR_TESTS),
            Ok(true)
        );
    }

    #[test]
    fn known_answer_from_the_argon2_reference() {
        // `echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -l 32` (phc-winner-argon2).
        let phc = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        assert_eq!(verify(&Password::for_login("password"), phc), Ok(true));
        assert_eq!(verify(&Password::for_login("passwore"), phc), Ok(false));
    }

    #[test]
    fn unusable_stored_hashes_are_errors_not_panics() {
        use PasswordError::*;
        let p = Password::for_login("whatever1");
        let cases: &[(&str, PasswordError)] = &[
            ("", MalformedHash),
            ("not a hash", MalformedHash),
            ("$argon2id$", MalformedHash),
            ("$argon2id$v=19$m=8,t=1,p=1$", MalformedHash),
            ("$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ", MalformedHash),
            ("$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$!!!!", MalformedHash),
            (
                "$argon2id$v=19$m=x,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
                MalformedHash,
            ),
            (
                "$argon2i$v=19$m=8,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
                UnsupportedHash,
            ),
            (
                "$argon2id$v=16$m=8,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
                UnsupportedHash,
            ),
            (
                "$argon2id$m=8,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
                UnsupportedHash,
            ),
            (
                "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
                UnsupportedHash,
            ),
            (
                "$2b$12$abcdefghijklmnopqrstuu5q5PmAk0tCCLnTsoIDWjcgU2XaA6ciG",
                MalformedHash,
            ),
            (
                "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
                HashCostsOutOfRange,
            ),
            (
                "$argon2id$v=19$m=8,t=4294967295,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
                HashCostsOutOfRange,
            ),
            (
                "$argon2id$v=19$m=1024,t=1,p=64$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
                HashCostsOutOfRange,
            ),
        ];
        for (phc, e) in cases {
            assert_eq!(verify(&p, phc).as_ref().err(), Some(e), "{phc:?}");
        }
    }

    #[test]
    fn hasher_params_are_validated() {
        assert_eq!(PasswordHasherParams::OWASP.validate(), Ok(()));
        assert_eq!(
            PasswordHasherParams::INSECURE_FAST_FOR_TESTS.validate(),
            Ok(())
        );
        for bad in [
            PasswordHasherParams {
                m_cost_kib: 7,
                t_cost: 1,
                p_cost: 1,
            },
            PasswordHasherParams {
                m_cost_kib: 8,
                t_cost: 0,
                p_cost: 1,
            },
            PasswordHasherParams {
                m_cost_kib: 8,
                t_cost: 1,
                p_cost: 0,
            },
            PasswordHasherParams {
                m_cost_kib: 8,
                t_cost: 1,
                p_cost: 2,
            },
            PasswordHasherParams {
                m_cost_kib: MAX_M_COST_KIB + 1,
                t_cost: 1,
                p_cost: 1,
            },
        ] {
            assert_eq!(
                bad.validate(),
                Err(PasswordError::HashCostsOutOfRange),
                "{bad:?}"
            );
            let p = Password::for_login("whatever1");
            assert_eq!(
                hash(&p, &bad, &SeqRandom::new(1)),
                Err(PasswordError::HashCostsOutOfRange)
            );
        }
    }

    proptest! {
        #[test]
        fn no_accepted_password_has_ten_digits_in_a_row(s in "[0-9a-z ]{0,70}") {
            if let Ok(p) = Password::parse(&s, None) {
                prop_assert!(longest_digit_run(p.expose()) < 10);
                let n = p.expose().chars().count();
                prop_assert!((MIN_CHARS..=MAX_CHARS).contains(&n));
            }
        }

        #[test]
        fn no_accepted_password_contains_the_user_id(
            id in "[a-zæøå][a-zæøå0-9.]{4,10}",
            before in "[a-zA-Z0-9 !]{0,20}",
            after in "[a-zA-Z0-9 !]{0,20}",
            upper in any::<bool>(),
        ) {
            let user = UserId::parse(&id).unwrap();
            let shown = if upper { id.to_uppercase() } else { id.clone() };
            let s = format!("{before}{shown}{after}");
            prop_assert!(Password::parse(&s, Some(&user)).is_err());
        }

        #[test]
        fn accepted_passwords_have_no_forbidden_content(s in "\\PC{0,70}") {
            if let Ok(p) = Password::parse(&s, None) {
                let lower = p.expose().to_lowercase();
                prop_assert!(!lower.contains("password") && !lower.contains("adgangskode"));
                prop_assert!(!contains_keyboard_sequence(&lower));
                prop_assert!(p.expose().chars().all(|c| hidden_character(c).is_none()));
            }
        }

        #[test]
        fn verify_never_panics_on_stored_strings(phc in "\\$[a-z0-9]{0,10}\\$[a-z0-9=,$]{0,40}") {
            let _ = verify(&Password::for_login("whatever1"), &phc);
        }
    }
}
