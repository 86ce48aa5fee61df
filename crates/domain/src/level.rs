//! Assurance levels (eIDAS LoA / NSIS): low < substantial < high.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Low,
    Substantial,
    High,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown level '{0}': use low, substantial or high")]
pub struct UnknownLevel(pub String);

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Substantial => "substantial",
            Self::High => "high",
        }
    }

    /// The `acr` value an ID token carries for this level.
    pub fn acr(self) -> &'static str {
        match self {
            Self::Low => "http://eidas.europa.eu/LoA/low",
            Self::Substantial => "http://eidas.europa.eu/LoA/substantial",
            Self::High => "http://eidas.europa.eu/LoA/high",
        }
    }
}

impl FromStr for Level {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "low" => Ok(Self::Low),
            "substantial" => Ok(Self::Substantial),
            "high" => Ok(Self::High),
            other => Err(UnknownLevel(other.chars().take(40).collect())),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_and_round_trips() {
        assert!(Level::Low < Level::Substantial && Level::Substantial < Level::High);
        for l in [Level::Low, Level::Substantial, Level::High] {
            assert_eq!(l.as_str().parse::<Level>(), Ok(l));
        }
        assert_eq!(Level::Low.min(Level::High), Level::Low);
        assert!("medium".parse::<Level>().is_err());
    }
}
