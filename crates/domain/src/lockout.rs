//! Lockout of one authenticator factor (DESIGN §3, MitID's published rule): 3 wrong
//! entries in a row lock it for 15 minutes; a third temporary lock within 24 hours locks
//! it until it is activated again. A correct entry resets the count.
//!
//! The state belongs to one factor of one identity, so locking the code display leaves
//! the app usable. Storage evaluates attempts one at a time per factor (row lock), so
//! concurrent guesses cannot get more than three evaluations.
//!
//! Only *informed* wrong entries count toward the lock that needs re-activation: ones that
//! came with another factor of the person that was right (the app's device key for its
//! PIN, the password for the code display's code, the code display or chip for the
//! password). Anyone who knows a user ID can make uninformed wrong entries, so they lock
//! for 15 minutes at most: otherwise a stranger could push a person into a lock that
//! needs a new letter (docs/threat-model.md, "Lockout rules and why").

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

/// What else was right in an attempt whose entry for this factor was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Another factor of the person was right in the same attempt: whoever made it holds
    /// part of the person's means, so repeated runs escalate to "until re-activated".
    Informed,
    /// Nothing else was shown to be right; anyone who knows the user ID can make it. It
    /// can lock for 15 minutes but never counts toward the lock that needs re-activation.
    Uninformed,
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

    /// Re-activation: the person proved two independent factors again, so every lock of
    /// this factor, "until re-activated" included, is lifted and its history forgotten.
    pub fn reactivate(&mut self) {
        *self = Self::default();
    }

    /// Counts a wrong entry. The entry that completes a run of three decides whether the
    /// temporary lock counts toward the 24-hour escalation.
    pub fn fail(&mut self, now: Timestamp, attempt: Attempt) -> Failure {
        self.failures += 1;
        if self.failures < MAX_WRONG_IN_A_ROW {
            return Failure::Wrong {
                remaining: MAX_WRONG_IN_A_ROW - self.failures,
            };
        }
        self.failures = 0;
        let until = now.plus_seconds(TEMPORARY_LOCK_SECONDS);
        if attempt == Attempt::Uninformed {
            self.locked_until = Some(until);
            return Failure::LockedUntil(until);
        }
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
        assert_eq!(
            l.fail(T, Attempt::Informed),
            Failure::Wrong { remaining: 2 }
        );
        assert_eq!(
            l.fail(T, Attempt::Informed),
            Failure::Wrong { remaining: 1 }
        );
        let until = T.plus_seconds(900);
        assert_eq!(l.fail(T, Attempt::Informed), Failure::LockedUntil(until));
        assert_eq!(l.check(T.plus_seconds(899)), Err(Locked::Until(until)));
        assert_eq!(l.check(until), Ok(()));
    }

    #[test]
    fn a_correct_entry_resets_the_count() {
        let mut l = Lockout::default();
        l.fail(T, Attempt::Informed);
        l.fail(T, Attempt::Informed);
        l.succeed();
        assert_eq!(
            l.fail(T, Attempt::Informed),
            Failure::Wrong { remaining: 2 }
        );
    }

    #[test]
    fn third_temporary_lock_in_a_day_blocks() {
        let mut l = Lockout::default();
        let mut t = T;
        for _ in 0..2 {
            l.fail(t, Attempt::Informed);
            l.fail(t, Attempt::Informed);
            assert!(matches!(
                l.fail(t, Attempt::Informed),
                Failure::LockedUntil(_)
            ));
            t = t.plus_seconds(901);
        }
        l.fail(t, Attempt::Informed);
        l.fail(t, Attempt::Informed);
        assert_eq!(l.fail(t, Attempt::Informed), Failure::Blocked);
        assert_eq!(l.check(t.plus_days(30)), Err(Locked::UntilReactivated));
    }

    #[test]
    fn temporary_locks_older_than_a_day_do_not_count() {
        let mut l = Lockout::default();
        let mut t = T;
        for _ in 0..5 {
            l.fail(t, Attempt::Informed);
            l.fail(t, Attempt::Informed);
            assert!(matches!(
                l.fail(t, Attempt::Informed),
                Failure::LockedUntil(_)
            ));
            t = t.plus_seconds(13 * 3600);
        }
        assert!(!l.blocked);
    }

    #[test]
    fn uninformed_runs_lock_for_fifteen_minutes_and_never_escalate() {
        let mut l = Lockout::default();
        let mut t = T;
        for _ in 0..10 {
            l.fail(t, Attempt::Uninformed);
            l.fail(t, Attempt::Uninformed);
            let until = t.plus_seconds(TEMPORARY_LOCK_SECONDS);
            assert_eq!(l.fail(t, Attempt::Uninformed), Failure::LockedUntil(until));
            assert_eq!(l.check(until), Ok(()));
            t = until;
        }
        assert!(!l.blocked);
        assert_eq!(l.temporary_locks, 0);
    }

    #[test]
    fn the_entry_that_completes_a_run_decides_whether_it_escalates() {
        let mut l = Lockout::default();
        let mut t = T;
        for _ in 0..2 {
            l.fail(t, Attempt::Uninformed);
            l.fail(t, Attempt::Uninformed);
            l.fail(t, Attempt::Informed);
            t = t.plus_seconds(TEMPORARY_LOCK_SECONDS);
        }
        // Interleaved uninformed runs neither count nor reset the escalation.
        l.fail(t, Attempt::Uninformed);
        l.fail(t, Attempt::Uninformed);
        assert!(matches!(
            l.fail(t, Attempt::Uninformed),
            Failure::LockedUntil(_)
        ));
        t = t.plus_seconds(TEMPORARY_LOCK_SECONDS);
        l.fail(t, Attempt::Informed);
        l.fail(t, Attempt::Informed);
        assert_eq!(l.fail(t, Attempt::Informed), Failure::Blocked);
    }

    #[test]
    fn reactivation_lifts_the_block() {
        let mut l = Lockout {
            blocked: true,
            temporary_locks: 3,
            window_start: Some(T),
            ..Lockout::default()
        };
        assert_eq!(l.check(T), Err(Locked::UntilReactivated));
        l.reactivate();
        assert_eq!(l, Lockout::default());
        assert_eq!(l.check(T), Ok(()));
    }

    fn attempt() -> impl Strategy<Value = Attempt> {
        prop_oneof![Just(Attempt::Informed), Just(Attempt::Uninformed)]
    }

    proptest! {
        #[test]
        fn never_more_than_three_evaluations_between_locks(steps in proptest::collection::vec((0i64..2000, attempt()), 1..60)) {
            let mut l = Lockout::default();
            let mut t = T;
            let mut evaluated_since_lock = 0;
            for (dt, a) in steps {
                t = t.plus_seconds(dt);
                if l.check(t).is_err() {
                    continue;
                }
                evaluated_since_lock += 1;
                prop_assert!(evaluated_since_lock <= MAX_WRONG_IN_A_ROW);
                if !matches!(l.fail(t, a), Failure::Wrong { .. }) {
                    evaluated_since_lock = 0;
                }
            }
        }

        /// Someone who only knows the user ID (every wrong entry uninformed) can never
        /// reach the lock that needs re-activation, however they time their guesses; a lock
        /// they cause ends 15 minutes after it began.
        #[test]
        fn uninformed_entries_never_need_reactivation(steps in proptest::collection::vec(0i64..4000, 1..200)) {
            let mut l = Lockout::default();
            let mut t = T;
            for dt in steps {
                t = t.plus_seconds(dt);
                if l.check(t).is_err() {
                    continue;
                }
                match l.fail(t, Attempt::Uninformed) {
                    Failure::Blocked => prop_assert!(false, "an uninformed entry blocked"),
                    Failure::LockedUntil(until) => {
                        prop_assert_eq!(until, t.plus_seconds(TEMPORARY_LOCK_SECONDS));
                        prop_assert_eq!(l.check(until), Ok(()));
                    }
                    Failure::Wrong { .. } => {}
                }
                prop_assert!(!l.blocked);
            }
        }

        /// The lock that needs re-activation comes only after three runs completed by
        /// informed entries within 24 hours, whatever uninformed entries come between.
        #[test]
        fn blocking_needs_three_informed_runs_in_a_day(steps in proptest::collection::vec((0i64..20_000, attempt()), 1..200)) {
            let mut l = Lockout::default();
            let mut t = T;
            let mut informed_locks: Vec<Timestamp> = vec![];
            for (dt, a) in steps {
                t = t.plus_seconds(dt);
                if l.check(t).is_err() {
                    continue;
                }
                match l.fail(t, a) {
                    Failure::Wrong { .. } => {}
                    Failure::LockedUntil(_) => {
                        if a == Attempt::Informed {
                            informed_locks.push(t);
                        }
                    }
                    Failure::Blocked => {
                        prop_assert_eq!(a, Attempt::Informed);
                        informed_locks.push(t);
                        let day_ago = t.plus_seconds(-TEMPORARY_LOCK_WINDOW_SECONDS);
                        let recent = informed_locks.iter().filter(|x| **x > day_ago).count();
                        prop_assert!(recent >= TEMPORARY_LOCKS_BEFORE_BLOCK as usize);
                        break;
                    }
                }
            }
        }
    }
}
