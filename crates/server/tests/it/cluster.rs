//! Two `sesam serve` nodes on one PostgreSQL behind a real HAProxy, started by
//! `scripts/cluster` exactly as an operator starts it (issue 17): a login whose steps
//! alternate between the nodes completes, and so do concurrent logins through the
//! balancer; each message is sent once although both nodes dispatch; twenty parallel
//! wrong PINs spread over the nodes get three evaluations; a signing-key rotation made by
//! `sesam admin` is used by every node within 1 s; the app's long-poll on one node wakes
//! for a login created on the other; the audit chain verifies after
//! concurrent writes on both nodes; and a login waiting for the app when its node is
//! killed (`kill -9`) completes through the other node.
//!
//! Needs PostgreSQL and HAProxy (scripts/test installs both); without them the test is
//! skipped, except under `CI=true`, where it fails.

use crate::common;
use crate::inproc;
use crate::oidc;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inproc::{SmsSink, TOKEN, eight_digits, new_app};
use oidc::{Browser, Page};
use serde_json::Value;
use sesam_app::{AppClient, AppState};
use sesam_domain::OsRandom;
use sqlx::{Connection, Row};

const PIN: &str = "135790";
const REDIRECT: &str = "https://bank.example/callback";

/// Whether HAProxy and PostgreSQL's tools are here; `Err` says what is missing.
fn prerequisites() -> Result<(), String> {
    let haproxy = [
        "/usr/sbin/haproxy",
        "/usr/bin/haproxy",
        "/usr/local/sbin/haproxy",
    ]
    .iter()
    .any(|p| Path::new(p).exists());
    if !haproxy {
        return Err("HAProxy is not installed (apt-get install haproxy)".into());
    }
    let initdb = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().any(|v| v.path().join("bin/initdb").exists()))
        .unwrap_or(false);
    if !initdb {
        return Err("PostgreSQL is not installed (apt-get install postgresql)".into());
    }
    Ok(())
}

/// A cluster started by `scripts/cluster up 2`, taken down when dropped.
struct Cluster {
    state: PathBuf,
    vars: HashMap<String, String>,
    _dir: tempfile::TempDir,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/cluster")
}

impl Cluster {
    fn up(sms_url: &str) -> Option<Self> {
        if let Err(why) = prerequisites() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("the cluster test must run when CI=true: {why}");
            }
            eprintln!("skipping the cluster test: {why}");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let bin_dir = Path::new(common::BIN).parent().unwrap().to_owned();
        let mut cluster = Self {
            state,
            vars: HashMap::new(),
            _dir: dir,
        };
        let out = cluster
            .script_command(&["up", "2"])
            .env("SESAM_CLUSTER_BIN_DIR", &bin_dir)
            .env("PORT", "0")
            .env("PEOPLE", "0")
            .env("SESAM_SMS_URL", sms_url)
            .env("SESAM_SMS_TOKEN", TOKEN)
            .env("SESAM_OUTBOX_LEASE_SECONDS", "3")
            .output()
            .unwrap();
        // From here on, Drop takes down whatever was started.
        assert!(out.status.success(), "scripts/cluster up 2: {out:?}");
        let env = std::fs::read_to_string(cluster.state.join("cluster.env")).unwrap();
        cluster.vars = env
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Some(cluster)
    }

    fn script_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(script());
        c.args(args)
            .env("SESAM_CLUSTER_DIR", &self.state)
            .env_remove("SESAM_MASTER_KEY")
            .env_remove("SESAM_DATABASE_URL")
            .env_remove("SESAM_DATA_DIR")
            .stdin(Stdio::null());
        c
    }

    fn script(&self, args: &[&str]) -> Output {
        let out = self.script_command(args).output().unwrap();
        assert!(out.status.success(), "scripts/cluster {args:?}: {out:?}");
        out
    }

    fn var(&self, name: &str) -> &str {
        self.vars
            .get(name)
            .unwrap_or_else(|| panic!("{name} not in cluster.env"))
    }

    /// The balancer's base URL (the public URL: the issuer).
    fn balancer(&self) -> String {
        format!("http://localhost:{}", self.var("LB_PORT"))
    }

    /// Node `i`'s own base URL, past the balancer.
    fn node(&self, i: usize) -> String {
        format!("http://localhost:{}", self.var(&format!("NODE_PORT_{i}")))
    }

    /// `sesam admin --json …` on the cluster's database.
    fn admin(&self, args: &[&str]) -> Value {
        let mut full = vec!["--operator", "tester", "--json"];
        full.extend_from_slice(args);
        let out = self.script(&[&["admin"], full.as_slice()].concat());
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("admin {args:?} is not JSON ({e}): {out:?}"))
    }

    async fn db(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(self.var("DATABASE_URL"))
            .await
            .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.script_command(&["down"]).output();
    }
}

/// An SP registered by `sesam admin`.
struct Sp {
    client_id: String,
    secret: String,
}

fn register_sp(c: &Cluster, name: &str) -> Sp {
    let sp = c.admin(&["sp", "add", "--name", name, "--redirect-uri", REDIRECT]);
    Sp {
        client_id: sp["client_id"].as_str().unwrap().to_owned(),
        secret: sp["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// Enrols a person with `sesam admin` and activates their app: the activation starts on
/// node 1 and completes on node 2 (the SMS code comes from whichever node dispatched it).
async fn activated_person(
    c: &Cluster,
    sink: &SmsSink,
    dir: &Path,
    nid: &str,
    birthdate: &str,
    phone: &str,
    user_id: &str,
) -> AppState {
    let enrolled = c.admin(&common::enrol_args(nid, birthdate, phone, Some(user_id))[1..]);
    let code = enrolled["activation_code"].as_str().unwrap().to_owned();
    let mut app = new_app(dir, &c.balancer(), user_id);
    let before = sink
        .texts_to(phone)
        .iter()
        .filter(|t| eight_digits(t).is_some())
        .count();
    let started = AppClient::new(&c.node(1))
        .unwrap()
        .start_activation(&code)
        .await
        .unwrap();
    let sms = sink.wait_for_code(phone, before + 1).await;
    let done = AppClient::new(&c.node(2))
        .unwrap()
        .complete_activation(
            &app,
            &started,
            &code,
            &sms,
            PIN,
            "Phone",
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

/// A login in progress: the browser waits for the app.
struct Waiting {
    browser: Browser,
    wait: String,
    binding: String,
    verifier: String,
}

fn http() -> reqwest::Client {
    common::http_client()
}

/// A form-encoded POST body.
fn form(req: reqwest::RequestBuilder, pairs: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    req.header("content-type", "application/x-www-form-urlencoded")
        .body(body)
}

/// The SP pushes the request at `steps[0]`; the browser opens it, gives the user ID and
/// chooses the app, each request at the next base URL of `steps` in turn.
async fn start_login(sp: &Sp, user_id: &str, steps: &[String]) -> Waiting {
    let at = |i: usize| steps[i % steps.len()].clone();
    // 32 random bytes: a 43-character PKCE verifier.
    let random = [
        uuid::Uuid::new_v4().into_bytes(),
        uuid::Uuid::new_v4().into_bytes(),
    ]
    .concat();
    let verifier = URL_SAFE_NO_PAD.encode(random);
    let challenge =
        URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    let r = form(
        http()
            .post(format!("{}/par", at(0)))
            .basic_auth(&sp.client_id, Some(&sp.secret)),
        &[
            ("response_type", "code"),
            ("client_id", sp.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s1"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201, "PAR at {}", at(0));
    let par: Value = r.json().await.unwrap();
    let browser = Browser::new(&at(1));
    let authorize = format!(
        "{}/authorize?client_id={}&request_uri={}",
        at(1),
        sp.client_id,
        form_urlencoded::byte_serialize(par["request_uri"].as_str().unwrap().as_bytes())
            .collect::<String>()
    );
    let r = browser.get(&authorize).await;
    assert_eq!(r.status, 303, "authorize: {}", r.body);
    let flow = r.location.unwrap();
    let page = browser.get(&format!("{}{flow}", at(2))).await;
    assert_eq!(page.status, 200, "user ID page: {}", page.body);
    let r = browser
        .post(
            &format!("{}{flow}/user-id", at(3)),
            &[("csrf", &page.csrf()), ("user_id", user_id)],
        )
        .await;
    assert_eq!(r.status, 303, "user ID: {}", r.body);
    let page = browser.get(&format!("{}{flow}", at(4))).await;
    let r = browser
        .post(&format!("{}{flow}/app", at(5)), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(r.status, 303, "choose the app: {}", r.body);
    let wait = r.location.unwrap();
    let page = browser.get(&format!("{}{wait}", at(6))).await;
    assert_eq!(page.status, 200, "waiting page: {}", page.body);
    let marker = "data-testid=\"binding-code\">";
    let i = page.body.find(marker).expect("a binding code") + marker.len();
    Waiting {
        browser,
        wait,
        binding: page.body[i..i + 4].to_owned(),
        verifier,
    }
}

/// The app approves at `app_at` and the browser comes back at `browser_at`; returns the
/// authorization code the SP received.
async fn approve(app: &AppState, w: &Waiting, app_at: &str, browser_at: &str) -> String {
    let client = AppClient::new(app_at).unwrap();
    let request = client
        .requests(app, &OsRandom)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.binding_required)
        .expect("the login is in the app");
    client
        .approve_request(app, &request, PIN, Some(&w.binding), &OsRandom)
        .await
        .unwrap();
    let r: Page = w.browser.get(&format!("{browser_at}{}", w.wait)).await;
    assert_eq!(r.status, 303, "back to the SP: {}", r.body);
    assert_eq!(r.redirect_param("state").as_deref(), Some("s1"));
    r.redirect_param("code").expect("a code")
}

/// The SP redeems `code` at `token_at` and reads userinfo at `userinfo_at`; returns the
/// ID token.
async fn redeem(sp: &Sp, code: &str, verifier: &str, token_at: &str, userinfo_at: &str) -> String {
    let r = form(
        http()
            .post(format!("{token_at}/token"))
            .basic_auth(&sp.client_id, Some(&sp.secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .send()
    .await
    .unwrap();
    let status = r.status();
    let tokens: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "token at {token_at}: {tokens}");
    let r = http()
        .get(format!("{userinfo_at}/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "userinfo at {userinfo_at}");
    let info: Value = r.json().await.unwrap();
    assert!(info["sub"].is_string(), "{info}");
    tokens["id_token"].as_str().unwrap().to_owned()
}

/// [`approve`], then [`redeem`].
async fn finish_login(
    sp: &Sp,
    app: &AppState,
    w: Waiting,
    app_at: &str,
    browser_at: &str,
    token_at: &str,
    userinfo_at: &str,
) -> String {
    let code = approve(app, &w, app_at, browser_at).await;
    redeem(sp, &code, &w.verifier, token_at, userinfo_at).await
}

/// The `kid` in a JWT's header.
fn kid(jwt: &str) -> String {
    let header = URL_SAFE_NO_PAD
        .decode(jwt.split('.').next().unwrap())
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// Audit entries with `action`, chained or still waiting for the sequencer.
async fn audit_count(c: &Cluster, action: &str) -> i64 {
    let mut db = c.db().await;
    let mut n = 0;
    for table in ["audit_log", "audit_pending"] {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) AS n FROM {table} WHERE action = $1"
        )))
        .bind(action)
        .fetch_one(&mut db)
        .await
        .unwrap();
        n += row.get::<i64, _>("n");
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_behind_haproxy() {
    let (sink, sms_url) = SmsSink::start().await;
    let Some(c) = Cluster::up(&sms_url) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (one, two, lb) = (c.node(1), c.node(2), c.balancer());
    let bank = register_sp(&c, "Demo Bank");
    let anna = activated_person(
        &c,
        &sink,
        dir.path(),
        "0101901234",
        "1990-01-01",
        "+4512345678",
        "anna.hansen",
    )
    .await;

    // A login whose every step lands on the other node than the one before: PAR on 1,
    // authorize on 2, user ID page on 1, …, the app's approval on 2, the browser's
    // return on 1, the token on 2 and userinfo on 1.
    let alternating = vec![one.clone(), two.clone()];
    let w = start_login(&bank, "anna.hansen", &alternating).await;
    finish_login(&bank, &anna, w, &two, &one, &two, &one).await;

    // Lockout across nodes: twenty wrong PINs at once, alternating between the nodes,
    // for one waiting login; at most three are evaluated and the app locks once.
    let bob = activated_person(
        &c,
        &sink,
        dir.path(),
        "0202802345",
        "1980-02-02",
        "+4523456789",
        "bob.jensen",
    )
    .await;
    let w = start_login(&bank, "bob.jensen", std::slice::from_ref(&lb)).await;
    let request = AppClient::new(&one)
        .unwrap()
        .requests(&bob, &OsRandom)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.binding_required)
        .unwrap();
    let bob = std::sync::Arc::new(bob);
    // Meanwhile anna logs in through the balancer (round robin, no stickiness), again
    // and again: audited writes on both nodes at once.
    let bank = std::sync::Arc::new(bank);
    let anna = std::sync::Arc::new(anna);
    let logins = {
        let (bank, anna, lb) = (bank.clone(), anna.clone(), lb.clone());
        tokio::spawn(async move {
            for _ in 0..4 {
                let w = start_login(&bank, "anna.hansen", std::slice::from_ref(&lb)).await;
                finish_login(&bank, &anna, w, &lb, &lb, &lb, &lb).await;
            }
        })
    };
    let mut guesses = vec![];
    for i in 0..20 {
        let (bob, request, binding) = (bob.clone(), request.clone(), w.binding.clone());
        let node = if i % 2 == 0 { one.clone() } else { two.clone() };
        guesses.push(tokio::spawn(async move {
            AppClient::new(&node)
                .unwrap()
                .approve_request(&bob, &request, "999999", Some(&binding), &OsRandom)
                .await
        }));
    }
    for g in guesses {
        assert!(g.await.unwrap().is_err(), "a wrong PIN was accepted");
    }
    logins.await.unwrap();
    assert_eq!(
        audit_count(&c, "authenticator.pin_wrong").await,
        3,
        "guesses beyond the tries left are not evaluated, on any node"
    );
    assert_eq!(audit_count(&c, "authenticator.app_locked").await, 1);
    // Locked on both nodes: the right PIN is refused too.
    for node in [&one, &two] {
        assert!(
            AppClient::new(node)
                .unwrap()
                .approve_request(&bob, &request, PIN, Some(&w.binding), &OsRandom)
                .await
                .is_err(),
            "the locked app approved at {node}"
        );
    }

    // An SP registered by `sesam admin` works on both nodes at once.
    let shop = register_sp(&c, "Web Shop");
    for node in [&one, &two] {
        let r = form(
            http()
                .post(format!("{node}/par"))
                .basic_auth(&shop.client_id, Some(&shop.secret)),
            &[
                ("response_type", "code"),
                ("client_id", shop.client_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbvsk8Nq9Kcs",
                ),
                ("code_challenge_method", "S256"),
            ],
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 201, "the new SP at {node}");
    }

    // A node killed while a login waits for the app: the login completes through the
    // balancer, which takes the dead node out.
    let w = start_login(&bank, "anna.hansen", std::slice::from_ref(&one)).await;
    c.script(&["kill", "1"]);
    finish_login(&bank, &anna, w, &lb, &lb, &lb, &lb).await;
    // … and the node comes back.
    c.script(&["start", "1"]);

    // Exactly once: both nodes dispatch; every SMS in the outbox arrived once, under its
    // own id, and no text arrived under two ids.
    for i in 0..10 {
        c.admin(&[
            "identity",
            "reissue",
            "bob.jensen",
            "--reason",
            &format!("letter {i}"),
        ]);
    }
    let mut db = c.db().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let sent: HashSet<String> = loop {
        let open: i64 = sqlx::query(
            "SELECT count(*) AS n FROM outbox WHERE channel = 'sms' AND state IN ('pending', 'sending')",
        )
        .fetch_one(&mut db)
        .await
        .unwrap()
        .get("n");
        if open == 0 {
            break sqlx::query(
                "SELECT message_id FROM outbox WHERE channel = 'sms' AND state = 'sent'",
            )
            .fetch_all(&mut db)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<uuid::Uuid, _>("message_id").to_string())
            .collect();
        }
        assert!(Instant::now() < deadline, "{open} SMS still not sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let received = sink.received.lock().unwrap().clone();
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for (auth, body) in &received {
        assert_eq!(auth, &format!("Bearer {TOKEN}"));
        let id = body["message_id"].as_str().unwrap().to_owned();
        *per_id.entry(id).or_default() += 1;
    }
    assert!(sent.len() >= 13, "activations, lock, ten letters: {sent:?}");
    assert_eq!(
        per_id.keys().cloned().collect::<HashSet<_>>(),
        sent,
        "every sent SMS arrived, and nothing else"
    );
    assert!(
        per_id.values().all(|n| *n == 1),
        "an SMS was sent twice: {per_id:?}"
    );

    // The audit chain, written by both nodes at once, verifies.
    let out = c.script(&["admin", "--operator", "tester", "audit", "verify"]);
    assert!(out.status.success(), "{out:?}");

    // The app's long-poll on node 2 wakes when the login is created on node 1 (the
    // nodes tell each other; a node alone would answer only when the wait ran out).
    let waiting = {
        let (anna, two) = (anna.clone(), two.clone());
        tokio::spawn(async move {
            AppClient::new(&two)
                .unwrap()
                .wait_for_requests(&anna, 25, &OsRandom)
                .await
                .unwrap()
        })
    };
    // Let the waiting call reach node 2 first (if it came later it would find the
    // request at once, and this part would prove nothing, but not fail).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let w = start_login(&bank, "anna.hansen", std::slice::from_ref(&one)).await;
    let woken = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the long-poll on node 2 was not woken by the login on node 1")
        .unwrap();
    assert!(
        woken.iter().any(|r| r.binding_required),
        "the long-poll answered without the login: {woken:?}"
    );
    finish_login(&bank, &anna, w, &two, &two, &two, &two).await;

    // A signing-key rotation by `sesam admin` is used by both nodes within 1 s. Each
    // node gets two codes ready; the first is redeemed just before the rotation (the
    // node's key cache is fresh then), the second 1 s after it.
    let mut ready = vec![];
    for node in [&one, &two] {
        for _ in 0..2 {
            let w = start_login(&bank, "anna.hansen", std::slice::from_ref(node)).await;
            let code = approve(&anna, &w, node, node).await;
            ready.push((node, code, w.verifier));
        }
    }
    let mut old = HashSet::new();
    for (node, code, verifier) in ready.iter().step_by(2) {
        old.insert(kid(&redeem(&bank, code, verifier, node, node).await));
    }
    assert_eq!(old.len(), 1, "both nodes sign with one key");
    c.admin(&["keys", "rotate"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut new = vec![];
    for (node, code, verifier) in ready.iter().skip(1).step_by(2) {
        new.push((node, kid(&redeem(&bank, code, verifier, node, node).await)));
    }
    let signing = find_signing_kid(&c.admin(&["keys", "list"]));
    assert!(
        !old.contains(&signing),
        "the rotation changed the signing key"
    );
    for (node, kid) in new {
        assert_eq!(
            kid, signing,
            "{node} still signs with the old key 1 s after the rotation"
        );
    }
}

/// The kid of the key that signs now, from `sesam admin --json keys list`.
fn find_signing_kid(keys: &Value) -> String {
    let list = keys["keys"]
        .as_array()
        .or_else(|| keys.as_array())
        .unwrap_or_else(|| panic!("a key list: {keys}"));
    list.iter()
        .find(|k| k["state"] == "active")
        .and_then(|k| k["kid"].as_str())
        .unwrap_or_else(|| panic!("no signing key in {keys}"))
        .to_owned()
}
