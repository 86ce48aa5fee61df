//! Helpers for tests that run the real `sesam` binary.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sesam");
pub const MASTER_KEY: &str = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";

/// Where a test's data lives.
#[derive(Clone, Debug)]
pub enum Data {
    Dir(PathBuf),
    Postgres(String),
}

impl Data {
    pub fn args(&self) -> Vec<String> {
        match self {
            Self::Dir(d) => vec!["--data-dir".into(), d.display().to_string()],
            Self::Postgres(url) => vec!["--database-url".into(), url.clone()],
        }
    }

    fn env(&self) -> Vec<(&'static str, &'static str)> {
        match self {
            Self::Dir(_) => vec![],
            Self::Postgres(_) => vec![("SESAM_MASTER_KEY", MASTER_KEY)],
        }
    }
}

/// The outcome of one command.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// Asserts failure with exactly one line on stderr containing `needle`.
    pub fn fails_with(&self, needle: &str) {
        assert_ne!(self.code, 0, "expected failure: {self:?}");
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "expected one line on stderr: {self:?}");
        assert!(
            lines[0].contains(needle),
            "stderr {:?} lacks {needle:?}",
            lines[0]
        );
    }

    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "command failed: {self:?}");
        self
    }
}

fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn command(data: &Data) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("SESAM_MASTER_KEY")
        .env_remove("SESAM_DATA_DIR")
        .env_remove("SESAM_DATABASE_URL");
    for (k, v) in data.env() {
        c.env(k, v);
    }
    c.stdin(Stdio::null());
    c
}

/// `sesam admin --operator tester --create <data> <args…>`: tests start from empty
/// directories (the refusal without `--create` has its own test).
pub fn admin(data: &Data, args: &[&str]) -> Run {
    let mut c = command(data);
    c.arg("admin")
        .args(data.args())
        .args(["--operator", "tester", "--create"])
        .args(args);
    finish(c.output().expect("run sesam"))
}

pub fn enrol_args<'a>(
    nid: &'a str,
    birthdate: &'a str,
    phone: &'a str,
    user_id: Option<&'a str>,
) -> Vec<&'a str> {
    let mut a = vec![
        "--json",
        "identity",
        "enrol",
        "--national-id",
        nid,
        "--name",
        "Anna Hansen",
        "--birthdate",
        birthdate,
        "--phone",
        phone,
    ];
    if let Some(u) = user_id {
        a.extend(["--user-id", u]);
    }
    a
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `sesam serve`, stopped when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub base: String,
}

impl Server {
    pub fn start(data: &Data, extra: &[&str]) -> Self {
        Self::start_with(data, extra, "http")
    }

    pub fn start_with(data: &Data, extra: &[&str], scheme: &str) -> Self {
        Self::start_full(data, extra, scheme, &[])
    }

    pub fn start_full(data: &Data, extra: &[&str], scheme: &str, env: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut c = command(data);
        for (k, v) in env {
            c.env(k, v);
        }
        c.arg("serve")
            .args(data.args())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env("SESAM_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = c.spawn().expect("spawn sesam serve");
        let server = Self {
            child,
            port,
            base: format!("{scheme}://localhost:{port}"),
        };
        server.wait_listening();
        server
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sesam serve did not start listening on {}", self.port);
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A self-signed P-256 certificate for `localhost` made with `openssl` in `dir` (cert, key).
/// Without openssl: `None` on a developer machine (the TLS test skips), a failure under
/// `CI=true`, where every test must run.
#[allow(dead_code)]
pub fn test_certificate(dir: &std::path::Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    let Ok(made) = made else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("openssl is required when CI=true (scripts/test installs it)");
        }
        eprintln!("skipping: no openssl command to make a test certificate");
        return None;
    };
    assert!(made.status.success(), "{made:?}");
    Some((cert, key))
}
