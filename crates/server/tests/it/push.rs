//! Web push end to end: an app registers a push subscription with keys made here, a
//! pairing starts for its person, and a local push receiver (standing in for the browser's
//! push service) gets the push, checks the VAPID token against the published key and
//! decrypts the body as RFC 8291 says a browser does (written here from the RFC, apart
//! from the server's code). Also the push service's failure answers, revocation and
//! refused subscriptions.

use crate::inproc;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inproc::*;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use serde_json::{Value, json};
use sesam_app::AppState;
use sesam_domain::{Clock, OsRandom};

/// What the receiver got: each request's headers and body.
type Received = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A local push service: records every request, answers as told (the queue first, then
/// `Created`).
#[derive(Clone, Default)]
struct PushReceiver {
    received: Received,
    answers: Arc<Mutex<Vec<StatusCode>>>,
}

impl PushReceiver {
    async fn start() -> (Self, String) {
        let r = Self::default();
        let s = r.clone();
        let app = axum::Router::new().route(
            "/push/{id}",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let s = s.clone();
                async move {
                    s.received.lock().unwrap().push((headers, body.to_vec()));
                    let mut answers = s.answers.lock().unwrap();
                    if answers.is_empty() {
                        StatusCode::CREATED
                    } else {
                        answers.remove(0)
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, url)
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    async fn wait_for(&self, n: usize) -> (HeaderMap, Vec<u8>) {
        for _ in 0..400 {
            if let Some(r) = self.received.lock().unwrap().get(n - 1) {
                return r.clone();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("push #{n} did not arrive (got {})", self.count());
    }
}

/// A browser's side of a subscription: its key pair and authentication secret.
struct Browser {
    secret: SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Self {
        let secret = loop {
            let bytes: [u8; 32] = sesam_domain::random::random_bytes(&OsRandom);
            if let Ok(k) = SecretKey::from_slice(&bytes) {
                break k;
            }
        };
        Self {
            secret,
            auth: sesam_domain::random::random_bytes(&OsRandom),
        }
    }

    fn public(&self) -> Vec<u8> {
        self.secret
            .public_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec()
    }

    fn subscription(&self, endpoint: &str) -> Value {
        json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(self.public()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            }
        })
    }

    /// RFC 8291 section 3 and RFC 8188 section 2, the receiving side: HKDF and AES-GCM
    /// from ring, ECDH from p256.
    fn decrypt(&self, body: &[u8]) -> Vec<u8> {
        use ring::{aead, hkdf};
        struct Len(usize);
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                self.0
            }
        }
        let salt = &body[..16];
        let rs = u32::from_be_bytes(body[16..20].try_into().unwrap());
        assert_eq!(rs, 4096);
        let idlen = body[20] as usize;
        assert_eq!(idlen, 65, "the key id is the sender's public key");
        let as_public = &body[21..21 + idlen];
        let record = &body[21 + idlen..];
        assert!(record.len() <= rs as usize);
        let sender = PublicKey::from_sec1_bytes(as_public).unwrap();
        let shared =
            p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), sender.as_affine());
        let ua_public = self.public();
        let mut ikm = [0u8; 32];
        hkdf::Salt::new(hkdf::HKDF_SHA256, &self.auth)
            .extract(shared.raw_secret_bytes())
            .expand(&[b"WebPush: info\0", &ua_public, as_public], Len(32))
            .unwrap()
            .fill(&mut ikm)
            .unwrap();
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(&ikm);
        let mut cek = [0u8; 16];
        prk.expand(&[b"Content-Encoding: aes128gcm\0"], Len(16))
            .unwrap()
            .fill(&mut cek)
            .unwrap();
        let mut nonce = [0u8; 12];
        prk.expand(&[b"Content-Encoding: nonce\0"], Len(12))
            .unwrap()
            .fill(&mut nonce)
            .unwrap();
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &cek).unwrap());
        let mut data = record.to_vec();
        let plain = key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::empty(),
                &mut data,
            )
            .unwrap();
        // The last record: the text, the delimiter 0x02, then zero padding.
        let end = plain.iter().rposition(|b| *b != 0).unwrap();
        assert_eq!(plain[end], 2, "the last record's delimiter");
        plain[..end].to_vec()
    }
}

const PIN: &str = "111111";

async fn setup(
    backend: Backend,
    allow_local: bool,
) -> Option<(Harness, SmsSink, tempfile::TempDir, AppState)> {
    let (sink, url) = SmsSink::start().await;
    let extra = if allow_local {
        vec![("SESAM_PUSH_ALLOW_LOCAL_ENDPOINTS", "true".to_owned())]
    } else {
        vec![]
    };
    let h = harness_env(backend, Some(&url), &extra).await?;
    let dir = tempfile::tempdir().unwrap();
    let app = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        PIN,
    )
    .await;
    Some((h, sink, dir, app))
}

async fn subscribe(
    h: &Harness,
    app: &AppState,
    body: &Value,
) -> Result<Value, sesam_app::AppError> {
    h.client()
        .signed(
            app,
            reqwest::Method::POST,
            "/app/v1/push/subscription",
            Some(body),
            &OsRandom,
        )
        .await
}

/// Starts the pairing of a further app for Anna: something now waits for her apps.
async fn start_pairing(h: &Harness, dir: &std::path::Path, name: &str) {
    let app = new_app(dir, &h.base, name);
    h.client()
        .start_pairing(&app, "anna.hansen", "222222", name, &OsRandom)
        .await
        .unwrap();
}

async fn identity_of(h: &Harness, app: &AppState) -> uuid::Uuid {
    h.db.device(app.device_id.unwrap())
        .await
        .unwrap()
        .unwrap()
        .identity_id
}

/// The outbox rows of web pushes, oldest first.
async fn pushes(h: &Harness, identity: uuid::Uuid) -> Vec<sesam_store::OutboxEntry> {
    let mut m: Vec<_> =
        h.db.recent_messages(Some(identity), 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.channel == sesam_domain::notification::Channel::Push)
            .collect();
    m.reverse();
    m
}

async fn a_new_request_is_pushed_encrypted_with_vapid(backend: Backend) {
    let Some((h, _sink, dir, app)) = setup(backend, true).await else {
        return;
    };
    let (receiver, base) = PushReceiver::start().await;
    let config: Value = reqwest::get(format!("{}/app/v1/config", h.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let push_key = config["push_key"].as_str().unwrap().to_owned();
    let published = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(&push_key).unwrap())
        .expect("the push key is a P-256 point");

    let browser = Browser::new();
    let endpoint = format!("{base}/push/abc123");
    let answer = subscribe(&h, &app, &browser.subscription(&endpoint))
        .await
        .unwrap();
    assert_eq!(answer, json!({ "subscribed": true }));

    start_pairing(&h, dir.path(), "Tablet").await;
    let (headers, body) = receiver.wait_for(1).await;
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(header("content-encoding"), "aes128gcm");
    assert_eq!(header("urgency"), "high");
    let ttl: u32 = header("ttl").parse().unwrap();
    assert!((1..=600).contains(&ttl), "{ttl}");

    // VAPID (RFC 8292): `vapid t=<JWT>, k=<the published key>`.
    let auth = header("authorization");
    let (jwt, k) = auth
        .strip_prefix("vapid t=")
        .and_then(|r| r.split_once(", k="))
        .unwrap();
    assert_eq!(k, push_key);
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
    published.verify(input.as_bytes(), &sig).unwrap();
    let part = |i: usize| -> Value {
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(input.split('.').nth(i).unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(part(0)["alg"], "ES256");
    let claims = part(1);
    assert_eq!(claims["aud"], base, "aud is the endpoint's origin");
    let now = h.clock.now().millis() / 1000;
    let exp = claims["exp"].as_i64().unwrap();
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp}, now {now}");
    let sub = claims["sub"].as_str().unwrap();
    assert!(
        sub.starts_with("mailto:") || sub.starts_with("https://"),
        "{sub}"
    );

    // The body decrypts with the subscription's private key, and says nothing but that
    // something waits.
    let plain = browser.decrypt(&body);
    assert_eq!(String::from_utf8(plain).unwrap(), r#"{"type":"pending"}"#);
    let identity = identity_of(&h, &app).await;
    let sent = pushes(&h, identity).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].state, "sent");
    assert!(
        !sent[0].destination.contains("push/"),
        "the outbox names the subscription, not its URL"
    );

    // Removed: nothing more is pushed.
    let removed = h
        .client()
        .signed(
            &app,
            reqwest::Method::POST,
            "/app/v1/push/subscription/remove",
            None,
            &OsRandom,
        )
        .await
        .unwrap();
    assert_eq!(removed, json!({ "subscribed": false }));
    start_pairing(&h, dir.path(), "Laptop").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.count(), 1);
    assert_eq!(pushes(&h, identity).await.len(), 1);
}

#[tokio::test]
async fn a_new_request_is_pushed_encrypted_with_vapid_on_sqlite() {
    a_new_request_is_pushed_encrypted_with_vapid(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_new_request_is_pushed_encrypted_with_vapid_on_postgres() {
    a_new_request_is_pushed_encrypted_with_vapid(Backend::Postgres).await;
}

#[tokio::test]
async fn busy_push_services_are_retried_and_gone_subscriptions_removed() {
    let (h, _sink, dir, app) = setup(Backend::Sqlite, true).await.unwrap();
    let (receiver, base) = PushReceiver::start().await;
    let browser = Browser::new();
    subscribe(&h, &app, &browser.subscription(&format!("{base}/push/1")))
        .await
        .unwrap();
    let identity = identity_of(&h, &app).await;

    // 429, then 500: tried again after the outbox's backoff, then delivered.
    receiver.answers.lock().unwrap().extend([
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::INTERNAL_SERVER_ERROR,
    ]);
    start_pairing(&h, dir.path(), "Tablet").await;
    receiver.wait_for(1).await;
    for n in 2..=3 {
        // The backoff is seconds; the server's clock is moved on instead of waiting.
        for _ in 0..40 {
            if receiver.count() >= n {
                break;
            }
            h.clock.advance_seconds(5);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        receiver.wait_for(n).await;
    }
    let (_, body) = receiver.wait_for(3).await;
    assert_eq!(browser.decrypt(&body), br#"{"type":"pending"}"#);
    for _ in 0..40 {
        if pushes(&h, identity).await[0].state == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = &pushes(&h, identity).await[0];
    assert_eq!((first.state.as_str(), first.attempts), ("sent", 3));
    let attempts = h.db.attempts_of(first.message_id).await.unwrap();
    let outcomes: Vec<_> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["temporary", "temporary", "sent"]);

    // 410: the push service no longer knows the subscription; it is removed, not retried.
    receiver.answers.lock().unwrap().push(StatusCode::GONE);
    start_pairing(&h, dir.path(), "Laptop").await;
    receiver.wait_for(4).await;
    for _ in 0..40 {
        if h.db
            .push_subscriptions_of(identity)
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        h.db.push_subscriptions_of(identity)
            .await
            .unwrap()
            .is_empty()
    );
    h.clock.advance_seconds(60);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.count(),
        4,
        "a gone subscription is not tried again"
    );
    let second = &pushes(&h, identity).await[1];
    assert_eq!((second.state.as_str(), second.attempts), ("failed", 1));
    let error = second.last_error.clone().unwrap();
    assert!(error.contains("410"), "{error}");
    assert!(!error.contains(&base), "no endpoint URL in errors: {error}");
}

#[tokio::test]
async fn revoking_an_app_removes_its_subscription() {
    let (h, _sink, _dir, app) = setup(Backend::Sqlite, true).await.unwrap();
    let (_receiver, base) = PushReceiver::start().await;
    subscribe(
        &h,
        &app,
        &Browser::new().subscription(&format!("{base}/push/1")),
    )
    .await
    .unwrap();
    let identity = identity_of(&h, &app).await;
    assert_eq!(h.db.push_subscriptions_of(identity).await.unwrap().len(), 1);
    h.client()
        .revoke(&app, app.device_id.unwrap(), PIN, &OsRandom)
        .await
        .unwrap();
    assert!(
        h.db.push_subscriptions_of(identity)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.db.push_subscription(uuid::Uuid::nil())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn bad_subscriptions_are_refused_with_clear_errors() {
    let (h, _sink, _dir, app) = setup(Backend::Sqlite, false).await.unwrap();
    let browser = Browser::new();
    let good = browser.subscription("https://push.example.net/wpush/1");
    let refused = |body: Value| {
        let h = &h;
        let app = &app;
        async move { subscribe(h, app, &body).await.unwrap_err() }
    };
    for (endpoint, words) in [
        ("http://push.example.net/wpush/1", "https"),
        ("http://127.0.0.1:9/push/1", "https"),
        ("https://127.0.0.1/push/1", "loopback, private"),
        ("https://169.254.169.254/latest", "loopback, private"),
        ("https://10.0.0.1/push", "loopback, private"),
        ("https://localhost/push", "loopback, private"),
        ("file:///etc/passwd", "https"),
        ("push.example.net", "URL"),
    ] {
        let mut body = good.clone();
        body["endpoint"] = json!(endpoint);
        let e = refused(body).await;
        assert_eq!(e.code(), Some("push_endpoint_refused"), "{endpoint}: {e}");
        assert!(e.to_string().contains(words), "{endpoint}: {e}");
    }
    let mut off_curve = browser.public();
    off_curve[64] ^= 1;
    for (field, value, words) in [
        ("p256dh", URL_SAFE_NO_PAD.encode(&off_curve), "p256dh"),
        ("p256dh", URL_SAFE_NO_PAD.encode([4u8; 33]), "p256dh"),
        ("p256dh", "not base64!".to_owned(), "p256dh"),
        ("auth", URL_SAFE_NO_PAD.encode([1u8; 8]), "auth"),
    ] {
        let mut body = good.clone();
        body["keys"][field] = json!(value);
        let e = refused(body).await;
        assert_eq!(e.code(), Some("push_keys_invalid"), "{field}: {e}");
        assert!(e.to_string().contains(words), "{field}: {e}");
    }
    let e = refused(json!({ "endpoint": "https://push.example.net/1" })).await;
    assert_eq!(e.code(), Some("invalid_request"), "{e}");
    let identity = identity_of(&h, &app).await;
    assert!(
        h.db.push_subscriptions_of(identity)
            .await
            .unwrap()
            .is_empty()
    );
    // A well-formed one is taken.
    subscribe(&h, &app, &good).await.unwrap();
    assert_eq!(h.db.push_subscriptions_of(identity).await.unwrap().len(), 1);
}
