//! Checks shared by every piece of free text that a person will read as sesam's own words:
//! names, service-provider display names and (later) transaction texts.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a character may not appear in displayed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenCharacter {
    /// C0/C1 controls, including newlines and tabs.
    Control,
    /// Bidirectional overrides, isolates and marks: they can reorder what a person sees.
    Bidi,
    /// Other invisible format characters (Unicode category Cf), e.g. zero-width space.
    Format,
    /// Surrogates and private-use or unassigned code points.
    Unassigned,
}

impl HiddenCharacter {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Control => "a control character (e.g. a newline or tab)",
            Self::Bidi => "a bidirectional control character",
            Self::Format => "an invisible formatting character",
            Self::Unassigned => "an unassigned or private-use character",
        }
    }
}

/// Classifies a character that would be invisible or misleading in displayed text.
pub fn hidden_character(c: char) -> Option<HiddenCharacter> {
    let cp = u32::from(c);
    if matches!(cp, 0x061C | 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069) {
        return Some(HiddenCharacter::Bidi);
    }
    match c.general_category() {
        GeneralCategory::Control => Some(HiddenCharacter::Control),
        GeneralCategory::Format => Some(HiddenCharacter::Format),
        GeneralCategory::Surrogate | GeneralCategory::PrivateUse | GeneralCategory::Unassigned => {
            Some(HiddenCharacter::Unassigned)
        }
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
            Some(HiddenCharacter::Control)
        }
        _ => None,
    }
}

/// The first hidden character in `s`, with its 1-based position.
pub fn first_hidden(s: &str) -> Option<(usize, char, HiddenCharacter)> {
    s.chars()
        .enumerate()
        .find_map(|(i, c)| hidden_character(c).map(|h| (i + 1, c, h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_dangerous_ones() {
        assert_eq!(hidden_character('\n'), Some(HiddenCharacter::Control));
        assert_eq!(hidden_character('\u{0}'), Some(HiddenCharacter::Control));
        assert_eq!(hidden_character('\u{85}'), Some(HiddenCharacter::Control));
        assert_eq!(hidden_character('\u{202E}'), Some(HiddenCharacter::Bidi));
        assert_eq!(hidden_character('\u{2067}'), Some(HiddenCharacter::Bidi));
        assert_eq!(hidden_character('\u{61C}'), Some(HiddenCharacter::Bidi));
        assert_eq!(hidden_character('\u{200B}'), Some(HiddenCharacter::Format));
        assert_eq!(hidden_character('\u{FEFF}'), Some(HiddenCharacter::Format));
        assert_eq!(
            hidden_character('\u{E000}'),
            Some(HiddenCharacter::Unassigned)
        );
        assert_eq!(hidden_character('\u{2028}'), Some(HiddenCharacter::Control));
        for ok in ['a', 'Æ', ' ', '€', '1', 'ß', '中'] {
            assert_eq!(hidden_character(ok), None, "{ok:?}");
        }
        assert_eq!(
            first_hidden("ab\u{200B}c"),
            Some((3, '\u{200B}', HiddenCharacter::Format))
        );
    }
}
