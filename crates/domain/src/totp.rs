//! Codes from a code display: RFC 6238 TOTP with SHA-1, 6 digits and 30-second steps
//! (DESIGN §3). These are the parameters of the hardware tokens on the market, so they are
//! fixed here rather than stored per token.
//!
//! A token's clock drifts, so the server remembers by how many steps it was off the last
//! time and looks one step either side of that. Each step is accepted at most once, so a
//! code read over someone's shoulder cannot be used again.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use subtle::{Choice, ConstantTimeEq};
use thiserror::Error;

use crate::clock::Timestamp;

/// Digits in a code.
pub const DIGITS: usize = 6;
/// Length of one time step.
pub const PERIOD_SECONDS: i64 = 30;
/// How far (in steps) a code may be from the expected step at login.
pub const LOGIN_WINDOW_STEPS: i64 = 1;
/// How far (in steps) the first of the two activation codes may be from the server's step.
/// Wider than at login, because nothing is known about this token's clock yet.
pub const ACTIVATION_WINDOW_STEPS: i64 = 10;
/// The largest drift remembered. A token that is further off than this must be re-activated,
/// so a stored drift cannot slowly walk the window somewhere an attacker prefers.
pub const MAX_DRIFT_STEPS: i32 = 10;

/// Why a code was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TotpError {
    #[error("a code has exactly {DIGITS} digits, this one has {0} characters")]
    MalformedLength(usize),
    #[error("a code consists of the digits 0-9 only")]
    MalformedNotDigits,
    #[error("the code is not correct")]
    WrongCode,
    #[error("this code has already been used; wait for the next code on the code display")]
    Replayed,
    #[error(
        "the two codes are not consecutive codes from this code display; wait for a new code and enter two codes in a row"
    )]
    NotConsecutive,
    #[error("the server's clock is outside the range in which codes can be checked")]
    ClockOutOfRange,
}

/// Six ASCII digits as typed. `Debug` hides the digits: a code is a credential for 30 s.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode([u8; DIGITS]);

impl TotpCode {
    /// Exactly six ASCII digits; anything else (spaces, other scripts' digits) is malformed.
    pub fn parse(input: &str) -> Result<Self, TotpError> {
        let n = input.chars().count();
        if n != DIGITS {
            return Err(TotpError::MalformedLength(n));
        }
        let mut out = [0u8; DIGITS];
        for (slot, b) in out.iter_mut().zip(input.bytes()) {
            if !b.is_ascii_digit() {
                return Err(TotpError::MalformedNotDigits);
            }
            *slot = b;
        }
        Ok(Self(out))
    }

    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII digits.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(<redacted>)")
    }
}

/// What the server remembers about one code display between logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TotpState {
    /// The last step whose code was accepted; it and every earlier step are spent.
    pub last_used_step: Option<u64>,
    /// How many steps the token's clock is ahead (positive) or behind (negative) of ours.
    pub drift_steps: i32,
}

/// An accepted code: the step it belonged to and the state to store in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpMatch {
    pub step: u64,
    pub state: TotpState,
}

/// Checks codes against one token's secret.
pub struct TotpVerifier<'a> {
    secret: &'a [u8],
}

impl fmt::Debug for TotpVerifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpVerifier(<redacted>)")
    }
}

impl<'a> TotpVerifier<'a> {
    /// The secret is the seed imported from the manufacturer's PSKC file
    /// ([`crate::pskc`] checks its length).
    pub fn new(secret: &'a [u8]) -> Self {
        Self { secret }
    }

    /// Checks a code typed at login.
    ///
    /// The expected step is the current one moved by the stored drift; the code may belong
    /// to that step or the one on either side. The step must be later than the last one
    /// used. On success the new state records the step and the drift it revealed.
    pub fn verify(
        &self,
        code: &str,
        now: Timestamp,
        state: TotpState,
    ) -> Result<TotpMatch, TotpError> {
        let code = TotpCode::parse(code)?;
        let now_step = step_at(now).ok_or(TotpError::ClockOutOfRange)?;
        let drift = i64::from(state.drift_steps.clamp(-MAX_DRIFT_STEPS, MAX_DRIFT_STEPS));
        let expected = now_step + drift;

        // Every candidate is computed and compared, so the time taken does not say which
        // step (if any) matched.
        let mut fresh: Option<i64> = None;
        let mut spent = false;
        for offset in [0, -LOGIN_WINDOW_STEPS, LOGIN_WINDOW_STEPS] {
            let Some(step) = as_step(expected + offset) else {
                continue;
            };
            let matched: bool = self.code_for_step(step).ct_eq(&code).into();
            if !matched {
                continue;
            }
            if state.last_used_step.is_some_and(|last| step <= last) {
                spent = true;
            } else if fresh.is_none() {
                fresh = Some(expected + offset);
            }
        }
        match (fresh, spent) {
            (Some(step), _) => Ok(self.accept(step, now_step)),
            (None, true) => Err(TotpError::Replayed),
            (None, false) => Err(TotpError::WrongCode),
        }
    }

    /// Activation: two consecutive codes from the token, the second from the step right after
    /// the first. They are searched for within ±[`ACTIVATION_WINDOW_STEPS`] of now, which both
    /// proves possession and teaches the server the token's drift.
    pub fn activate_with_two_codes(
        &self,
        code1: &str,
        code2: &str,
        now: Timestamp,
    ) -> Result<TotpMatch, TotpError> {
        let code1 = TotpCode::parse(code1)?;
        let code2 = TotpCode::parse(code2)?;
        let now_step = step_at(now).ok_or(TotpError::ClockOutOfRange)?;

        let first = now_step - ACTIVATION_WINDOW_STEPS;
        let last = now_step + ACTIVATION_WINDOW_STEPS + 1;
        let codes: Vec<Option<TotpCode>> = (first..=last)
            .map(|s| as_step(s).map(|s| self.code_for_step(s)))
            .collect();
        let matches = |want: &TotpCode| -> Vec<bool> {
            codes
                .iter()
                .map(|c| c.as_ref().is_some_and(|c| c.ct_eq(want).into()))
                .collect()
        };
        let m1 = matches(&code1);
        let m2 = matches(&code2);

        // The pair closest to now wins; with 10^-12 odds of a second pair this only matters
        // for determinism.
        let pair = (0..m1.len().saturating_sub(1))
            .filter(|&i| m1[i] && m2[i + 1])
            .min_by_key(|&i| (first + i as i64 + 1 - now_step).abs());
        match pair {
            Some(i) => Ok(self.accept(first + i as i64 + 1, now_step)),
            None if m1.iter().any(|&b| b) && m2.iter().any(|&b| b) => {
                Err(TotpError::NotConsecutive)
            }
            None => Err(TotpError::WrongCode),
        }
    }

    /// The code the token shows during `step`.
    pub fn code_for_step(&self, step: u64) -> TotpCode {
        let value = hotp_value(self.secret, step) % 10u32.pow(DIGITS as u32);
        let mut out = [0u8; DIGITS];
        let text = format!("{value:06}");
        out.copy_from_slice(text.as_bytes());
        TotpCode(out)
    }

    /// The code the token shows at `now`, e.g. for a simulated code display in tests.
    pub fn code_at(&self, now: Timestamp) -> Option<TotpCode> {
        step_at(now)
            .and_then(as_step)
            .map(|s| self.code_for_step(s))
    }

    fn accept(&self, step: i64, now_step: i64) -> TotpMatch {
        let drift =
            (step - now_step).clamp(i64::from(-MAX_DRIFT_STEPS), i64::from(MAX_DRIFT_STEPS));
        TotpMatch {
            step: step as u64,
            state: TotpState {
                last_used_step: Some(step as u64),
                drift_steps: drift as i32,
            },
        }
    }
}

/// The RFC 6238 time step (T0 = 0, X = 30 s) at `now`, as a signed number so windows around
/// it can be computed without underflow. `None` before 1970.
fn step_at(now: Timestamp) -> Option<i64> {
    let ms = now.millis();
    (ms >= 0).then_some(ms / 1000 / PERIOD_SECONDS)
}

fn as_step(s: i64) -> Option<u64> {
    u64::try_from(s).ok()
}

/// RFC 4226 HOTP before the decimal reduction: HMAC-SHA1 over the big-endian counter, then
/// dynamic truncation to 31 bits.
fn hotp_value(secret: &[u8], counter: u64) -> u32 {
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(secret) else {
        // HMAC takes keys of any length.
        unreachable!("HMAC accepts every key length");
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
    const RFC_SEED: &[u8] = b"12345678901234567890";

    /// RFC 6238 Appendix B, SHA-1 rows: (Unix time, 8-digit TOTP).
    const RFC_VECTORS: [(i64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_millis(seconds * 1000)
    }

    fn v() -> TotpVerifier<'static> {
        TotpVerifier::new(RFC_SEED)
    }

    #[test]
    fn reproduces_rfc_6238_sha1_vectors_with_eight_digits() {
        for (t, want) in RFC_VECTORS {
            let step = u64::try_from(t / 30).unwrap();
            let got = format!("{:08}", hotp_value(RFC_SEED, step) % 100_000_000);
            assert_eq!(got, want, "time {t}");
        }
    }

    #[test]
    fn six_digit_codes_are_the_last_six_of_the_rfc_vectors() {
        for (t, eight) in RFC_VECTORS {
            let six = &eight[2..];
            assert_eq!(v().code_at(at(t)).unwrap().as_str(), six, "time {t}");
            let m = v().verify(six, at(t), TotpState::default()).unwrap();
            assert_eq!(m.step, u64::try_from(t / 30).unwrap());
            assert_eq!(m.state.last_used_step, Some(m.step));
            assert_eq!(m.state.drift_steps, 0);
        }
    }

    #[test]
    fn rfc_4226_appendix_d_hotp_values() {
        // The HOTP core that TOTP builds on, counters 0..9 with the same seed.
        let want = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, w) in want.into_iter().enumerate() {
            assert_eq!(hotp_value(RFC_SEED, counter as u64) % 1_000_000, w);
        }
    }

    #[test]
    fn malformed_codes_have_specific_errors() {
        use TotpError::*;
        let cases: &[(&str, TotpError)] = &[
            ("", MalformedLength(0)),
            ("12345", MalformedLength(5)),
            ("1234567", MalformedLength(7)),
            ("123 456", MalformedLength(7)),
            (" 12345", MalformedNotDigits),
            ("12345a", MalformedNotDigits),
            ("１２３４５６", MalformedNotDigits),
            ("-12345", MalformedNotDigits),
            ("12345\u{0}", MalformedNotDigits),
        ];
        for (s, e) in cases {
            assert_eq!(
                v().verify(s, at(59), TotpState::default()).as_ref().err(),
                Some(e),
                "{s:?}"
            );
        }
        assert_eq!(
            TotpError::MalformedLength(5).to_string(),
            "a code has exactly 6 digits, this one has 5 characters"
        );
    }

    #[test]
    fn wrong_code_is_refused() {
        let r = v().verify("000000", at(1_234_567_890), TotpState::default());
        assert_eq!(r, Err(TotpError::WrongCode));
    }

    #[test]
    fn window_is_one_step_either_side() {
        let now = at(1_111_111_111); // step 37037037
        let s = 37_037_037u64;
        for (step, ok) in [
            (s - 2, false),
            (s - 1, true),
            (s, true),
            (s + 1, true),
            (s + 2, false),
        ] {
            let code = v().code_for_step(step);
            let r = v().verify(code.as_str(), now, TotpState::default());
            assert_eq!(r.is_ok(), ok, "step {step}");
            if let Ok(m) = r {
                assert_eq!(m.step, step);
                assert_eq!(i64::from(m.state.drift_steps), step as i64 - s as i64);
            }
        }
    }

    #[test]
    fn a_code_is_accepted_once() {
        let now = at(1_234_567_890);
        let code = v().code_at(now).unwrap();
        let first = v()
            .verify(code.as_str(), now, TotpState::default())
            .unwrap();
        assert_eq!(
            v().verify(code.as_str(), now, first.state),
            Err(TotpError::Replayed)
        );
        // Still spent 30 s later, when it is the previous step.
        assert_eq!(
            v().verify(code.as_str(), now.plus_seconds(30), first.state),
            Err(TotpError::Replayed)
        );
        // An older code than the last used one is spent too.
        let older = v().code_for_step(first.step - 1);
        assert_eq!(
            v().verify(older.as_str(), now, first.state),
            Err(TotpError::Replayed)
        );
        // The next code works.
        let next = v().code_for_step(first.step + 1);
        let second = v()
            .verify(next.as_str(), now.plus_seconds(30), first.state)
            .unwrap();
        assert_eq!(second.step, first.step + 1);
    }

    #[test]
    fn stored_drift_moves_the_window() {
        let now = at(1_000_000_020); // step 33333334
        let s = 33_333_334u64;
        let state = TotpState {
            last_used_step: None,
            drift_steps: 5,
        };
        // A token 5 steps ahead: its codes around s+5 are accepted, the current one is not.
        for (step, ok) in [(s + 3, false), (s + 4, true), (s + 6, true), (s, false)] {
            let code = v().code_for_step(step);
            assert_eq!(v().verify(code.as_str(), now, state).is_ok(), ok, "{step}");
        }
        let m = v()
            .verify(v().code_for_step(s + 6).as_str(), now, state)
            .unwrap();
        assert_eq!(m.state.drift_steps, 6);
        // Behind by 3.
        let state = TotpState {
            last_used_step: None,
            drift_steps: -3,
        };
        let m = v()
            .verify(v().code_for_step(s - 4).as_str(), now, state)
            .unwrap();
        assert_eq!(m.state.drift_steps, -4);
    }

    #[test]
    fn drift_is_clamped() {
        let now = at(1_000_000_020);
        let s = 33_333_334u64;
        // A stored drift beyond the bound (e.g. a hand-edited row) is treated as the bound.
        let state = TotpState {
            last_used_step: None,
            drift_steps: 1000,
        };
        assert!(
            v().verify(v().code_for_step(s + 10).as_str(), now, state)
                .is_ok()
        );
        assert!(
            v().verify(v().code_for_step(s + 1000).as_str(), now, state)
                .is_err()
        );
        let m = v()
            .verify(v().code_for_step(s + 11).as_str(), now, state)
            .unwrap();
        assert_eq!(m.state.drift_steps, MAX_DRIFT_STEPS);
        assert_eq!(m.step, s + 11);
    }

    #[test]
    fn activation_learns_drift_from_two_consecutive_codes() {
        let now = at(1_000_000_020);
        let s = 33_333_334u64;
        for d in [-10i64, -7, -1, 0, 1, 4, 9] {
            let first = (s as i64 + d) as u64;
            let c1 = v().code_for_step(first);
            let c2 = v().code_for_step(first + 1);
            let m = v()
                .activate_with_two_codes(c1.as_str(), c2.as_str(), now)
                .unwrap_or_else(|e| panic!("drift {d}: {e}"));
            assert_eq!(m.step, first + 1);
            assert_eq!(m.state.last_used_step, Some(first + 1));
            assert_eq!(i64::from(m.state.drift_steps), d + 1);
            // After activation, the next code logs in and the activation codes are spent.
            let next = v().code_for_step(first + 2);
            assert!(v().verify(next.as_str(), now, m.state).is_ok());
            assert_eq!(
                v().verify(c2.as_str(), now, m.state),
                Err(TotpError::Replayed)
            );
        }
    }

    #[test]
    fn activation_refuses_far_or_wrong_or_unordered_codes() {
        let now = at(1_000_000_020);
        let s = 33_333_334u64;
        let c = |step: u64| v().code_for_step(step);
        // Too far away.
        assert_eq!(
            v().activate_with_two_codes(c(s + 12).as_str(), c(s + 13).as_str(), now),
            Err(TotpError::WrongCode)
        );
        assert_eq!(
            v().activate_with_two_codes(c(s - 11).as_str(), c(s - 10).as_str(), now),
            Err(TotpError::WrongCode)
        );
        // Two valid codes that are not neighbours, or in the wrong order.
        assert_eq!(
            v().activate_with_two_codes(c(s).as_str(), c(s + 2).as_str(), now),
            Err(TotpError::NotConsecutive)
        );
        assert_eq!(
            v().activate_with_two_codes(c(s + 1).as_str(), c(s).as_str(), now),
            Err(TotpError::NotConsecutive)
        );
        assert_eq!(
            v().activate_with_two_codes(c(s).as_str(), c(s).as_str(), now),
            Err(TotpError::NotConsecutive)
        );
        assert_eq!(
            v().activate_with_two_codes(c(s).as_str(), "000000", now),
            Err(TotpError::WrongCode)
        );
        assert_eq!(
            v().activate_with_two_codes("12345", c(s).as_str(), now),
            Err(TotpError::MalformedLength(5))
        );
    }

    #[test]
    fn clock_before_epoch_and_near_zero() {
        assert_eq!(
            v().verify("123456", Timestamp::from_millis(-1), TotpState::default()),
            Err(TotpError::ClockOutOfRange)
        );
        // At step 0 the window simply has no step -1.
        let c0 = v().code_for_step(0);
        assert!(v().verify(c0.as_str(), at(0), TotpState::default()).is_ok());
        let c1 = v().code_for_step(1);
        let c2 = v().code_for_step(2);
        let m = v()
            .activate_with_two_codes(c1.as_str(), c2.as_str(), at(0))
            .unwrap();
        assert_eq!(m.step, 2);
    }

    #[test]
    fn debug_hides_codes_and_secrets() {
        let code = TotpCode::parse("123456").unwrap();
        assert_eq!(format!("{code:?}"), "TotpCode(<redacted>)");
        assert!(!format!("{:?}", v()).contains("1234"));
    }

    proptest! {
        #[test]
        fn code_accepted_within_one_step_refused_further(
            secret in proptest::collection::vec(any::<u8>(), 16..=64),
            step in 100u64..10_000_000_000,
            offset in -4i64..=4,
        ) {
            let v = TotpVerifier::new(&secret);
            let code = v.code_for_step(step);
            let now = Timestamp::from_millis((step as i64 - offset) * 30_000 + 29_999);
            let r = v.verify(code.as_str(), now, TotpState::default());
            if offset.abs() <= 1 {
                let m = r.unwrap();
                prop_assert_eq!(m.step, step);
                prop_assert_eq!(i64::from(m.state.drift_steps), offset);
            } else if let Ok(m) = r {
                // Only a genuine collision with a neighbouring step's code can be accepted.
                prop_assert_ne!(m.step, step);
                prop_assert_eq!(v.code_for_step(m.step), code);
            }
        }

        #[test]
        fn no_step_is_accepted_twice(
            secret in proptest::collection::vec(any::<u8>(), 16..=32),
            start in 1000u64..1_000_000,
            moves in proptest::collection::vec((-2i64..=2, 0u64..3), 1..20),
        ) {
            let v = TotpVerifier::new(&secret);
            let mut state = TotpState::default();
            let mut accepted = std::collections::HashSet::new();
            let mut now_step = start;
            for (offset, advance) in moves {
                now_step += advance;
                let Some(step) = now_step.checked_add_signed(offset) else { continue };
                let code = v.code_for_step(step);
                let now = Timestamp::from_millis(now_step as i64 * 30_000);
                if let Ok(m) = v.verify(code.as_str(), now, state) {
                    prop_assert!(accepted.insert(m.step), "step {} accepted twice", m.step);
                    prop_assert!(state.last_used_step.is_none_or(|l| m.step > l));
                    state = m.state;
                }
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,12}") {
            let _ = TotpCode::parse(&s);
            let v = TotpVerifier::new(b"x");
            let _ = v.verify(&s, Timestamp::from_millis(0), TotpState::default());
            let _ = v.activate_with_two_codes(&s, &s, Timestamp::from_millis(0));
        }
    }
}
