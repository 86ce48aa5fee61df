//! Latency samples per step and their percentiles.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// The steps of one complete login, in order.
pub const STEPS: [&str; 12] = [
    "par",
    "authorize",
    "user_id_page",
    "user_id",
    "choice_page",
    "choose_app",
    "waiting_page",
    "app_requests",
    "app_approve",
    "callback",
    "token",
    "userinfo",
];

/// One worker's samples (microseconds), merged at the end: no lock while measuring.
#[derive(Debug, Default)]
pub struct Samples {
    pub steps: Vec<Vec<u32>>,
    pub flows: Vec<u32>,
    pub errors: BTreeMap<String, u64>,
}

impl Samples {
    pub fn new() -> Self {
        Self {
            steps: vec![Vec::new(); STEPS.len()],
            flows: Vec::new(),
            errors: BTreeMap::new(),
        }
    }

    pub fn record(&mut self, step: usize, took: Duration) {
        self.steps[step].push(micros(took));
    }

    pub fn merge(&mut self, other: Samples) {
        for (mine, theirs) in self.steps.iter_mut().zip(other.steps) {
            mine.extend(theirs);
        }
        self.flows.extend(other.flows);
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }
}

pub fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Nearest-rank percentiles of `samples` (sorted here).
pub fn percentiles(samples: &mut [u32]) -> Percentiles {
    samples.sort_unstable();
    let at = |q: f64| -> f64 {
        if samples.is_empty() {
            return 0.0;
        }
        let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        f64::from(samples[rank - 1]) / 1000.0
    };
    Percentiles {
        count: samples.len(),
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        max_ms: samples.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nearest_rank() {
        let mut s: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        let p = percentiles(&mut s);
        assert_eq!(
            (p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms),
            (50.0, 95.0, 99.0, 100.0)
        );
        assert_eq!(percentiles(&mut []).count, 0);
    }

    proptest! {
        #[test]
        fn percentiles_are_ordered_and_taken_from_the_samples(mut s in proptest::collection::vec(0u32..10_000_000, 1..500)) {
            let copy = s.clone();
            let p = percentiles(&mut s);
            prop_assert!(p.p50_ms <= p.p95_ms && p.p95_ms <= p.p99_ms && p.p99_ms <= p.max_ms);
            for v in [p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms] {
                prop_assert!(copy.iter().any(|x| (f64::from(*x) / 1000.0 - v).abs() < 1e-9));
            }
        }
    }
}
