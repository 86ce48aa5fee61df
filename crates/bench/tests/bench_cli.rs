//! `sesam-bench` end to end: `seed` a small population, drive complete logins against a
//! real server (started in this process on a free port), and the failure reports: a
//! server that is down, and one whose PAR endpoint fails mid-run.
// A test fails by panicking: unwrapping is how it reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::Command;

use sesam_core::context::Sesam;
use sesam_server::config::{Config, Env, Overrides};

const BIN: &str = env!("CARGO_BIN_EXE_sesam-bench");

struct TestEnv(HashMap<&'static str, String>);

impl Env for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("SESAM_MASTER_KEY")
        .env_remove("SESAM_DATABASE_URL")
        .output()
        .expect("run sesam-bench");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn run_async(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    })
    .await
    .unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_and_drives_complete_app_logins() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap().to_owned();
    let manifest = dir.path().join("manifest.json");
    let manifest_arg = manifest.to_str().unwrap().to_owned();
    let (code, out, err) = run_async(strings(&[
        "--json",
        "seed",
        "--data-dir",
        &data_arg,
        "--people",
        "40",
        "--manifest",
        &manifest_arg,
    ]))
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let seeded: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(seeded["people"], 40);
    // The manifest holds the SP secret and the key seed: owner only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&manifest).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // So does the file of the apps' device PIN keys beside it, one key per person.
    let pin_keys = dir.path().join("manifest.json.pin-keys");
    let meta = std::fs::metadata(&pin_keys).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 40 * 32);
    // A second seed into the same manifest path is refused.
    let (code, _, err) = run_async(strings(&[
        "seed",
        "--data-dir",
        &data_arg,
        "--people",
        "1",
        "--manifest",
        &manifest_arg,
    ]))
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("exists"), "{err}");

    // The server, on the seeded data, with the per-address limits raised.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let env = TestEnv(HashMap::from([
        ("SESAM_LIMIT_REQUESTS_PER_PERSON", "1000000".to_owned()),
        ("SESAM_LIMIT_REQUESTS_PER_SOURCE", "1000000".to_owned()),
        ("SESAM_LIMIT_AUTHORIZE_PER_MINUTE", "1000000".to_owned()),
        ("SESAM_LIMIT_LOGIN_PER_MINUTE", "1000000".to_owned()),
        ("SESAM_LIMIT_BACKCHANNEL_PER_MINUTE", "1000000".to_owned()),
        ("SESAM_LIMIT_ACTIVATION_PER_MINUTE", "1000000".to_owned()),
    ]));
    let config = Config::load(
        &Overrides {
            data_dir: Some(data.clone()),
            public_url: Some(base.clone()),
            ..Default::default()
        },
        &env,
    )
    .unwrap();
    let sesam = Sesam::open(config.open_settings()).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sesam_server::serve::serve_on(
        listener,
        config,
        sesam,
        async move {
            let _ = stopped.await;
        },
    ));

    let pid = std::process::id().to_string();
    let (code, out, err) = run_async(strings(&[
        "--json",
        "run",
        "--url",
        &base,
        "--manifest",
        &manifest_arg,
        "--concurrency",
        "4",
        "--duration",
        "2",
        "--warmup",
        "0",
        "--server-pid",
        &pid,
    ]))
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let completed = r["completed"].as_u64().unwrap();
    assert!(completed > 0, "{r}");
    assert_eq!(r["failed"], 0, "{r}");
    let steps = r["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 12);
    for s in steps {
        assert!(s["count"].as_u64().unwrap() >= completed, "{s}");
        assert!(s["p50_ms"].as_f64().unwrap() <= s["p99_ms"].as_f64().unwrap());
    }
    assert!(r["server_rss_mib"].as_f64().unwrap() > 0.0, "{r}");

    // The readable table names every step.
    let (code, table, err) = run_async(strings(&[
        "run",
        "--url",
        &base,
        "--manifest",
        &manifest_arg,
        "--concurrency",
        "2",
        "--duration",
        "1",
        "--warmup",
        "0",
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    for step in ["par", "app_approve", "userinfo", "whole login", "logins/s"] {
        assert!(table.contains(step), "{table}");
    }

    // Down: one clear line, exit status 1.
    let _ = stop.send(());
    let _ = server.await;
    let (code, _, err) = run_async(strings(&[
        "run",
        "--url",
        &base,
        "--manifest",
        &manifest_arg,
        "--duration",
        "1",
    ]))
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("cannot be used: discovery failed"), "{err}");
}

/// A server whose discovery works but whose PAR endpoint answers 503: the run reports the
/// errors by kind and stops by itself long before its time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_server_is_reported_and_the_run_stops_by_itself() {
    use axum::routing::{get, post};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let discovery = serde_json::json!({
        "pushed_authorization_request_endpoint": format!("{base}/par"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
    });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(discovery.clone()) }),
        )
        .route(
            "/par",
            post(|| async { axum::http::StatusCode::SERVICE_UNAVAILABLE }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::json!({
            "people": 10, "key_seed": "00".repeat(32), "pin": "258013", "pin_keys_file": "pin-keys",
            "client_id": "c", "client_secret": "s", "redirect_uri": "http://127.0.0.1:9/cb",
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(dir.path().join("pin-keys"), [0u8; 10 * 32]).unwrap();
    let (code, out, err) = run_async(strings(&[
        "--json",
        "run",
        "--url",
        &base,
        "--manifest",
        manifest.to_str().unwrap(),
        "--concurrency",
        "2",
        "--duration",
        "30",
        "--warmup",
        "0",
    ]))
    .await;
    assert_eq!(code, 1, "{out}{err}");
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["completed"], 0);
    assert!(r["errors"]["par: HTTP 503"].as_u64().unwrap() > 0, "{r}");
    assert!(
        r["stopped_early"]
            .as_str()
            .unwrap()
            .contains("no login completed"),
        "{r}"
    );
    assert!(
        r["seconds"].as_f64().unwrap() < 20.0,
        "it stopped well before its 30 s: {r}"
    );
    assert!(err.contains("par: HTTP 503"), "{err}");
}
