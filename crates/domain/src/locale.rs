//! The languages of sesam's pages (the service provider's `ui_locales` or the browser's
//! `Accept-Language` picks one).

use serde::{Deserialize, Serialize};

/// The UI languages sesam speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    Da,
    En,
}

impl Locale {
    /// The first supported tag of a preference list (`ui_locales` or `Accept-Language`),
    /// matched on the primary subtag (`en-GB` is English).
    pub fn first_supported<'a>(tags: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        tags.into_iter().find_map(|t| {
            let primary = t.trim().split(['-', '_', ';']).next()?.to_ascii_lowercase();
            match primary.as_str() {
                "da" => Some(Self::Da),
                "en" => Some(Self::En),
                _ => None,
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Da => "da",
            Self::En => "en",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_match_on_the_primary_subtag() {
        assert_eq!(
            Locale::first_supported(["fr", "en-GB", "da"]),
            Some(Locale::En)
        );
        assert_eq!(Locale::first_supported(["da-DK;q=0.9"]), Some(Locale::Da));
        assert_eq!(Locale::first_supported(["de", ""]), None);
    }
}
