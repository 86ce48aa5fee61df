//! `sesam-bench`: the load generator. `seed` creates people with activated apps in a
//! sesam database; `run` drives complete app-approved OpenID Connect logins against a
//! running `sesam serve` and reports what one node sustains. See docs/performance.md.
#![forbid(unsafe_code)]
// A load generator measures wall-clock time and paces itself by it.
#![allow(clippy::disallowed_methods)]

mod error;
mod flow;
mod population;
mod rss;
mod run;
mod seed;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use sesam_core::context::Sesam;
use sesam_server::cli::DataArgs;
use sesam_server::config::{Config, ProcessEnv};

use crate::error::BenchError;

#[derive(Debug, Parser)]
#[command(name = "sesam-bench", version, about = "Load generator for sesam")]
struct Cli {
    /// Print the result as one JSON object.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enrol N people and activate an app for each, in the database `sesam serve` will use
    /// (stop the server first when it runs on SQLite); writes the manifest `run` needs.
    Seed {
        #[command(flatten)]
        data: DataArgs,
        /// How many people.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=20_000_000))]
        people: u64,
        /// Where to write the manifest (created 0600; must not exist).
        #[arg(long, value_name = "FILE")]
        manifest: PathBuf,
    },
    /// Write N people (national ID, name, birth date, phone, e-mail, user ID) as a JSON
    /// Lines file for `sesam admin identity import`: the import's benchmark input.
    People {
        /// How many people.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=20_000_000))]
        count: u64,
        /// The first person's number (a second file with `--from` the first's count holds
        /// other people).
        #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=20_000_000))]
        from: u64,
        /// Where to write the file (must not exist).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Drive complete logins against a running server and report.
    Run {
        /// The server's public URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
        #[arg(long, value_name = "FILE")]
        manifest: PathBuf,
        /// Logins in flight at once.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=4096))]
        concurrency: u16,
        /// Seconds measured.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
        duration: u64,
        /// Seconds run before measuring (connections, caches).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=600))]
        warmup: u64,
        /// Seconds one HTTP request may take before it counts as failed.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
        timeout: u64,
        /// Seconds without any completed login (while logins fail) after which the run
        /// stops early: the server is taken to be gone. Fault runs raise it to ride out a
        /// restart; every failed login is counted either way.
        #[arg(long, default_value_t = 5, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
        give_up_after: u64,
        /// The server's process id, to report its memory.
        #[arg(long, value_name = "PID")]
        server_pid: Option<u32>,
        /// Log in only the first N people of the manifest.
        #[arg(long, value_name = "N")]
        people: Option<u64>,
        /// The server's `/metrics` (e.g. on its `metrics_listen` address), to report the
        /// store's statements, units of work and commits per login.
        #[arg(long, value_name = "URL")]
        metrics_url: Option<String>,
    },
}

async fn execute(cli: Cli) -> Result<String, BenchError> {
    match cli.command {
        Command::Seed {
            data,
            people,
            manifest,
        } => {
            let config =
                Config::load(&data.overrides(), &ProcessEnv).map_err(BenchError::Server)?;
            let sesam = Sesam::open(config.open_settings())
                .await
                .map_err(BenchError::Server)?;
            let started = std::time::Instant::now();
            let m = seed::seed(
                &sesam,
                seed::SeedArgs {
                    people,
                    manifest: manifest.clone(),
                },
            )
            .await?;
            let secs = started.elapsed().as_secs_f64();
            Ok(if cli.json {
                serde_json::json!({
                    "people": m.people,
                    "seconds": (secs * 10.0).round() / 10.0,
                    "client_id": m.client_id,
                    "manifest": manifest.display().to_string(),
                })
                .to_string()
            } else {
                format!(
                    "{} people with an active app in {secs:.1} s ({:.0}/s); SP {}; manifest {}",
                    m.people,
                    m.people as f64 / secs.max(1e-9),
                    m.client_id,
                    manifest.display()
                )
            })
        }
        Command::People { count, from, out } => {
            population::write_people_file(&out, from, count)?;
            Ok(format!("{count} people written to {}", out.display()))
        }
        Command::Run {
            url,
            manifest,
            concurrency,
            duration,
            warmup,
            timeout,
            give_up_after,
            server_pid,
            people,
            metrics_url,
        } => {
            let report = run::run(run::RunArgs {
                url,
                manifest: seed::Manifest::load(&manifest)?,
                concurrency: usize::from(concurrency),
                duration: Duration::from_secs(duration),
                warmup: Duration::from_secs(warmup),
                timeout: Duration::from_secs(timeout),
                give_up_after: Duration::from_secs(give_up_after),
                server_pid,
                people,
                metrics_url,
            })
            .await?;
            let text = if cli.json {
                serde_json::to_string(&report).unwrap_or_default()
            } else {
                report.table()
            };
            if report.completed == 0 {
                println!("{text}");
                return Err(BenchError::ServerGone(
                    report
                        .errors
                        .keys()
                        .next()
                        .cloned()
                        .unwrap_or_else(|| "no login completed".into()),
                ));
            }
            Ok(text)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sesam-bench: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sesam-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
