//! The limits on how often and how many.
//!
//! **The token bucket** behind the per-address limits of unauthenticated endpoints: up to
//! `per_minute` requests at once, then one more every `60 / per_minute` seconds. A bucket
//! (rather than a fixed window) never lets twice the limit through across a window's end,
//! and says exactly when the next request will be taken (`Retry-After`).
//!
//! Integer arithmetic only: the bucket holds "units", 60,000 per request, and gains
//! `per_minute` units each millisecond, so a full refill takes exactly one minute.
//!
//! **Fixed windows** ([`RateWindow`], [`WindowLimit`]) count the starts of login requests and
//! pairings: one stored counter per key and window, so checking a limit costs the same
//! however busy a key is. **The pending cap** ([`PendingCap`]) says which waiting requests a
//! new one pushes out, so that someone else's requests cannot crowd out the person's own.
//! The store applies these rules inside the transaction that counts and inserts.

use crate::Timestamp;

/// Units one request costs (a minute in milliseconds: see the module text).
const UNITS_PER_REQUEST: i64 = 60_000;

/// How many requests a minute one key may make (and how many at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    per_minute: u32,
}

impl Rate {
    /// At least one a minute.
    pub fn per_minute(n: u32) -> Self {
        Self {
            per_minute: n.max(1),
        }
    }

    pub fn requests_per_minute(self) -> u32 {
        self.per_minute
    }

    fn capacity(self) -> i64 {
        i64::from(self.per_minute) * UNITS_PER_REQUEST
    }
}

/// Refused: try again after this many whole seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter {
    pub seconds: u64,
}

/// One key's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    units: i64,
    at: Timestamp,
}

impl TokenBucket {
    pub fn full(rate: Rate, now: Timestamp) -> Self {
        Self {
            units: rate.capacity(),
            at: now,
        }
    }

    /// The units at `now` (a clock that went back refills nothing and takes nothing).
    fn level(&self, rate: Rate, now: Timestamp) -> i64 {
        let elapsed = (now.millis() - self.at.millis()).max(0);
        self.units
            .saturating_add(elapsed.saturating_mul(i64::from(rate.per_minute)))
            .min(rate.capacity())
    }

    /// Takes one request, or says how long until one can be taken.
    pub fn take(&mut self, rate: Rate, now: Timestamp) -> Result<(), RetryAfter> {
        let level = self.level(rate, now);
        let at = now.max(self.at);
        if level >= UNITS_PER_REQUEST {
            self.units = level - UNITS_PER_REQUEST;
            self.at = at;
            return Ok(());
        }
        self.units = level;
        self.at = at;
        // Both positive here, so the sums round up.
        let per_ms = i64::from(rate.per_minute);
        let missing_ms = (UNITS_PER_REQUEST - level + per_ms - 1) / per_ms;
        let seconds = u64::try_from((missing_ms + 999) / 1000)
            .unwrap_or(60)
            .max(1);
        Err(RetryAfter { seconds })
    }

    /// Whether the bucket has refilled completely (then it can be forgotten: a new full
    /// bucket is the same).
    pub fn is_full(&self, rate: Rate, now: Timestamp) -> bool {
        self.level(rate, now) >= rate.capacity()
    }
}

/// A fixed counting window of whole seconds (at least one), aligned to the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    millis: i64,
}

impl RateWindow {
    pub fn seconds(seconds: i64) -> Self {
        Self {
            millis: seconds.max(1).saturating_mul(1000),
        }
    }

    /// The start of the window that holds `t` (the key its starts are counted under).
    pub fn start(self, t: Timestamp) -> Timestamp {
        let ms = t.millis();
        Timestamp::from_millis(ms.saturating_sub(ms.rem_euclid(self.millis)))
    }

    /// Whole seconds from `now` until the window that holds it ends (what a refused start
    /// is told to wait, as `Retry-After`).
    pub fn retry_after_seconds(self, now: Timestamp) -> i64 {
        let left_ms = self.millis - now.millis().rem_euclid(self.millis);
        (left_ms + 999) / 1000
    }
}

/// At most this many starts per key and window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimit {
    max: i64,
}

impl WindowLimit {
    pub fn at_most(max: i64) -> Self {
        Self { max }
    }

    /// Whether a start may go ahead, given the window's count including this start.
    pub fn admits(self, counted: i64) -> bool {
        counted <= self.max
    }
}

/// At most this many requests of one kind wait for one person at once, the new one
/// included: a new request pushes out the oldest (so a flood of strangers' requests
/// cannot block the person's own, it only replaces itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingCap {
    max_pending: i64,
}

impl PendingCap {
    pub fn at_most(max_pending: i64) -> Self {
        Self { max_pending }
    }

    /// Which of the waiting requests (`pending`, oldest first) a new one evicts: the oldest
    /// ones beyond the room left for it.
    pub fn evicted<T>(self, mut pending: Vec<T>) -> Vec<T> {
        let room = usize::try_from(self.max_pending.saturating_sub(1)).unwrap_or(0);
        let excess = pending.len().saturating_sub(room);
        pending.truncate(excess);
        pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(1_000_000 + ms)
    }

    #[test]
    fn a_burst_up_to_the_rate_then_refusals_with_the_wait() {
        let rate = Rate::per_minute(3);
        let mut b = TokenBucket::full(rate, t(0));
        for _ in 0..3 {
            assert_eq!(b.take(rate, t(0)), Ok(()));
        }
        // One request comes back every 20 seconds.
        assert_eq!(b.take(rate, t(0)), Err(RetryAfter { seconds: 20 }));
        assert_eq!(b.take(rate, t(19_001)), Err(RetryAfter { seconds: 1 }));
        assert_eq!(b.take(rate, t(20_000)), Ok(()));
        assert_eq!(b.take(rate, t(20_000)), Err(RetryAfter { seconds: 20 }));
        // A full minute refills all, never more than the rate.
        assert!(b.is_full(rate, t(80_000)));
        for _ in 0..3 {
            assert_eq!(b.take(rate, t(500_000)), Ok(()));
        }
        assert!(b.take(rate, t(500_000)).is_err());
    }

    #[test]
    fn a_clock_that_goes_back_gives_nothing() {
        let rate = Rate::per_minute(1);
        let mut b = TokenBucket::full(rate, t(60_000));
        assert_eq!(b.take(rate, t(60_000)), Ok(()));
        assert!(b.take(rate, t(0)).is_err());
        assert!(b.take(rate, t(60_000)).is_err());
        assert_eq!(b.take(rate, t(120_000)), Ok(()));
    }

    #[test]
    fn large_rates_and_long_idles_do_not_overflow() {
        let rate = Rate::per_minute(u32::MAX);
        let mut b = TokenBucket::full(rate, Timestamp::from_millis(i64::MIN / 2));
        assert_eq!(b.take(rate, Timestamp::from_millis(i64::MAX / 2)), Ok(()));
        assert_eq!(Rate::per_minute(0).requests_per_minute(), 1);
    }

    #[test]
    fn windows_are_aligned_to_the_epoch() {
        let w = RateWindow::seconds(600);
        assert_eq!(
            w.start(Timestamp::from_millis(0)),
            Timestamp::from_millis(0)
        );
        assert_eq!(
            w.start(Timestamp::from_millis(599_999)),
            Timestamp::from_millis(0)
        );
        assert_eq!(
            w.start(Timestamp::from_millis(600_000)),
            Timestamp::from_millis(600_000)
        );
        assert_eq!(
            w.start(Timestamp::from_millis(-1)),
            Timestamp::from_millis(-600_000)
        );
        // A window shorter than a second is a second.
        assert_eq!(RateWindow::seconds(0), RateWindow::seconds(1));
        assert_eq!(w.retry_after_seconds(Timestamp::from_millis(0)), 600);
        assert_eq!(w.retry_after_seconds(Timestamp::from_millis(599_001)), 1);
    }

    #[test]
    fn a_limit_admits_up_to_its_maximum() {
        let limit = WindowLimit::at_most(3);
        assert!(limit.admits(1));
        assert!(limit.admits(3));
        assert!(!limit.admits(4));
        assert!(!WindowLimit::at_most(0).admits(1));
    }

    #[test]
    fn a_new_request_evicts_the_oldest_beyond_the_cap() {
        let cap = PendingCap::at_most(3);
        assert_eq!(cap.evicted(Vec::<u8>::new()), Vec::<u8>::new());
        assert_eq!(cap.evicted(vec![1, 2]), Vec::<u8>::new());
        assert_eq!(cap.evicted(vec![1, 2, 3]), vec![1]);
        assert_eq!(cap.evicted(vec![1, 2, 3, 4, 5]), vec![1, 2, 3]);
        // A cap of one (or less) leaves only the new one.
        assert_eq!(PendingCap::at_most(1).evicted(vec![1, 2]), vec![1, 2]);
        assert_eq!(PendingCap::at_most(0).evicted(vec![1, 2]), vec![1, 2]);
        assert_eq!(PendingCap::at_most(-5).evicted(vec![1]), vec![1]);
    }

    proptest! {
        #[test]
        fn a_window_holds_its_times_and_ends_when_it_says(
            seconds in -10i64..100_000,
            t in -(1i64 << 50)..(1i64 << 50),
        ) {
            let w = RateWindow::seconds(seconds);
            let len = seconds.max(1) * 1000;
            let start = w.start(Timestamp::from_millis(t)).millis();
            prop_assert!(start <= t && t < start + len);
            prop_assert_eq!(start.rem_euclid(len), 0);
            let wait = w.retry_after_seconds(Timestamp::from_millis(t));
            prop_assert!(wait >= 1 && wait <= seconds.max(1));
            // Waiting that long lands in the next window.
            prop_assert_eq!(
                w.start(Timestamp::from_millis(t + wait * 1000)).millis(),
                start + len
            );
        }

        #[test]
        fn the_cap_leaves_room_for_exactly_the_new_one(
            max in -3i64..10,
            pending in 0usize..20,
        ) {
            let all: Vec<usize> = (0..pending).collect();
            let evicted = PendingCap::at_most(max).evicted(all.clone());
            let left = pending - evicted.len();
            // The oldest go, and what stays (with the new one) fits the cap.
            prop_assert_eq!(&evicted[..], &all[..evicted.len()]);
            prop_assert!((left as i64) < max.max(1));
            // Nothing is evicted that need not be.
            prop_assert!(evicted.is_empty() || left as i64 + 1 == max.max(1));
        }
    }
}
