//! The password's lockout, with attempts counted *before* they are evaluated.
//!
//! A password check runs Argon2id (tens of milliseconds), too long to hold a database lock
//! for (on SQLite that lock is the whole database). So an attempt first reserves one of the
//! remaining tries in a short transaction, is then verified without any lock, and is
//! settled in a second short transaction. Concurrent guesses therefore cannot get more
//! evaluations than the tries left: with two wrong entries recorded, only one attempt can
//! be in flight. A reservation left behind by a crashed node expires after a minute.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::lockout::{Attempt, Failure, Locked, Lockout, MAX_WRONG_IN_A_ROW};

/// How long a reserved attempt counts before it is presumed lost.
pub const RESERVATION_SECONDS: i64 = 60;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordGuard {
    pub lockout: Lockout,
    /// Attempts reserved and not yet settled.
    pub pending: i32,
    pub pending_since: Option<Timestamp>,
}

/// Why an attempt may not be evaluated now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Locked(Locked),
    /// Every remaining try is already being evaluated.
    Busy,
}

impl PasswordGuard {
    fn expire_reservations(&mut self, now: Timestamp) {
        if self
            .pending_since
            .is_some_and(|t| now >= t.plus_seconds(RESERVATION_SECONDS))
        {
            self.pending = 0;
            self.pending_since = None;
        }
    }

    /// Reserves one try, or refuses.
    pub fn reserve(&mut self, now: Timestamp) -> Result<(), Refusal> {
        self.expire_reservations(now);
        self.lockout.check(now).map_err(Refusal::Locked)?;
        if self.lockout.failures + self.pending >= MAX_WRONG_IN_A_ROW {
            return Err(Refusal::Busy);
        }
        self.pending += 1;
        self.pending_since = Some(now);
        Ok(())
    }

    fn release(&mut self) {
        self.pending = (self.pending - 1).max(0);
        if self.pending == 0 {
            self.pending_since = None;
        }
    }

    /// Settles a reserved try that was correct.
    pub fn succeed(&mut self) {
        self.release();
        self.lockout.succeed();
    }

    /// Settles a reserved try that was wrong; `attempt` says whether the other factor of
    /// the same attempt was right (see `lockout::Attempt`).
    pub fn fail(&mut self, now: Timestamp, attempt: Attempt) -> Failure {
        self.release();
        self.lockout.fail(now, attempt)
    }

    /// A completed two-channel activation lifts every lock of the password ("until
    /// re-activated" included); tries still being evaluated keep their reservation.
    pub fn reactivate(&mut self) {
        self.lockout.reactivate();
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const T: Timestamp = Timestamp::from_millis(1_000_000_000);

    #[test]
    fn three_wrong_lock() {
        let mut g = PasswordGuard::default();
        for remaining in [2, 1] {
            g.reserve(T).unwrap();
            assert_eq!(g.fail(T, Attempt::Informed), Failure::Wrong { remaining });
        }
        g.reserve(T).unwrap();
        assert!(matches!(
            g.fail(T, Attempt::Informed),
            Failure::LockedUntil(_)
        ));
        assert!(matches!(g.reserve(T), Err(Refusal::Locked(_))));
    }

    #[test]
    fn in_flight_attempts_use_up_the_tries() {
        let mut g = PasswordGuard::default();
        g.reserve(T).unwrap();
        g.reserve(T).unwrap();
        g.reserve(T).unwrap();
        assert_eq!(g.reserve(T), Err(Refusal::Busy));
        g.succeed();
        assert_eq!(g.pending, 2);
        assert_eq!(g.reserve(T), Ok(()));
    }

    #[test]
    fn lost_reservations_expire() {
        let mut g = PasswordGuard::default();
        for _ in 0..3 {
            g.reserve(T).unwrap();
        }
        assert_eq!(g.reserve(T), Err(Refusal::Busy));
        assert_eq!(g.reserve(T.plus_seconds(RESERVATION_SECONDS)), Ok(()));
    }

    #[test]
    fn reactivation_lifts_the_block() {
        let mut g = PasswordGuard::default();
        g.reserve(T).unwrap();
        g.lockout.blocked = true;
        assert_eq!(g.reserve(T), Err(Refusal::Locked(Locked::UntilReactivated)));
        g.reactivate();
        assert_eq!(g.lockout, Lockout::default());
        assert_eq!(g.pending, 1);
        assert_eq!(g.reserve(T), Ok(()));
    }

    proptest! {
        /// However reservations and outcomes interleave, no more tries are evaluated
        /// between two correct entries than the rule allows before a lock.
        #[test]
        fn never_more_than_three_wrong_evaluations_in_a_row(ops in proptest::collection::vec(0u8..4, 0..60)) {
            let mut g = PasswordGuard::default();
            let mut in_flight = 0;
            let mut wrong_since_lock_or_success = 0;
            for op in ops {
                match op {
                    0 if g.reserve(T).is_ok() => in_flight += 1,
                    1 | 3 if in_flight > 0 => {
                        in_flight -= 1;
                        wrong_since_lock_or_success += 1;
                        let attempt = if op == 1 { Attempt::Informed } else { Attempt::Uninformed };
                        if !matches!(g.fail(T, attempt), Failure::Wrong { .. }) {
                            prop_assert!(wrong_since_lock_or_success <= MAX_WRONG_IN_A_ROW);
                            wrong_since_lock_or_success = 0;
                        }
                    }
                    2 if in_flight > 0 => {
                        in_flight -= 1;
                        g.succeed();
                        wrong_since_lock_or_success = 0;
                    }
                    _ => {}
                }
                prop_assert!(wrong_since_lock_or_success < MAX_WRONG_IN_A_ROW + 1);
            }
        }
    }
}
