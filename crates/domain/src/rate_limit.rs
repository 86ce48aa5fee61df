//! The token bucket behind the per-address limits of unauthenticated endpoints: up to
//! `per_minute` requests at once, then one more every `60 / per_minute` seconds. A bucket
//! (rather than a fixed window) never lets twice the limit through across a window's end,
//! and says exactly when the next request will be taken (`Retry-After`).
//!
//! Integer arithmetic only: the bucket holds "units", 60,000 per request, and gains
//! `per_minute` units each millisecond, so a full refill takes exactly one minute.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
