//! Test support shared by sesam's crates: throwaway PostgreSQL clusters and databases,
//! temporary SQLite files.
//!
//! PostgreSQL: if `SESAM_TEST_DATABASE_URL` is set, every test gets a fresh database on
//! that server. Otherwise the first test that asks starts a throwaway cluster with
//! Debian's `initdb`/`pg_ctl` on a free loopback port (as the `postgres` user when running
//! as root); a watchdog stops and deletes it when the test process exits. Where neither
//! works the PostgreSQL tests are skipped with a message, except when `CI=true`: then they
//! fail, so CI can never pass without having run them.
#![forbid(unsafe_code)]
// Test support: a failure to set up a test is reported by panicking, and the watchdog waits
// for real time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sqlx::Connection;

/// A fresh, empty PostgreSQL database for one test, or `None` when PostgreSQL is not
/// available here and this is not CI.
pub async fn postgres_database() -> Option<String> {
    let base = match server_url() {
        Ok(url) => url,
        Err(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PostgreSQL is required when CI=true: {why}");
            }
            eprintln!("skipping PostgreSQL test: {why}");
            return None;
        }
    };
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL server failed: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE failed: {e}"));
    let _ = conn.close().await;
    let mut url = url::Url::parse(&base).expect("test PostgreSQL URL");
    url.set_path(&name);
    Some(url.to_string())
}

fn server_url() -> Result<String, String> {
    if let Ok(url) = std::env::var("SESAM_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        return Ok(url);
    }
    static CLUSTER: OnceLock<Result<String, String>> = OnceLock::new();
    CLUSTER.get_or_init(start_cluster).clone()
}

fn pg_bin_dir() -> Result<PathBuf, String> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "PostgreSQL is not installed (no /usr/lib/postgresql); install the postgresql package or set SESAM_TEST_DATABASE_URL".to_string())?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
        .ok_or_else(|| "no initdb found under /usr/lib/postgresql".to_string())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb refuses root).
fn pg_command(bin: &Path, tool: &str, as_postgres: bool) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    }
}

fn start_cluster() -> Result<String, String> {
    let bin = pg_bin_dir()?;
    let root = is_root();
    let dir = tempfile::Builder::new()
        .prefix("sesam-test-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    if root {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Err("cannot hand the cluster directory to the postgres user".into());
        }
    }
    let data = dir.join("data");
    let out = pg_command(&bin, "initdb", root)
        .arg("-D")
        .arg(&data)
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--no-locale",
        ])
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let port = free_port()?;
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
        dir.display()
    );
    let out = pg_command(&bin, "pg_ctl", root)
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("server.log"))
        .args(["-w", "-t", "30", "-o", &opts, "start"])
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("pg_ctl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pg_ctl start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // The watchdog outlives us: when this process is gone it stops the cluster and
    // removes its files.
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runas}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        runas = if root { "runuser -u postgres -- " } else { "" },
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("watchdog: {e}"))?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

/// A temporary directory holding a path for a SQLite file; the directory goes when dropped.
pub fn sqlite_path() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sesam.db");
    (dir, path)
}

/// A real SMTP server for tests (Debian's `python3-aiosmtpd`), storing what it receives
/// in a Maildir. Stopped when dropped.
pub struct SmtpSink {
    child: std::process::Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts the sink, or returns `None` (skipping the test) when aiosmtpd is missing and
    /// this is not CI; with `CI=true` a missing sink fails the test.
    pub fn start() -> Option<Self> {
        let available = Command::new("/usr/bin/python3")
            .args(["-c", "import aiosmtpd"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !available {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("python3-aiosmtpd is required when CI=true (scripts/test installs it)");
            }
            eprintln!("skipping SMTP test: python3-aiosmtpd is not installed");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        // Another test may grab the same free port between our probe and aiosmtpd's bind;
        // then our server exits while the port answers for someone else's: check that ours
        // is still alive, and try another port if not.
        for _ in 0..10 {
            let port = free_port().expect("free port");
            let mut child = Command::new("/usr/bin/python3")
                .args([
                    "-m",
                    "aiosmtpd",
                    "-n",
                    "-l",
                    &format!("127.0.0.1:{port}"),
                    "-c",
                    "aiosmtpd.handlers.Mailbox",
                ])
                .arg(dir.path().join("Maildir"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start aiosmtpd");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
            let mut exited = false;
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if child.try_wait().ok().flatten().is_some() || std::time::Instant::now() > deadline
                {
                    exited = true;
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
            if !exited && child.try_wait().ok().flatten().is_none() {
                return Some(Self { child, port, dir });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("could not start aiosmtpd on a free port");
    }

    /// Every message received so far (headers and body, as stored).
    pub fn messages(&self) -> Vec<String> {
        let new = self.dir.path().join("Maildir").join("new");
        let mut out: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(new)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let t = e.metadata().and_then(|m| m.modified()).ok()?;
                        Some((t, std::fs::read_to_string(e.path()).ok()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|(t, _)| *t);
        out.into_iter().map(|(_, m)| decode_mail(&m)).collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headers as stored, then the body with its transfer encoding (quoted-printable or
/// base64) undone, so tests can search the text a person reads.
fn decode_mail(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let Some((headers, body)) = raw.split_once("\n\n") else {
        return raw;
    };
    let encoding = headers
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-transfer-encoding:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    let decoded = match encoding.as_str() {
        "quoted-printable" => {
            let joined = body.replace("=\n", "");
            let bytes = joined.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                let hex = |b: u8| (b as char).to_digit(16);
                if bytes[i] == b'='
                    && let (Some(h), Some(l)) = (
                        bytes.get(i + 1).and_then(|b| hex(*b)),
                        bytes.get(i + 2).and_then(|b| hex(*b)),
                    )
                {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                out.push(bytes[i]);
                i += 1;
            }
            String::from_utf8_lossy(&out).into_owned()
        }
        "base64" => {
            use base64::Engine;
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|_| body.to_owned())
        }
        _ => body.to_owned(),
    };
    format!("{headers}\n\n{decoded}")
}
