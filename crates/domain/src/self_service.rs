//! The self-service site's session ("Min sesam"): a person who logged in to sesam itself
//! manages their identity for a short while. Its rules: an idle timeout and an absolute
//! lifetime (a forgotten browser on a shared computer is not an open door for long), and
//! the level each kind of action needs.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Level;
use crate::authorization::Authentication;
use crate::clock::Timestamp;

/// A session ends this long after its last request (OWASP: 15–30 minutes for a site
/// where a person changes their own security settings; the shorter end).
pub const IDLE_SECONDS: i64 = 15 * 60;
/// … and this long after the login, however busy it is: a new login then.
pub const ABSOLUTE_SECONDS: i64 = 60 * 60;

/// One self-service session, stored server-side under a keyed hash of its cookie value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfServiceSession {
    pub id_hash: [u8; 32],
    /// The login the session came from (who, with what, at what level, when).
    pub authentication: Authentication,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// The absolute end (`created_at` + [`ABSOLUTE_SECONDS`]).
    pub expires_at: Timestamp,
}

impl SelfServiceSession {
    /// A session starting now from `authentication`.
    pub fn start(id_hash: [u8; 32], authentication: Authentication, now: Timestamp) -> Self {
        Self {
            id_hash,
            authentication,
            created_at: now,
            last_seen_at: now,
            expires_at: now.plus_seconds(ABSOLUTE_SECONDS),
        }
    }

    /// Whether the session may still be used at `now`: not past its absolute end and
    /// not idle for [`IDLE_SECONDS`] or more.
    pub fn live(&self, now: Timestamp) -> bool {
        now < self.expires_at && now < self.last_seen_at.plus_seconds(IDLE_SECONDS)
    }

    pub fn identity_id(&self) -> Uuid {
        self.authentication.identity_id
    }

    /// Whether the login behind the session gives what `what` needs.
    pub fn allows(&self, what: SelfServiceAction) -> Result<(), LevelTooLow> {
        let required = what.required_level();
        if self.authentication.level >= required {
            Ok(())
        } else {
            Err(LevelTooLow { required })
        }
    }
}

/// What a person does in self-service, by what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelfServiceAction {
    /// Read the profile, authenticators, channels and activity.
    View,
    /// Block the identity: protective, so any login may do it (the person may have only
    /// a low-level identity, and a thief gains nothing from blocking).
    Block,
    /// Change what protects the identity or where its warnings go: revoke an
    /// authenticator, change channels, the password or the user ID (DESIGN §2, §6).
    Change,
}

impl SelfServiceAction {
    pub fn required_level(self) -> Level {
        match self {
            Self::View | Self::Block => Level::Low,
            Self::Change => Level::Substantial,
        }
    }
}

/// The login behind a session is below what an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this needs a login at level {required}")]
pub struct LevelTooLow {
    pub required: Level,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization::LoginMethod;

    fn session(level: Level) -> SelfServiceSession {
        SelfServiceSession::start(
            [1; 32],
            Authentication {
                identity_id: Uuid::nil(),
                method: LoginMethod::CodeDisplay,
                level,
                auth_time: Timestamp::from_millis(0),
                approval: None,
                approval_receipt: None,
            },
            Timestamp::from_millis(0),
        )
    }

    #[test]
    fn idle_and_absolute_ends() {
        let mut s = session(Level::Substantial);
        let t0 = s.created_at;
        assert!(s.live(t0.plus_seconds(IDLE_SECONDS - 1)));
        assert!(!s.live(t0.plus_seconds(IDLE_SECONDS)));
        // Busy all along: still ends at the absolute end.
        s.last_seen_at = t0.plus_seconds(ABSOLUTE_SECONDS - 60);
        assert!(s.live(t0.plus_seconds(ABSOLUTE_SECONDS - 1)));
        assert!(!s.live(t0.plus_seconds(ABSOLUTE_SECONDS)));
    }

    #[test]
    fn changes_need_substantial() {
        let low = session(Level::Low);
        assert_eq!(low.allows(SelfServiceAction::View), Ok(()));
        assert_eq!(low.allows(SelfServiceAction::Block), Ok(()));
        assert_eq!(
            low.allows(SelfServiceAction::Change),
            Err(LevelTooLow {
                required: Level::Substantial
            })
        );
        assert_eq!(
            session(Level::Substantial).allows(SelfServiceAction::Change),
            Ok(())
        );
    }
}
