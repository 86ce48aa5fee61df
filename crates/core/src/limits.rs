//! Per-address limits for unauthenticated endpoints that do work or let someone guess
//! (activation codes, user IDs, factors, client credentials): a token bucket per group of
//! endpoints and source address, in this node's memory (see `docs/architecture.md` for
//! why not a crate or the database). The HTTP layer asks [`SourceLimiter::check`] and
//! answers 429 with `Retry-After`; anything else with an address (pairing, say) can add
//! a [`LimitGroup`] and ask the same way.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use sesam_domain::rate_limit::{Rate, RetryAfter, TokenBucket};
use sesam_domain::{Clock, Timestamp};

/// Endpoints that share one budget per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitGroup {
    /// Activation with a letter (start, complete), code-display activation with a
    /// letter, and finishing a chip registration.
    Activation,
    /// The login pages' posts: user ID, code display, chip challenge, chip.
    Login,
    /// The authorization endpoint (each request creates a login flow).
    Authorize,
    /// The client-authenticated back channel: PAR, token, CIBA start.
    BackChannel,
}

impl LimitGroup {
    pub const ALL: [Self; 4] = [
        Self::Activation,
        Self::Login,
        Self::Authorize,
        Self::BackChannel,
    ];

    /// The name in configuration keys and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activation => "activation",
            Self::Login => "login",
            Self::Authorize => "authorize",
            Self::BackChannel => "backchannel",
        }
    }
}

/// Requests per minute (and at once) per address, per group. The defaults suit people at
/// home and SPs' servers; where many people share an address (carrier NAT, a company
/// proxy) the operator raises them (`docs/operations.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLimits {
    pub activation: u32,
    pub login: u32,
    pub authorize: u32,
    pub backchannel: u32,
}

impl Default for SourceLimits {
    fn default() -> Self {
        Self {
            activation: 30,
            login: 120,
            authorize: 120,
            backchannel: 6000,
        }
    }
}

impl SourceLimits {
    pub fn per_minute(&self, group: LimitGroup) -> u32 {
        match group {
            LimitGroup::Activation => self.activation,
            LimitGroup::Login => self.login,
            LimitGroup::Authorize => self.authorize,
            LimitGroup::BackChannel => self.backchannel,
        }
    }

    pub fn set(&mut self, group: LimitGroup, per_minute: u32) {
        match group {
            LimitGroup::Activation => self.activation = per_minute,
            LimitGroup::Login => self.login = per_minute,
            LimitGroup::Authorize => self.authorize = per_minute,
            LimitGroup::BackChannel => self.backchannel = per_minute,
        }
    }
}

/// Addresses tracked at most (all groups together). When full, addresses whose buckets
/// have refilled are forgotten; if none has, a new address is let through untracked, so
/// that someone with very many addresses cannot shut everyone else out (the per-person
/// lockouts still hold for them).
const MAX_TRACKED: usize = 200_000;

/// How often a full table may be swept: a sweep looks at every bucket under the lock, so
/// a stream of new addresses must not trigger one per request.
const SWEEP_EVERY_MS: i64 = 1_000;

/// The source of a request as limits see it: an IPv4 address, or an IPv6 /64 (one
/// household or phone gets a whole /64, so single IPv6 addresses would cost nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKey {
    V4(u32),
    V6Prefix64(u64),
}

impl SourceKey {
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::V4(u32::from(v4)),
            IpAddr::V6(v6) => Self::V6Prefix64((u128::from(v6) >> 64) as u64),
        }
    }
}

/// The buckets of this node.
pub struct SourceLimiter {
    limits: SourceLimits,
    clock: Arc<dyn Clock>,
    buckets: Mutex<Buckets>,
}

#[derive(Default)]
struct Buckets {
    by_source: HashMap<(LimitGroup, SourceKey), TokenBucket>,
    /// When a full table was last swept.
    swept_at: Option<Timestamp>,
}

impl SourceLimiter {
    pub fn new(limits: SourceLimits, clock: Arc<dyn Clock>) -> Self {
        Self {
            limits,
            clock,
            buckets: Mutex::new(Buckets::default()),
        }
    }

    /// Takes one request of `group` from `ip`, or says when to come back.
    pub fn check(&self, group: LimitGroup, ip: IpAddr) -> Result<(), RetryAfter> {
        let rate = Rate::per_minute(self.limits.per_minute(group));
        let now = self.clock.now();
        let key = (group, SourceKey::of(ip));
        // A poisoned lock only means another request panicked mid-update of a counter.
        let mut guard = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let Buckets {
            by_source: buckets,
            swept_at,
        } = &mut *guard;
        if !buckets.contains_key(&key) && buckets.len() >= MAX_TRACKED {
            let due = swept_at.is_none_or(|t| now.millis() - t.millis() >= SWEEP_EVERY_MS);
            if due {
                let limits = self.limits;
                buckets
                    .retain(|(g, _), b| !b.is_full(Rate::per_minute(limits.per_minute(*g)), now));
                *swept_at = Some(now);
            }
            if buckets.len() >= MAX_TRACKED {
                tracing::warn!(
                    "too many addresses to track for request limits; letting one through"
                );
                return Ok(());
            }
        }
        let result = buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::full(rate, now))
            .take(rate, now);
        if result.is_err() {
            metrics::counter!("sesam_requests_limited_total", "group" => group.as_str())
                .increment(1);
        }
        result
    }
}

/// How many pairings (a new app asking to be activated) may be started in a 10-minute
/// window: for one person, from any address, and from one address for anyone. Anyone who
/// knows a user ID can ask, and each request is told to the person on every channel, so
/// the first bounds the messages an asker can cause; the second is raised for carrier NAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairingLimits {
    pub per_person: i64,
    pub per_source: i64,
}

impl PairingLimits {
    /// What a new pairing is checked against.
    pub fn limits(&self) -> sesam_store::PairingLimits {
        use sesam_domain::pairing::{MAX_PENDING_PAIRINGS, PAIRING_WINDOW_SECONDS};
        sesam_store::PairingLimits {
            max_pending: MAX_PENDING_PAIRINGS,
            max_per_subject: self.per_person,
            max_per_source: self.per_source,
            window_seconds: PAIRING_WINDOW_SECONDS,
        }
    }
}

impl Default for PairingLimits {
    fn default() -> Self {
        Self {
            per_person: sesam_domain::pairing::MAX_PAIRINGS_PER_PERSON,
            per_source: sesam_domain::pairing::MAX_PAIRINGS_PER_SOURCE,
        }
    }
}

/// How many login and approval requests may be started in a 10-minute window: for one
/// person from one address, and from one address for anyone. The defaults suit people
/// at home; an operator whose users share addresses (carrier NAT) raises the second, and
/// the benchmark raises both (all its people come from one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    pub per_person: i64,
    pub per_source: i64,
}

impl RequestLimits {
    /// What a new login or approval request is checked against at `now`.
    pub fn start_limits(&self, now: sesam_domain::Timestamp) -> sesam_store::StartLimits {
        use sesam_domain::auth_request::{
            MAX_PENDING_PER_IDENTITY, NOT_ME_BLOCK_SECONDS, START_WINDOW_SECONDS,
        };
        sesam_store::StartLimits {
            max_pending: MAX_PENDING_PER_IDENTITY,
            max_started: self.per_person,
            max_per_source: self.per_source,
            window_seconds: START_WINDOW_SECONDS,
            reported_since: now.plus_seconds(-NOT_ME_BLOCK_SECONDS),
        }
    }
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            per_person: sesam_domain::auth_request::MAX_STARTED_PER_WINDOW,
            per_source: sesam_domain::auth_request::MAX_STARTED_PER_SOURCE,
        }
    }
}

#[cfg(test)]
mod tests {
    use sesam_domain::{FixedClock, Timestamp};

    use super::*;

    #[test]
    fn addresses_and_groups_have_their_own_buckets() {
        let clock = Arc::new(FixedClock::at(Timestamp::from_millis(1_000_000)));
        let limiter = SourceLimiter::new(
            SourceLimits {
                activation: 2,
                ..SourceLimits::default()
            },
            clock.clone(),
        );
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limiter.check(LimitGroup::Activation, a).is_ok());
        assert!(limiter.check(LimitGroup::Activation, a).is_ok());
        let refused = limiter.check(LimitGroup::Activation, a).unwrap_err();
        assert_eq!(refused.seconds, 30);
        assert!(limiter.check(LimitGroup::Activation, b).is_ok());
        assert!(limiter.check(LimitGroup::Login, a).is_ok());
        clock.advance_seconds(30);
        assert!(limiter.check(LimitGroup::Activation, a).is_ok());
        assert!(limiter.check(LimitGroup::Activation, a).is_err());
    }

    #[test]
    fn a_full_table_lets_new_addresses_through_and_forgets_refilled_ones() {
        let clock = Arc::new(FixedClock::at(Timestamp::from_millis(1_000_000)));
        let limiter = SourceLimiter::new(SourceLimits::default(), clock.clone());
        let v4 = |n: u32| IpAddr::from(std::net::Ipv4Addr::from(n));
        for n in 0..MAX_TRACKED as u32 {
            assert!(limiter.check(LimitGroup::Login, v4(n)).is_ok());
        }
        let tracked = || limiter.buckets.lock().unwrap().by_source.len();
        // Nothing has refilled: a newcomer passes untracked (after one sweep).
        assert!(limiter.check(LimitGroup::Login, v4(u32::MAX)).is_ok());
        assert_eq!(tracked(), MAX_TRACKED);
        // A minute later every bucket has refilled: the next newcomer sweeps them away
        // and is tracked.
        clock.advance_seconds(60);
        assert!(limiter.check(LimitGroup::Login, v4(u32::MAX - 1)).is_ok());
        assert_eq!(tracked(), 1);
    }

    #[test]
    fn a_sweep_is_not_repeated_within_a_second() {
        let clock = Arc::new(FixedClock::at(Timestamp::from_millis(1_000_000)));
        let limiter = SourceLimiter::new(SourceLimits::default(), clock.clone());
        let v4 = |n: u32| IpAddr::from(std::net::Ipv4Addr::from(n));
        for n in 0..MAX_TRACKED as u32 {
            assert!(limiter.check(LimitGroup::Login, v4(n)).is_ok());
        }
        assert!(limiter.check(LimitGroup::Login, v4(u32::MAX)).is_ok());
        // The buckets refill, but a sweep ran this very moment: the next newcomer is let
        // through untracked without another pass over the table.
        limiter.buckets.lock().unwrap().swept_at = Some(clock.now().plus_seconds(60));
        clock.advance_seconds(60);
        assert!(limiter.check(LimitGroup::Login, v4(u32::MAX - 1)).is_ok());
        assert_eq!(limiter.buckets.lock().unwrap().by_source.len(), MAX_TRACKED);
    }

    #[test]
    fn an_ipv6_64_is_one_source_and_mapped_ipv4_is_ipv4() {
        let k = |s: &str| SourceKey::of(s.parse().unwrap());
        assert_eq!(k("2001:db8:1:2::1"), k("2001:db8:1:2:ffff::9"));
        assert_ne!(k("2001:db8:1:2::1"), k("2001:db8:1:3::1"));
        assert_eq!(k("::ffff:192.0.2.1"), k("192.0.2.1"));
        assert_ne!(k("192.0.2.1"), k("192.0.2.2"));
    }
}
