//! What the person is asked to do (log on, approve, sign...): chosen by the service
//! provider, shown on every login page and in the app, and signed with the answer.

use serde::{Deserialize, Serialize};

/// What the person is asked to do; shown in the header of every login page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    #[default]
    LogOn,
    Approve,
    Confirm,
    Accept,
    Sign,
}

impl Action {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "LOG_ON" => Self::LogOn,
            "APPROVE" => Self::Approve,
            "CONFIRM" => Self::Confirm,
            "ACCEPT" => Self::Accept,
            "SIGN" => Self::Sign,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LogOn => "LOG_ON",
            Self::Approve => "APPROVE",
            Self::Confirm => "CONFIRM",
            Self::Accept => "ACCEPT",
            Self::Sign => "SIGN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip() {
        for a in [
            Action::LogOn,
            Action::Approve,
            Action::Confirm,
            Action::Accept,
            Action::Sign,
        ] {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("log_on"), None);
    }
}
