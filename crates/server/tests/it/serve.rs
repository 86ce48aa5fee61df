//! `sesam serve` as an operator runs it: health, readiness, metrics, error bodies, TLS,
//! configuration errors and graceful shutdown.

use crate::common;

use std::time::{Duration, Instant};

use common::*;

#[tokio::test]
async fn health_readiness_metrics_and_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&Data::Dir(dir.path().join("data")), &[]);
    let http = http_client();

    let r = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["status"], "ok");

    let j: serde_json::Value = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(j["status"], "ready");
    assert_eq!(j["database"], "SQLite");
    // Only the state: the count of waiting entries would be an oracle of audited actions.
    assert_eq!(
        j,
        serde_json::json!({ "status": "ready", "database": "SQLite", "audit_chain": "ok" })
    );

    let r = http
        .get(format!("{}/no/such/thing", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["error"], "not_found");

    // Its own connection: the server may close it without reading the oversized body.
    let r = http_client()
        .post(format!("{}/app/v1/activation/start", server.base))
        .header("content-type", "application/json")
        .body(vec![b' '; 100_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413, "bodies over 64 KiB are refused");
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["error"], "request_too_large");
    let r = http
        .post(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["error"], "method_not_allowed");

    // Metrics are not public unless configured (their counters can move when something
    // happens to a known person).
    let r = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Nor is the development outbox.
    let r = http
        .get(format!("{}/dev/outbox", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

const METRICS_TOKEN: &str = "a-long-metrics-token-0123456789";

async fn metrics_with(http: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, String) {
    let mut r = http.get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn metrics_behind_a_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_full(
        &Data::Dir(dir.path().join("data")),
        &[],
        "http",
        &[("SESAM_METRICS_TOKEN", METRICS_TOKEN.into())],
    );
    let http = http_client();
    http.get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    let url = format!("{}/metrics", server.base);
    let (status, body) = metrics_with(&http, &url, None).await;
    assert_eq!(status, 401);
    assert!(!body.contains("sesam_"), "{body}");
    assert_eq!(metrics_with(&http, &url, Some("wrong")).await.0, 401);
    let almost = &METRICS_TOKEN[..METRICS_TOKEN.len() - 1];
    assert_eq!(metrics_with(&http, &url, Some(almost)).await.0, 401);
    let (status, metrics) = metrics_with(&http, &url, Some(METRICS_TOKEN)).await;
    assert_eq!(status, 200);
    assert!(
        metrics
            .contains(r#"sesam_http_requests_total{method="GET",route="/healthz",status="200"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("sesam_store_statements_total "),
        "{metrics}"
    );
    // The node's audit sequencer runs by itself (only it sets this gauge) and leaves
    // nothing waiting, with nobody reading the log.
    let mut chained = false;
    for _ in 0..50 {
        let (_, metrics) = metrics_with(&http, &url, Some(METRICS_TOKEN)).await;
        if metrics.contains("sesam_audit_unchained_entries 0\n") {
            chained = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(chained, "the audit sequencer did not run");
}

#[tokio::test]
async fn metrics_on_their_own_address_only() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let server = Server::start_full(
        &Data::Dir(dir.path().join("data")),
        &[],
        "http",
        &[("SESAM_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))],
    );
    let http = http_client();
    http.get(format!("{}/no/such/thing", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        metrics_with(&http, &format!("{}/metrics", server.base), None)
            .await
            .0,
        404,
        "metrics on the public listener"
    );
    let private = format!("http://127.0.0.1:{metrics_port}");
    let (status, metrics) = metrics_with(&http, &format!("{private}/metrics"), None).await;
    assert_eq!(status, 200);
    assert!(metrics.contains(r#"route="unmatched""#), "{metrics}");
    assert!(
        !metrics.contains("/no/such/thing"),
        "raw paths must not become labels"
    );
    // The metrics address serves nothing else.
    assert_eq!(
        metrics_with(&http, &format!("{private}/healthz"), None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn the_development_outbox_only_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let http = http_client();
    for flag in ["--dev-outbox", "--demo"] {
        let server = Server::start(&Data::Dir(dir.path().join(flag)), &[flag]);
        let r = http
            .get(format!("{}/dev/outbox?format=json", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{flag}");
    }
    // Never beside a real channel.
    let server = Server::start_full(
        &Data::Dir(dir.path().join("gw")),
        &["--dev-outbox"],
        "http",
        &[
            ("SESAM_SMS_URL", "http://127.0.0.1:9/sms".into()),
            ("SESAM_SMS_TOKEN", "t".into()),
        ],
    );
    let r = http
        .get(format!("{}/dev/outbox?format=json", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&Data::Dir(dir.path().join("data")), &[]);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(code) = server.child.try_wait().unwrap() {
            assert!(code.success(), "exit status {code:?}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn serves_tls_with_a_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = test_certificate(dir.path()) else {
        return;
    };
    let server = Server::start_with(
        &Data::Dir(dir.path().join("data")),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        "https",
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let r = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["strict-transport-security"],
        "max-age=31536000",
        "sesam terminates TLS: HSTS"
    );
}

fn no_redirects() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `lang` of the page the login pages show for an unknown flow, with `cookie` sent.
async fn page_language(http: &reqwest::Client, base: &str, cookie: &str) -> String {
    let body = http
        .get(format!("{base}/login/00000000-0000-4000-8000-000000000000"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = body.find("<html lang=\"").expect("an HTML page") + 12;
    body[start..start + 2].to_owned()
}

#[tokio::test]
async fn on_https_cookies_are_host_prefixed_and_hsts_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    // Behind a TLS-terminating proxy: sesam speaks http, its public URL is https.
    let server = Server::start(
        &Data::Dir(dir.path().join("data")),
        &["--public-url", "https://login.example.dk"],
    );
    let http = no_redirects();
    let r = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    let r = http
        .get(format!("{}/language?to=en&back=/", server.base))
        .send()
        .await
        .unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("__Host-sesam_lang=en;"), "{set}");
    assert!(set.contains("; Secure") && set.contains("Path=/"), "{set}");
    assert!(!set.to_ascii_lowercase().contains("domain="), "{set}");
    // Only prefixed cookies are read: one planted without the prefix (by a sibling
    // subdomain or a plain-http answer) is ignored.
    assert_eq!(
        page_language(&http, &server.base, "__Host-sesam_lang=en").await,
        "en"
    );
    assert_eq!(
        page_language(&http, &server.base, "sesam_lang=en").await,
        "da"
    );
}

#[tokio::test]
async fn on_plain_http_cookies_keep_their_names_and_no_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&Data::Dir(dir.path().join("data")), &[]);
    let http = no_redirects();
    let r = http
        .get(format!("{}/language?to=en&back=/", server.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("sesam_lang=en;"), "{set}");
    assert!(!set.contains("Secure"), "{set}");
    assert_eq!(
        page_language(&http, &server.base, "sesam_lang=en").await,
        "en"
    );
}

/// Without openssl the TLS test skips on a developer machine but fails under `CI=true`:
/// the test binary runs that one test again with no `openssl` on its `PATH`.
#[test]
fn the_tls_test_fails_without_openssl_under_ci() {
    let empty = tempfile::tempdir().unwrap();
    let run = |ci: Option<&str>| {
        let mut c = std::process::Command::new(std::env::current_exe().unwrap());
        c.args([
            "--exact",
            "serve::serves_tls_with_a_given_certificate",
            "--nocapture",
        ])
        .env("PATH", empty.path())
        .env_remove("CI");
        if let Some(v) = ci {
            c.env("CI", v);
        }
        c.output().unwrap()
    };
    let skipped = run(None);
    assert!(skipped.status.success(), "{skipped:?}");
    assert!(String::from_utf8_lossy(&skipped.stderr).contains("skipping: no openssl"));
    let failed = run(Some("true"));
    assert!(!failed.status.success(), "{failed:?}");
    assert!(
        String::from_utf8_lossy(&failed.stdout).contains("openssl is required when CI=true")
            || String::from_utf8_lossy(&failed.stderr).contains("openssl is required when CI=true"),
        "{failed:?}"
    );
}

#[test]
fn configuration_errors_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sesam.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nlisten_adress = \"x\"\n").unwrap();
    let out = std::process::Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `listen_adress`"), "{err}");

    let out = std::process::Command::new(BIN)
        .args(["serve", "--listen", "nowhere", "--data-dir"])
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen address 'nowhere'"));

    let out = std::process::Command::new(BIN)
        .args([
            "serve",
            "--tls-cert",
            "/nonexistent/c.pem",
            "--tls-key",
            "/nonexistent/k.pem",
            "--listen",
        ])
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--data-dir")
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot load TLS certificate"),
        "{out:?}"
    );
}

#[test]
fn environment_overrides_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let file = dir.path().join("sesam.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:1\"\ndata_dir = \"{}\"\n",
            dir.path().join("d").display()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&file)
        .env("SESAM_LISTEN", format!("127.0.0.1:{port}"))
        .env("SESAM_LOG", "warn")
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut up = false;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "server did not listen on the port from SESAM_LISTEN");
    assert!(
        dir.path().join("d/sesam.db").exists(),
        "data_dir from the file was not used"
    );
}

/// On SIGTERM the node first reports `draining` on `/readyz` (so a balancer takes it out)
/// while it still serves everything else, then stops and exits 0.
#[tokio::test]
async fn sigterm_drains_first_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_full(
        &Data::Dir(dir.path().join("data")),
        &[],
        "http",
        &[("SESAM_SHUTDOWN_DRAIN_SECONDS", "5".into())],
    );
    let http = http_client();
    let ready = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The signal is handled asynchronously: wait for the draining answer.
    let deadline = Instant::now() + Duration::from_secs(4);
    let draining = loop {
        let r = http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            break r.json::<serde_json::Value>().await.unwrap();
        }
        assert!(Instant::now() < deadline, "readyz never reported draining");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(draining, serde_json::json!({ "status": "draining" }));
    // Everything else is still served meanwhile.
    for path in [
        "/healthz",
        "/.well-known/openid-configuration",
        "/jwks.json",
    ] {
        let r = http
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path} while draining");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(code) = server.child.try_wait().unwrap() {
            assert!(code.success(), "exit status {code:?}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a PostgreSQL restart does to a node: every connection of its database is cut
/// (the pools', the listener's). The node reports ready again by itself, and its audit
/// sequencer chains what is written afterwards.
#[tokio::test]
async fn a_node_recovers_by_itself_when_its_database_connections_are_cut() {
    let Some(url) = sesam_testkit::postgres_database().await else {
        return;
    };
    let data = Data::Postgres(url.clone());
    let server = Server::start(&data, &[]);
    let http = http_client();
    let readyz = || async {
        let r = http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.json::<serde_json::Value>().await.unwrap(),
        )
    };
    assert_eq!(readyz().await.0, 200);

    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(
        cut.len() >= 2,
        "the node's connections (pool and listener) were found"
    );

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = readyz().await;
        if status == 200 && body["audit_chain"] == "ok" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node never became ready again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Written by another process after the cut, chained by the node's sequencer.
    admin(
        &data,
        &enrol_args("0101901234", "1990-01-01", "+4512345671", None),
    )
    .ok();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_pending")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        if waiting == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node's sequencer did not chain after the cut"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The listener came back too: the listening connection is there again.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listeners: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name = $1 AND query LIKE 'LISTEN%'",
        )
        .bind(sesam_store::postgres::LISTENER_APPLICATION_NAME)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if listeners == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the listener did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A database that hangs (here: a table readiness reads is locked by another session)
/// gets a quick 503 from `/readyz`, not a check that hangs with it; once it answers
/// again the node is ready by itself.
#[tokio::test]
async fn readiness_answers_503_while_the_database_hangs() {
    let Some(url) = sesam_testkit::postgres_database().await else {
        return;
    };
    let server = Server::start(&Data::Postgres(url.clone()), &[]);
    // Any wait longer than this is a hang.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let readyz = || async {
        http.get(format!("{}/readyz", server.base))
            .send()
            .await
            .expect("readyz answers, hung database or not")
            .status()
            .as_u16()
    };
    assert_eq!(readyz().await, 200);
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    sqlx::query("LOCK TABLE audit_pending IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(readyz().await, 503);
    tx.rollback().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while readyz().await != 200 {
        assert!(
            Instant::now() < deadline,
            "the node never became ready again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let Some(url) = sesam_testkit::postgres_database().await else {
        return;
    };
    let server = Server::start(&Data::Postgres(url.clone()), &[]);
    let http = http_client();
    assert_eq!(
        http.get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let name = url.rsplit('/').next().unwrap().to_owned();
    let admin_url = url.replace(&format!("/{name}"), "/postgres");
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .unwrap();

    let r = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["error"], "database_unavailable");
    // Liveness is unaffected: the process still serves.
    assert_eq!(
        http.get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn signing_keys_are_published_before_they_sign_and_after() {
    let dir = tempfile::tempdir().unwrap();
    let data = Data::Dir(dir.path().join("data"));
    let server = Server::start(&data, &[]);
    let http = http_client();
    let jwks = |body: serde_json::Value| -> Vec<String> {
        body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let first: serde_json::Value = http
        .get(format!("{}/jwks.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        first["keys"].as_array().unwrap().len(),
        2,
        "one signing, one next: {first}"
    );
    let k = &first["keys"][0];
    assert_eq!(
        (k["kty"].as_str(), k["crv"].as_str(), k["alg"].as_str()),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
    assert!(k.get("d").is_none(), "never the private key");
    assert_eq!(k["x"].as_str().unwrap().len(), 43);

    let listed = admin(&data, &["--json", "keys", "list"]).ok().json();
    let states: Vec<&str> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["active", "next"]);
    let next = listed["keys"][1]["kid"].as_str().unwrap().to_owned();

    let rotated = admin(&data, &["--json", "keys", "rotate"]).ok().json();
    let states: Vec<(String, String)> = rotated["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_owned(),
                k["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(states.iter().filter(|(_, s)| s == "retired").count(), 1);
    assert!(
        states.contains(&(next.clone(), "active".into())),
        "the published next key signs now: {states:?}"
    );
    let after: serde_json::Value = http
        .get(format!("{}/jwks.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids = jwks(after);
    assert_eq!(
        kids.len(),
        3,
        "retired, active and new next are all published"
    );
    for k in jwks(first) {
        assert!(kids.contains(&k));
    }
    assert_eq!(
        admin(&data, &["--json", "audit", "verify"]).ok().json()["ok"],
        true
    );
}

#[test]
fn without_a_channel_the_start_up_log_says_how_to_configure_one() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&Data::Dir(dir.path().join("data")), &[]);
    let stderr = server.child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let line = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("no start-up warning about channels");
        if line.contains("wait in the outbox") {
            break line;
        }
    };
    for key in [
        "SESAM_SMS_URL",
        "SESAM_SMS_TOKEN",
        "SESAM_SMTP_HOST",
        "--dev-outbox",
    ] {
        assert!(line.contains(key), "{key} is not named: {line}");
    }
}

/// The app API's OpenAPI document is served (cacheable, unsigned), and the router answers
/// every operation it documents with something other than "no such endpoint" or 405.
#[tokio::test]
async fn the_openapi_document_is_served_and_every_operation_is_routed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&Data::Dir(dir.path().join("data")), &[]);
    let http = http_client();
    let r = http
        .get(format!("{}/app/v1/openapi.json", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    let doc: serde_json::Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 20);
    for (path, item) in paths {
        let concrete = path
            .replace("{id}", "01920000-0000-7000-8000-000000000000")
            .replace("{serial}", "SN0001");
        for method in item.as_object().unwrap().keys() {
            let r = http
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{}{concrete}", server.base),
                )
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            assert_ne!(status, 405, "{method} {path}");
            assert_ne!(
                body["error_description"], "no such endpoint",
                "{method} {path}"
            );
        }
    }
}
