//! The transaction text: the one line a person reads before approving, under the SP's
//! registered display name and the action. It is what the approval signature covers, so
//! it must show exactly what it says: nothing invisible, nothing that reorders text,
//! nothing that hides a second line.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

use crate::text::{HiddenCharacter, hidden_character};

/// MitID's limit, in Unicode scalar values after NFC.
pub const MAX_CHARS: usize = 130;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransactionTextError {
    #[error("the transaction text is empty")]
    Empty,
    #[error(
        "the transaction text has {chars} characters after NFC normalisation; at most 130 are allowed"
    )]
    TooLong { chars: usize },
    #[error("the transaction text must be one line: character {position} is a line break")]
    LineBreak { position: usize },
    #[error("character {position} of the transaction text (U+{code:04X}) is a control character")]
    Control { position: usize, code: u32 },
    #[error(
        "character {position} of the transaction text (U+{code:04X}) is a bidirectional control character, which can reorder what the person sees"
    )]
    Bidi { position: usize, code: u32 },
    #[error(
        "character {position} of the transaction text (U+{code:04X}) is an invisible formatting character (zero-width or other Unicode category Cf)"
    )]
    Format { position: usize, code: u32 },
    #[error(
        "character {position} of the transaction text (U+{code:04X}) is unassigned or private-use"
    )]
    Unassigned { position: usize, code: u32 },
    #[error("the transaction text is not valid UTF-8 (for example an unpaired surrogate)")]
    NotUtf8,
}

/// A text that passed every rule: NFC, one line, at most 130 visible characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TransactionText(String);

impl TransactionText {
    pub fn parse(input: &str) -> Result<Self, TransactionTextError> {
        let s: String = input.nfc().collect();
        if s.trim().is_empty() {
            return Err(TransactionTextError::Empty);
        }
        for (i, c) in s.chars().enumerate() {
            let (position, code) = (i + 1, u32::from(c));
            match hidden_character(c) {
                None => {}
                Some(_)
                    if matches!(
                        c,
                        '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{0B}' | '\u{0C}'
                    ) =>
                {
                    return Err(TransactionTextError::LineBreak { position });
                }
                Some(HiddenCharacter::Control) => {
                    return Err(TransactionTextError::Control { position, code });
                }
                Some(HiddenCharacter::Bidi) => {
                    return Err(TransactionTextError::Bidi { position, code });
                }
                Some(HiddenCharacter::Format) => {
                    return Err(TransactionTextError::Format { position, code });
                }
                Some(HiddenCharacter::Unassigned) => {
                    return Err(TransactionTextError::Unassigned { position, code });
                }
            }
        }
        let chars = s.chars().count();
        if chars > MAX_CHARS {
            return Err(TransactionTextError::TooLong { chars });
        }
        Ok(Self(s))
    }

    /// From raw bytes (a decoded form or query value): invalid UTF-8, which is how an
    /// unpaired surrogate arrives, is refused rather than replaced.
    pub fn parse_bytes(input: &[u8]) -> Result<Self, TransactionTextError> {
        Self::parse(std::str::from_utf8(input).map_err(|_| TransactionTextError::NotUtf8)?)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the exact UTF-8 bytes: what the approval signature covers.
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

impl TryFrom<String> for TransactionText {
    type Error = TransactionTextError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<TransactionText> for String {
    fn from(t: TransactionText) -> Self {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

    use super::*;

    #[test]
    fn good_texts() {
        let t = TransactionText::parse("Overfør 1.500,00 kr. til Jens Hansen").unwrap();
        assert_eq!(t.as_str(), "Overfør 1.500,00 kr. til Jens Hansen");
        // NFC: a decomposed å becomes one character.
        let t = TransactionText::parse("Log pa\u{030A} hos Skat").unwrap();
        assert_eq!(t.as_str(), "Log på hos Skat");
        assert_eq!(t.as_str().chars().count(), 15);
        assert!(TransactionText::parse(&"æ".repeat(130)).is_ok());
        assert!(TransactionText::parse("中文 – emoji 💶 ok").is_ok());
    }

    #[test]
    fn refusals_are_specific() {
        use TransactionTextError as E;
        let cases: &[(&str, E)] = &[
            (
                "Pay \u{202E}01 kr",
                E::Bidi {
                    position: 5,
                    code: 0x202E,
                },
            ),
            (
                "a\u{200B}b",
                E::Format {
                    position: 2,
                    code: 0x200B,
                },
            ),
            (
                "a\u{0}b",
                E::Control {
                    position: 2,
                    code: 0,
                },
            ),
            ("line one\nline two", E::LineBreak { position: 9 }),
            ("a\u{2028}b", E::LineBreak { position: 2 }),
            (
                "a\u{61C}b",
                E::Bidi {
                    position: 2,
                    code: 0x61C,
                },
            ),
            (
                "a\u{2066}b",
                E::Bidi {
                    position: 2,
                    code: 0x2066,
                },
            ),
            (
                "a\u{FEFF}b",
                E::Format {
                    position: 2,
                    code: 0xFEFF,
                },
            ),
            (
                "a\tb",
                E::Control {
                    position: 2,
                    code: 9,
                },
            ),
            (
                "a\u{E000}",
                E::Unassigned {
                    position: 2,
                    code: 0xE000,
                },
            ),
            ("   ", E::Empty),
        ];
        for (text, want) in cases {
            assert_eq!(TransactionText::parse(text).as_ref(), Err(want), "{text:?}");
        }
        assert_eq!(
            TransactionText::parse(&"x".repeat(131)),
            Err(E::TooLong { chars: 131 })
        );
        // An unpaired surrogate (U+D800 in CESU-8 form) is not UTF-8.
        assert_eq!(
            TransactionText::parse_bytes(b"a\xED\xA0\x80b"),
            Err(E::NotUtf8)
        );
        for e in [
            E::TooLong { chars: 131 },
            E::Bidi {
                position: 1,
                code: 0x202E,
            },
            E::NotUtf8,
        ] {
            assert!(e.to_string().contains("transaction text"));
        }
    }

    #[test]
    fn the_hash_covers_the_exact_bytes() {
        let t = TransactionText::parse("Log på hos Skat").unwrap();
        assert_eq!(
            hex::encode(t.sha256()),
            hex::encode(Sha256::digest("Log på hos Skat".as_bytes()))
        );
        assert_ne!(
            t.sha256(),
            TransactionText::parse("Log pa hos Skat").unwrap().sha256()
        );
    }

    proptest! {
        #[test]
        fn no_accepted_text_contains_a_control_or_format_character(s in "\\PC*|.*") {
            if let Ok(t) = TransactionText::parse(&s) {
                for c in t.as_str().chars() {
                    let cat = c.general_category();
                    prop_assert!(cat != GeneralCategory::Control && cat != GeneralCategory::Format, "{c:?}");
                }
                prop_assert!(t.as_str().chars().count() <= MAX_CHARS);
                prop_assert!(!t.as_str().contains('\n'));
            }
        }

        #[test]
        fn parsing_is_idempotent(s in ".{0,140}") {
            if let Ok(t) = TransactionText::parse(&s) {
                prop_assert_eq!(TransactionText::parse(t.as_str()).unwrap(), t);
            }
        }
    }
}
