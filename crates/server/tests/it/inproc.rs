//! An in-process server (with a clock the test moves), a real SMS gateway sink, and the
//! `sesam-app` library as the app.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use sesam_app::{AppClient, AppState};
use sesam_core::context::Sesam;
use sesam_core::services::Actor;
use sesam_core::services::identities::EnrolRequest;
use sesam_domain::{
    AuditKey, Clock, FixedClock, MasterKey, OsRandom, SecretKeys, SystemClock, Timestamp,
};
use sesam_server::config::{Config, Env, Overrides};
use sesam_store::Store;

pub const TOKEN: &str = "gateway-token-1";

/// An app-API answer as JSON, for tests that look at it field by field.
pub fn as_json<T: serde::Serialize>(answer: T) -> Value {
    serde_json::to_value(answer).unwrap()
}

/// A list of app-API answers as JSON.
pub fn as_json_list<T: serde::Serialize>(answers: Vec<T>) -> Vec<Value> {
    answers.into_iter().map(as_json).collect()
}

/// A local SMS gateway that records what it is sent.
#[derive(Clone, Default)]
pub struct SmsSink {
    /// Messages the sink accepted (authorization header, body).
    pub received: Arc<Mutex<Vec<(String, Value)>>>,
    /// Every request, accepted or not.
    pub requests: Arc<Mutex<Vec<Value>>>,
    pub mode: Arc<Mutex<SinkMode>>,
}

/// How the SMS sink answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SinkMode {
    #[default]
    Accept,
    Reject400,
    Fail500,
    Hang,
    /// 302 to elsewhere: a misconfigured gateway URL.
    Redirect,
}

impl SmsSink {
    pub async fn start() -> (Self, String) {
        let sink = Self::default();
        let s = sink.clone();
        let app = axum::Router::new().route(
            "/sms",
            axum::routing::post(move |headers: HeaderMap, Json(body): Json<Value>| {
                let s = s.clone();
                async move {
                    s.requests.lock().unwrap().push(body.clone());
                    let mode = *s.mode.lock().unwrap();
                    match mode {
                        SinkMode::Accept => {
                            let auth = headers
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            s.received.lock().unwrap().push((auth, body));
                            StatusCode::ACCEPTED
                        }
                        SinkMode::Reject400 => StatusCode::BAD_REQUEST,
                        SinkMode::Fail500 => StatusCode::INTERNAL_SERVER_ERROR,
                        SinkMode::Redirect => StatusCode::FOUND,
                        SinkMode::Hang => {
                            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                            StatusCode::ACCEPTED
                        }
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (sink, url)
    }

    pub fn texts_to(&self, to: &str) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, b)| b["to"] == to)
            .map(|(_, b)| b["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits for the n-th SMS to `to` and returns its 8-digit code, if it has one.
    pub async fn wait_for_code(&self, to: &str, n: usize) -> String {
        for _ in 0..200 {
            let texts = self.texts_to(to);
            if let Some(code) = texts.iter().filter_map(|t| eight_digits(t)).nth(n - 1) {
                return code;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("no SMS code #{n} arrived for {to}: {:?}", self.texts_to(to));
    }
}

pub fn eight_digits(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 8)
        .map(str::to_owned)
}

pub struct TestEnv(HashMap<&'static str, String>);

impl Env for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// A clock that follows the wall clock plus an offset the test can move.
pub struct OffsetClock(FixedClock);

impl OffsetClock {
    fn new() -> Self {
        Self(FixedClock::at(Timestamp::from_millis(0)))
    }
    pub fn advance_seconds(&self, s: i64) {
        self.0.advance_seconds(s);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(SystemClock.now().millis() + self.0.now().millis())
    }
}

pub struct Harness {
    pub sesam: Sesam,
    /// The test's own handle on the database, to check what was stored.
    pub db: Arc<dyn Store>,
    /// The same secrets the server was given (to compute what it stores, e.g. code hashes).
    pub keys: Arc<SecretKeys>,
    pub base: String,
    pub clock: Arc<OffsetClock>,
    /// The PostgreSQL database, for a second node on it.
    pub database_url: Option<String>,
    pub _dir: tempfile::TempDir,
}

/// Another node on a harness's database.
pub struct Node {
    pub sesam: Sesam,
    /// This node's own store (its change feed is this node's).
    pub db: Arc<dyn Store>,
    /// Where this node listens (the public URL stays the first node's, as behind a
    /// load balancer).
    pub base: String,
    pub _dir: tempfile::TempDir,
}

pub enum Backend {
    Sqlite,
    Postgres,
}

pub async fn harness(backend: Backend, sms_url: Option<&str>) -> Option<Harness> {
    harness_env(backend, sms_url, &[]).await
}

/// A harness with extra `SESAM_*` settings (e.g. the SMTP server).
pub async fn harness_env(
    backend: Backend,
    sms_url: Option<&str>,
    extra: &[(&'static str, String)],
) -> Option<Harness> {
    harness_tuned(backend, sms_url, extra, |s| s).await
}

/// A harness whose `Sesam` is adjusted by `tune` before it serves.
pub async fn harness_tuned(
    backend: Backend,
    sms_url: Option<&str>,
    extra: &[(&'static str, String)],
    tune: impl FnOnce(Sesam) -> Sesam,
) -> Option<Harness> {
    let dir = tempfile::tempdir().unwrap();
    let mut env = HashMap::new();
    if let Some(u) = sms_url {
        env.insert("SESAM_SMS_URL", u.to_owned());
        env.insert("SESAM_SMS_TOKEN", TOKEN.to_owned());
    }
    for (k, v) in extra {
        env.insert(*k, v.clone());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://localhost:{port}");
    let mut overrides = Overrides {
        data_dir: Some(dir.path().to_owned()),
        public_url: Some(base.clone()),
        ..Default::default()
    };
    if let Backend::Postgres = backend {
        overrides.database_url = Some(sesam_testkit::postgres_database().await?);
    }
    let database_url = overrides.database_url.clone();
    let config = Config::load(&overrides, &TestEnv(env)).unwrap();
    let master = MasterKey::from_hex(&"3c".repeat(32)).unwrap();
    let keys = master.keys();
    let store: Arc<dyn Store> = sesam_store::open(&config.database, AuditKey::from(&keys))
        .await
        .unwrap();
    let clock = Arc::new(OffsetClock::new());
    let sesam = tune(
        Sesam::assemble(store.clone(), keys, clock.clone(), Arc::new(OsRandom))
            .with_public_url(&config.public_url)
            .with_limits(config.request_limits, config.pairing_limits),
    );
    let s = sesam.clone();
    tokio::spawn(async move {
        sesam_server::serve::serve_on(listener, config, s, std::future::pending()).await
    });
    Some(Harness {
        sesam,
        db: store,
        keys: Arc::new(master.keys()),
        base,
        clock,
        database_url,
        _dir: dir,
    })
}

/// A second node on the harness's PostgreSQL database (its own store, listener and
/// background parts, the same public URL and clock), with the SMS gateway `sms_url` if
/// any, its `Sesam` adjusted by `tune`.
pub async fn second_node(
    h: &Harness,
    sms_url: Option<&str>,
    tune: impl FnOnce(Sesam) -> Sesam,
) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let mut env = HashMap::new();
    if let Some(u) = sms_url {
        env.insert("SESAM_SMS_URL", u.to_owned());
        env.insert("SESAM_SMS_TOKEN", TOKEN.to_owned());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let overrides = Overrides {
        data_dir: Some(dir.path().to_owned()),
        public_url: Some(h.base.clone()),
        database_url: Some(h.database_url.clone().expect("a PostgreSQL harness")),
        ..Default::default()
    };
    let config = Config::load(&overrides, &TestEnv(env)).unwrap();
    let keys = MasterKey::from_hex(&"3c".repeat(32)).unwrap().keys();
    let store: Arc<dyn Store> = sesam_store::open(&config.database, AuditKey::from(&keys))
        .await
        .unwrap();
    let sesam = tune(
        Sesam::assemble(store.clone(), keys, h.clock.clone(), Arc::new(OsRandom))
            .with_public_url(&config.public_url)
            .with_limits(config.request_limits, config.pairing_limits),
    );
    let s = sesam.clone();
    tokio::spawn(async move {
        sesam_server::serve::serve_on(listener, config, s, std::future::pending()).await
    });
    Node {
        sesam,
        db: store,
        base,
        _dir: dir,
    }
}

pub async fn enrol(h: &Harness, nid: &str, phone: &str, user_id: Option<&str>) -> String {
    enrol_at(h, nid, phone, user_id, None).await
}

/// Enrols a person proofed at `ial` (`None`: the default level).
pub async fn enrol_at(
    h: &Harness,
    nid: &str,
    phone: &str,
    user_id: Option<&str>,
    ial: Option<&str>,
) -> String {
    let nid_date = sesam_domain::NationalId::parse(nid)
        .unwrap()
        .birth_date()
        .unwrap();
    let e = h
        .sesam
        .enrol(
            &Actor::operator("test").unwrap(),
            &EnrolRequest {
                national_id: nid.into(),
                name: "Anna Hansen".into(),
                birthdate: nid_date.to_string(),
                phone: phone.into(),
                email: Some("anna@example.dk".into()),
                user_id: user_id.map(str::to_owned),
                ial: ial.map(str::to_owned),
                language: None,
            },
        )
        .await
        .unwrap();
    e.activation_code.grouped()
}

pub fn new_app(dir: &std::path::Path, base: &str, name: &str) -> AppState {
    AppState::new(&dir.join(format!("{name}.json")), base, &OsRandom)
}

pub async fn audit_actions(h: &Harness) -> Vec<String> {
    h.db.audit_entries(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

/// Enrols a person with a user ID and activates their first app; returns the app state.
pub async fn activated_app(
    h: &Harness,
    sink: &SmsSink,
    dir: &std::path::Path,
    nid: &str,
    phone: &str,
    user_id: &str,
    pin: &str,
) -> AppState {
    activated_app_at(h, sink, dir, nid, phone, user_id, pin, None).await
}

/// [`activated_app`] for a person proofed at `ial`.
#[allow(clippy::too_many_arguments)]
pub async fn activated_app_at(
    h: &Harness,
    sink: &SmsSink,
    dir: &std::path::Path,
    nid: &str,
    phone: &str,
    user_id: &str,
    pin: &str,
    ial: Option<&str>,
) -> AppState {
    let code = enrol_at(h, nid, phone, Some(user_id), ial).await;
    let mut app = new_app(dir, &h.base, "first");
    let client = AppClient::new(&h.base).unwrap();
    let n = sink
        .texts_to(phone)
        .iter()
        .filter(|t| eight_digits(t).is_some())
        .count();
    let started = client.start_activation(&code).await.unwrap();
    let sms = sink.wait_for_code(phone, n + 1).await;
    let done = client
        .complete_activation(
            &app,
            &started,
            &code,
            &sms,
            pin,
            "First phone",
            Some(user_id),
            None,
            &OsRandom,
        )
        .await
        .unwrap();
    app.device_id = Some(done.device_id);
    app.set_pin_key(&done.device_pin_key);
    app
}

impl Harness {
    /// An app client whose request timestamps follow the server's (movable) clock.
    pub fn client(&self) -> AppClient {
        let clock = self.clock.clone();
        AppClient::new(&self.base)
            .unwrap()
            .with_clock(Arc::new(move || clock.now().millis()))
    }
}

/// Opens the app's long-poll (held up to `seconds`) through `client` and returns once
/// `node` holds it, so that what the test does next happens while the app waits.
pub async fn open_long_poll(
    node: &Sesam,
    client: AppClient,
    app: &AppState,
    seconds: u64,
) -> tokio::task::JoinHandle<Vec<sesam_app::PendingRequest>> {
    let app = app.clone();
    let waiter = tokio::spawn(async move {
        client
            .wait_for_requests(&app, seconds, &OsRandom)
            .await
            .unwrap()
    });
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while node.waiting_long_polls() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the wait never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    waiter
}
