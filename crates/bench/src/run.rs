//! `sesam-bench run`: C workers each run complete logins back to back for a bounded time;
//! then the report: completed logins per second, per-step latency percentiles, errors by
//! kind, and the server's memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::BenchError;
use crate::flow::{self, Target};
use crate::rss;
use crate::seed::Manifest;
use crate::stats::{self, Percentiles, STEPS, Samples};

pub struct RunArgs {
    pub url: String,
    pub manifest: Manifest,
    pub concurrency: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub timeout: Duration,
    /// Stop when nothing completed for this long while logins failed.
    pub give_up_after: Duration,
    pub server_pid: Option<u32>,
    /// Use only the first this many people (default: all in the manifest).
    pub people: Option<u64>,
    /// The server's Prometheus endpoint, for the store's counters.
    pub metrics_url: Option<String>,
}

/// What the server spent per completed login over the measured time.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PerLogin {
    /// Server CPU (user + system), milliseconds; needs `--server-pid`.
    pub server_cpu_ms: Option<f64>,
    /// SQL statements, write units and commits; need `--metrics-url`.
    pub statements: Option<f64>,
    pub write_units: Option<f64>,
    pub commits: Option<f64>,
}

/// The server's counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct Probe {
    cpu_ticks: Option<u64>,
    store: Option<[f64; 3]>,
}

async fn probe(http: &reqwest::Client, pid: Option<u32>, metrics: Option<&str>) -> Probe {
    let store = match metrics {
        Some(url) => match http.get(url).send().await {
            Ok(r) if r.status().is_success() => r.text().await.ok().and_then(|t| {
                Some([
                    metric(&t, "sesam_store_statements_total")?,
                    metric(&t, "sesam_store_units_total")?,
                    metric(&t, "sesam_store_commits_total")?,
                ])
            }),
            _ => None,
        },
        None => None,
    };
    Probe {
        cpu_ticks: pid.and_then(rss::cpu_ticks),
        store,
    }
}

/// A counter's value in the Prometheus text (the line `name value`).
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn per_login(from: Probe, to: Probe, completed: u64) -> PerLogin {
    if completed == 0 {
        return PerLogin::default();
    }
    let n = completed as f64;
    let round = |v: f64| (v * 100.0).round() / 100.0;
    let store = from.store.zip(to.store);
    let store_delta = |i: usize| store.map(|(a, b)| round((b[i] - a[i]) / n));
    PerLogin {
        // Linux reports process CPU in clock ticks of 10 ms (USER_HZ = 100).
        server_cpu_ms: from
            .cpu_ticks
            .zip(to.cpu_ticks)
            .map(|(a, b)| round(b.saturating_sub(a) as f64 * 10.0 / n)),
        statements: store_delta(0),
        write_units: store_delta(1),
        commits: store_delta(2),
    }
}

#[derive(Debug, Serialize)]
pub struct StepReport {
    pub step: &'static str,
    #[serde(flatten)]
    pub latency: Percentiles,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub url: String,
    pub people: u64,
    pub concurrency: usize,
    pub seconds: f64,
    pub completed: u64,
    pub logins_per_second: f64,
    pub failed: u64,
    pub errors: std::collections::BTreeMap<String, u64>,
    pub login: Percentiles,
    pub steps: Vec<StepReport>,
    pub server_rss_mib: Option<f64>,
    pub server_peak_rss_mib: Option<f64>,
    pub per_login: PerLogin,
    /// Why the run ended before its time, if it did.
    pub stopped_early: Option<String>,
}

/// Reads discovery: the endpoints, and a first proof the server is there.
async fn discover(http: &reqwest::Client, url: &str) -> Result<serde_json::Value, BenchError> {
    let unreachable = |reason: String| BenchError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    let r = http
        .get(format!("{url}/.well-known/openid-configuration"))
        .send()
        .await
        .map_err(|e| unreachable(format!("discovery failed: {}", e.without_url())))?;
    if !r.status().is_success() {
        return Err(unreachable(format!(
            "discovery answered HTTP {}",
            r.status()
        )));
    }
    r.json()
        .await
        .map_err(|e| unreachable(format!("discovery is not JSON: {}", e.without_url())))
}

fn endpoint(d: &serde_json::Value, name: &str, url: &str) -> Result<String, BenchError> {
    d[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| BenchError::Unreachable {
            url: url.to_owned(),
            reason: format!("discovery has no {name}"),
        })
}

/// Whether a worker whose login just failed stops the run: only when no login anywhere
/// completed for `limit`. A failure alone never stops it (it is counted and the worker
/// goes on), so a node restarting behind a balancer costs its failed logins, not the run.
fn gone(since_last_success: Duration, limit: Duration) -> bool {
    since_last_success > limit
}

pub async fn run(args: RunArgs) -> Result<Report, BenchError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = args.url.trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(args.timeout)
        .connect_timeout(args.timeout.min(Duration::from_secs(5)))
        .pool_max_idle_per_host(args.concurrency * 2)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| BenchError::Input(e.to_string()))?;
    let d = discover(&http, &url).await?;
    let people = args
        .people
        .unwrap_or(args.manifest.people)
        .min(args.manifest.people);
    if people == 0 {
        return Err(BenchError::Input("the manifest has no people".into()));
    }
    let target = Arc::new(Target {
        base: url.clone(),
        par_endpoint: endpoint(&d, "pushed_authorization_request_endpoint", &url)?,
        token_endpoint: endpoint(&d, "token_endpoint", &url)?,
        userinfo_endpoint: endpoint(&d, "userinfo_endpoint", &url)?,
        app: sesam_app::AppClient::new(&url).map_err(|e| BenchError::Input(e.to_string()))?,
        seed: args.manifest.seed()?,
        manifest: args.manifest,
        http,
    });

    // People are taken in turn, spread over the whole population.
    let next = Arc::new(AtomicU64::new(0));
    let completed = Arc::new(AtomicU64::new(0));
    let last_success = Arc::new(std::sync::Mutex::new(Instant::now()));
    let started = Instant::now();
    let measure_from = started + args.warmup;
    let deadline = measure_from + args.duration;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let give_up_after = args.give_up_after;

    let mut workers = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        let (target, next, completed, last_success, stop) = (
            target.clone(),
            next.clone(),
            completed.clone(),
            last_success.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut samples = Samples::new();
            let mut warm = Samples::new();
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                let index = spread(next.fetch_add(1, Ordering::Relaxed), people);
                let flow_started = Instant::now();
                let measuring = flow_started >= measure_from;
                let into = if measuring { &mut samples } else { &mut warm };
                match flow::login(&target, index, into).await {
                    Ok(()) => {
                        let now = Instant::now();
                        if let Ok(mut t) = last_success.lock() {
                            *t = now;
                        }
                        if measuring && now <= deadline {
                            samples.flows.push(stats::micros(now - flow_started));
                            completed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) => {
                        if measuring {
                            *samples.errors.entry(e.label()).or_default() += 1;
                        }
                        let quiet = last_success.lock().map(|t| t.elapsed()).unwrap_or_default();
                        if gone(quiet, give_up_after) {
                            stop.store(true, Ordering::Relaxed);
                            *samples.errors.entry(e.label()).or_default() += 1;
                        }
                        // A failing server is not hammered in a tight loop.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            samples
        }));
    }

    // The server's counters at the start and the end of the measured time.
    let probes = {
        let (http, pid, metrics) = (
            target.http.clone(),
            args.server_pid,
            args.metrics_url.clone(),
        );
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            let from = probe(&http, pid, metrics.as_deref()).await;
            tokio::time::sleep_until(deadline.into()).await;
            (from, probe(&http, pid, metrics.as_deref()).await)
        })
    };

    let mut peak_rss = None;
    let mut last_rss = None;
    let sampler = args.server_pid.map(|pid| {
        tokio::spawn(async move {
            let mut seen = (0u64, 0u64);
            loop {
                match rss::rss_kib(pid) {
                    Some((rss, peak)) => seen = (rss, seen.1.max(peak)),
                    None => return (seen, false),
                }
                if Instant::now() >= deadline {
                    return (seen, true);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    });

    let mut all = Samples::new();
    for w in workers {
        all.merge(
            w.await
                .map_err(|e| BenchError::Input(format!("a worker failed: {e}")))?,
        );
    }
    let measured = (Instant::now().min(deadline) - measure_from)
        .as_secs_f64()
        .max(1e-9);
    if let Some(s) = sampler {
        sampler_result(s.await.ok(), &mut last_rss, &mut peak_rss);
    }
    let stopped_early = stop.load(Ordering::Relaxed).then(|| {
        format!(
            "no login completed for {} s while requests failed",
            give_up_after.as_secs()
        )
    });
    let completed = completed.load(Ordering::Relaxed);
    let per_login = match probes.await {
        Ok((from, to)) => per_login(from, to, completed),
        Err(_) => PerLogin::default(),
    };
    let failed = all.errors.values().sum();
    let steps = STEPS
        .iter()
        .zip(all.steps.iter_mut())
        .map(|(step, s)| StepReport {
            step,
            latency: stats::percentiles(s),
        })
        .collect();
    Ok(Report {
        url,
        people,
        concurrency: args.concurrency,
        seconds: (measured * 100.0).round() / 100.0,
        completed,
        logins_per_second: (completed as f64 / measured * 10.0).round() / 10.0,
        failed,
        errors: all.errors,
        login: stats::percentiles(&mut all.flows),
        steps,
        server_rss_mib: last_rss,
        server_peak_rss_mib: peak_rss,
        per_login,
        stopped_early,
    })
}

fn sampler_result(r: Option<((u64, u64), bool)>, last: &mut Option<f64>, peak: &mut Option<f64>) {
    if let Some(((rss, hwm), _)) = r
        && rss > 0
    {
        *last = Some((rss as f64 / 1024.0 * 10.0).round() / 10.0);
        *peak = Some((hwm as f64 / 1024.0 * 10.0).round() / 10.0);
    }
}

/// The `n`-th login's person: a fixed odd stride through the population, so consecutive
/// logins touch people far apart (as real traffic does) and each person comes back only
/// after everyone else has had a turn.
pub fn spread(n: u64, people: u64) -> u64 {
    const STRIDE: u64 = 7_919; // prime
    let stride = if people.is_multiple_of(STRIDE) {
        1
    } else {
        STRIDE
    };
    (n % people).wrapping_mul(stride) % people
}

impl Report {
    /// The readable table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} complete app logins in {:.1} s at concurrency {} over {} people: {:.1} logins/s, {} failed\n",
            self.completed,
            self.seconds,
            self.concurrency,
            self.people,
            self.logins_per_second,
            self.failed
        );
        out.push_str(&format!(
            "{:<14} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "step", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"
        ));
        let row = |name: &str, p: &Percentiles| {
            format!(
                "{:<14} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n",
                name, p.count, p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms
            )
        };
        for s in &self.steps {
            out.push_str(&row(s.step, &s.latency));
        }
        out.push_str(&row("whole login", &self.login));
        if let (Some(rss), Some(peak)) = (self.server_rss_mib, self.server_peak_rss_mib) {
            out.push_str(&format!("server RSS {rss:.1} MiB (peak {peak:.1} MiB)\n"));
        }
        let p = &self.per_login;
        let mut per = Vec::new();
        if let Some(ms) = p.server_cpu_ms {
            per.push(format!("server CPU {ms:.2} ms"));
        }
        if let (Some(s), Some(u), Some(c)) = (p.statements, p.write_units, p.commits) {
            per.push(format!(
                "{s:.1} statements, {u:.1} write units, {c:.2} commits"
            ));
        }
        if !per.is_empty() {
            out.push_str(&format!("per login: {}\n", per.join("; ")));
        }
        for (kind, n) in &self.errors {
            out.push_str(&format!("error  {n:>7} × {kind}\n"));
        }
        if let Some(why) = &self.stopped_early {
            out.push_str(&format!("stopped early: {why}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{PerLogin, Probe, gone, metric, per_login, spread};
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn failures_stop_the_run_only_after_the_quiet_limit() {
        let limit = Duration::from_secs(30);
        assert!(
            !gone(Duration::from_secs(5), limit),
            "a restart is ridden out"
        );
        assert!(!gone(limit, limit));
        assert!(gone(Duration::from_secs(31), limit));
        assert!(gone(Duration::from_secs(6), Duration::from_secs(5)));
    }

    #[test]
    fn counters_are_read_from_the_prometheus_text() {
        let text = "# TYPE sesam_store_statements_total counter\nsesam_store_statements_total 1234\nsesam_store_statements_total_x 9\nsesam_store_units_total 56\n";
        assert_eq!(metric(text, "sesam_store_statements_total"), Some(1234.0));
        assert_eq!(metric(text, "sesam_store_units_total"), Some(56.0));
        assert_eq!(metric(text, "sesam_store_commits_total"), None);
    }

    #[test]
    fn per_login_figures_divide_the_differences() {
        let from = Probe {
            cpu_ticks: Some(100),
            store: Some([1000.0, 100.0, 10.0]),
        };
        let to = Probe {
            cpu_ticks: Some(150),
            store: Some([3000.0, 260.0, 30.0]),
        };
        assert_eq!(
            per_login(from, to, 100),
            PerLogin {
                server_cpu_ms: Some(5.0),
                statements: Some(20.0),
                write_units: Some(1.6),
                commits: Some(0.2),
            }
        );
        assert_eq!(per_login(from, to, 0), PerLogin::default());
        let blind = Probe::default();
        assert_eq!(per_login(blind, to, 100), PerLogin::default());
    }

    proptest! {
        #[test]
        fn everyone_gets_a_turn_before_anyone_comes_back(people in 1u64..20_000) {
            let n = people.min(3_000);
            let mut seen = std::collections::HashSet::new();
            for i in 0..n {
                let p = spread(i, people);
                prop_assert!(p < people);
                prop_assert!(seen.insert(p), "person {p} twice within {n} logins");
            }
        }
    }
}
