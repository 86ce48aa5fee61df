//! Lockout of one authenticator factor (DESIGN §3, MitID's published rule): 3 wrong
//! entries in a row lock it for 15 minutes; a third temporary lock within 24 hours locks
//! it until it is activated again. A correct entry resets the count.
//!
//! The state belongs to one factor of one identity, so locking the code display leaves
//! the app usable. Storage evaluates attempts one at a time per factor (row lock), so
//! concurrent guesses cannot get more than three evaluations.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

pub const MAX_WRONG_IN_A_ROW: i32 = 3;
pub const TEMPORARY_LOCK_SECONDS: i64 = 15 * 60;
pub const TEMPORARY_LOCKS_BEFORE_BLOCK: i32 = 3;
pub const TEMPORARY_LOCK_WINDOW_SECONDS: i64 = 24 * 3600;

/// The counters of one factor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockout {
    pub failures: i32,
    pub locked_until: Option<Timestamp>,
    /// Temporary locks since `window_start`.
    pub temporary_locks: i32,
    pub window_start: Option<Timestamp>,
    /// Locked until re-activated.
    pub blocked: bool,
}

/// Why a factor refuses attempts now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    Until(Timestamp),
    UntilReactivated,
}

/// What one wrong entry led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Wrong; this many tries remain before a lock.
    Wrong { remaining: i32 },
    /// Wrong, and now locked for 15 minutes.
    LockedUntil(Timestamp),
    /// Wrong, and now locked until re-activation.
    Blocked,
}

impl Lockout {
    /// Refuses evaluation while locked.
    pub fn check(&self, now: Timestamp) -> Result<(), Locked> {
        if self.blocked {
            return Err(Locked::UntilReactivated);
        }
        match self.locked_until {
            Some(until) if now < until => Err(Locked::Until(until)),
            _ => Ok(()),
        }
    }

    pub fn succeed(&mut self) {
        self.failures = 0;
        self.locked_until = None;
    }

    pub fn fail(&mut self, now: Timestamp) -> Failure {
        self.failures += 1;
        if self.failures < MAX_WRONG_IN_A_ROW {
            return Failure::Wrong {
                remaining: MAX_WRONG_IN_A_ROW - self.failures,
            };
        }
        self.failures = 0;
        let window_open = self
            .window_start
            .is_some_and(|start| now < start.plus_seconds(TEMPORARY_LOCK_WINDOW_SECONDS));
        if !window_open {
            self.window_start = Some(now);
            self.temporary_locks = 0;
        }
        self.temporary_locks += 1;
        if self.temporary_locks >= TEMPORARY_LOCKS_BEFORE_BLOCK {
            self.blocked = true;
            self.locked_until = None;
            return Failure::Blocked;
        }
        let until = now.plus_seconds(TEMPORARY_LOCK_SECONDS);
        self.locked_until = Some(until);
        Failure::LockedUntil(until)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const T: Timestamp = Timestamp::from_millis(1_000_000_000);

    #[test]
    fn three_wrong_lock_for_fifteen_minutes() {
        let mut l = Lockout::default();
        assert_eq!(l.fail(T), Failure::Wrong { remaining: 2 });
        assert_eq!(l.fail(T), Failure::Wrong { remaining: 1 });
        let until = T.plus_seconds(900);
        assert_eq!(l.fail(T), Failure::LockedUntil(until));
        assert_eq!(l.check(T.plus_seconds(899)), Err(Locked::Until(until)));
        assert_eq!(l.check(until), Ok(()));
    }

    #[test]
    fn a_correct_entry_resets_the_count() {
        let mut l = Lockout::default();
        l.fail(T);
        l.fail(T);
        l.succeed();
        assert_eq!(l.fail(T), Failure::Wrong { remaining: 2 });
    }

    #[test]
    fn third_temporary_lock_in_a_day_blocks() {
        let mut l = Lockout::default();
        let mut t = T;
        for _ in 0..2 {
            l.fail(t);
            l.fail(t);
            assert!(matches!(l.fail(t), Failure::LockedUntil(_)));
            t = t.plus_seconds(901);
        }
        l.fail(t);
        l.fail(t);
        assert_eq!(l.fail(t), Failure::Blocked);
        assert_eq!(l.check(t.plus_days(30)), Err(Locked::UntilReactivated));
    }

    #[test]
    fn temporary_locks_older_than_a_day_do_not_count() {
        let mut l = Lockout::default();
        let mut t = T;
        for _ in 0..5 {
            l.fail(t);
            l.fail(t);
            assert!(matches!(l.fail(t), Failure::LockedUntil(_)));
            t = t.plus_seconds(13 * 3600);
        }
        assert!(!l.blocked);
    }

    proptest! {
        #[test]
        fn never_more_than_three_evaluations_between_locks(steps in proptest::collection::vec(0i64..2000, 1..60)) {
            let mut l = Lockout::default();
            let mut t = T;
            let mut evaluated_since_lock = 0;
            for dt in steps {
                t = t.plus_seconds(dt);
                if l.check(t).is_err() {
                    continue;
                }
                evaluated_since_lock += 1;
                prop_assert!(evaluated_since_lock <= MAX_WRONG_IN_A_ROW);
                if !matches!(l.fail(t), Failure::Wrong { .. }) {
                    evaluated_since_lock = 0;
                }
            }
        }
    }
}
