//! First app activation end to end: the server in process (with a clock the test moves),
//! the `sesam-app` library as the app, and a real HTTP SMS gateway sink.

use crate::inproc;

use std::sync::Arc;

use inproc::*;
use serde_json::{Value, json};
use sesam_app::AppClient;
use sesam_core::services::Actor;
use sesam_domain::{Clock, OsRandom, SystemClock};

async fn full_first_activation(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let code = enrol(&h, "0101901234", "+4512345678", None).await;
    let dir = tempfile::tempdir().unwrap();
    let mut app = new_app(dir.path(), &h.base, "phone");
    let client = AppClient::new(&h.base).unwrap();

    let started = client.start_activation(&code.to_lowercase()).await.unwrap();
    assert!(started.user_id_required);
    assert_eq!(started.sms_sent_to, "+45…78");
    let sms = sink.wait_for_code("+4512345678", 1).await;
    {
        let received = sink.received.lock().unwrap();
        assert!(
            received
                .iter()
                .all(|(auth, _)| auth == &format!("Bearer {TOKEN}"))
        );
        assert!(received[0].1["message_id"].as_str().is_some());
    }
    // Asking again while the SMS code is valid sends no second SMS.
    let again = client.start_activation(&code).await.unwrap();
    assert_eq!(again.activation_id, started.activation_id);

    let done = client
        .complete_activation(
            &app,
            &started,
            &code,
            &sms,
            "123456",
            "Pixel 8",
            None,
            Some("Anna.Hansen"),
            &OsRandom,
        )
        .await
        .unwrap();
    assert_eq!(done.user_id, "Anna.Hansen");
    assert_eq!(done.device_name, "Pixel 8");
    app.device_id = Some(done.device_id);

    let me = client.me(&app, &OsRandom).await.unwrap();
    assert_eq!(me.user_id.as_deref(), Some("Anna.Hansen"));
    assert_eq!(me.state, "active");
    assert_eq!(me.devices.len(), 1);
    assert_eq!(as_json(&me.devices[0])["this_device"], true);

    let view = h
        .sesam
        .show_identity(&Actor::operator("test").unwrap(), "anna.hansen")
        .await
        .unwrap();
    assert_eq!(view.identity.state, sesam_domain::IdentityState::Active);
    assert!(view.open_grants.is_empty(), "the grant is consumed");

    let actions = audit_actions(&h).await;
    for a in [
        "identity.enrolled",
        "activation.code_accepted",
        "authenticator.app_activated",
        "identity.user_id_chosen",
    ] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} missing from {actions:?}"
        );
    }
    assert!(h.sesam.verify_audit().await.is_ok());

    // The activation notice reaches the phone; the PIN's text is scrubbed once sent.
    for _ in 0..200 {
        if sink
            .texts_to("+4512345678")
            .iter()
            .any(|t| t.contains("Pixel 8"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        sink.texts_to("+4512345678")
            .iter()
            .any(|t| t.contains("Pixel 8"))
    );
    let stored = h.db.recent_messages(None, 50).await.unwrap();
    assert!(
        stored.iter().all(|m| !m.body.contains(&sms)),
        "the temporary PIN stays in the outbox: {stored:?}"
    );
    assert!(
        stored
            .iter()
            .any(|m| m.event == "authenticator.app_activated" && m.channel.as_str() == "email")
    );

    // The letter cannot be used twice.
    let err = client.start_activation(&code).await.unwrap_err();
    assert_eq!(err.code(), Some("activation_closed"));
}

#[tokio::test]
async fn full_first_activation_on_sqlite() {
    full_first_activation(Backend::Sqlite).await;
}

#[tokio::test]
async fn full_first_activation_on_postgres() {
    full_first_activation(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_wrong_sms_codes_void_the_activation_on_sqlite() {
    three_wrong_sms_codes_void_the_activation(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_wrong_sms_codes_void_the_activation_on_postgres() {
    three_wrong_sms_codes_void_the_activation(Backend::Postgres).await;
}

async fn three_wrong_sms_codes_void_the_activation(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let code = enrol(&h, "0101901234", "+4512345678", Some("anna.hansen")).await;
    let dir = tempfile::tempdir().unwrap();
    let app = new_app(dir.path(), &h.base, "phone");
    let client = AppClient::new(&h.base).unwrap();
    let started = client.start_activation(&code).await.unwrap();
    let sms = sink.wait_for_code("+4512345678", 1).await;
    let wrong = if sms == "11111111" {
        "22222222"
    } else {
        "11111111"
    };
    let attempt = |c: &'static str| {
        let (client, app, started, code) = (&client, &app, &started, &code);
        async move {
            client
                .complete_activation(app, started, code, c, "123456", "P", None, None, &OsRandom)
                .await
        }
    };
    let wrong: &'static str = Box::leak(wrong.to_owned().into_boxed_str());
    let e = attempt(wrong).await.unwrap_err();
    assert_eq!(e.code(), Some("sms_code_wrong"));
    assert!(e.to_string().contains("2 attempts left"), "{e}");
    assert_eq!(
        attempt(wrong).await.unwrap_err().code(),
        Some("sms_code_wrong")
    );
    assert_eq!(
        attempt(wrong).await.unwrap_err().code(),
        Some("activation_voided")
    );
    let right: &'static str = Box::leak(sms.into_boxed_str());
    assert_eq!(
        attempt(right).await.unwrap_err().code(),
        Some("activation_voided")
    );
    assert!(
        audit_actions(&h)
            .await
            .iter()
            .any(|a| a == "activation.voided")
    );
    for _ in 0..200 {
        if sink
            .texts_to("+4512345678")
            .iter()
            .any(|t| t.contains("annulleret"))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!(
        "the person was not told: {:?}",
        sink.texts_to("+4512345678")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_sms_codes_are_evaluated_at_most_three_times_on_sqlite() {
    concurrent_wrong_sms_codes_are_evaluated_at_most_three_times(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_sms_codes_are_evaluated_at_most_three_times_on_postgres() {
    concurrent_wrong_sms_codes_are_evaluated_at_most_three_times(Backend::Postgres).await;
}

async fn concurrent_wrong_sms_codes_are_evaluated_at_most_three_times(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let code = enrol(&h, "0101901234", "+4512345678", Some("anna.hansen")).await;
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(new_app(dir.path(), &h.base, "phone"));
    let client = Arc::new(AppClient::new(&h.base).unwrap());
    let started = Arc::new(client.start_activation(&code).await.unwrap());
    let sms = sink.wait_for_code("+4512345678", 1).await;
    let wrong = if sms == "11111111" {
        "22222222".to_owned()
    } else {
        "11111111".to_owned()
    };
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (client, app, started, code, wrong) = (
                client.clone(),
                app.clone(),
                started.clone(),
                code.clone(),
                wrong.clone(),
            );
            tokio::spawn(async move {
                client
                    .complete_activation(
                        &app, &started, &code, &wrong, "123456", "P", None, None, &OsRandom,
                    )
                    .await
                    .unwrap_err()
                    .code()
                    .map(str::to_owned)
            })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap().unwrap());
    }
    let wrong_count = codes.iter().filter(|c| *c == "sms_code_wrong").count();
    let voided = codes.iter().filter(|c| *c == "activation_voided").count();
    assert_eq!(wrong_count, 2, "{codes:?}");
    assert_eq!(voided, 18, "{codes:?}");
    let grant =
        h.db.grant_by_code_hash(&h.keys.activation_code_hash(&code.replace('-', "")))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        grant.failed_attempts, 3,
        "exactly three attempts were evaluated"
    );
}

#[tokio::test]
async fn expired_codes_are_refused() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let code = enrol(&h, "0101901234", "+4512345678", Some("anna.hansen")).await;
    let dir = tempfile::tempdir().unwrap();
    let app = new_app(dir.path(), &h.base, "phone");
    let client = AppClient::new(&h.base).unwrap();
    let started = client.start_activation(&code).await.unwrap();
    let sms = sink.wait_for_code("+4512345678", 1).await;

    h.clock.advance_seconds(31 * 60);
    // The app's requests are stamped with the wall clock; activation is not device-signed.
    let e = client
        .complete_activation(
            &app, &started, &code, &sms, "123456", "P", None, None, &OsRandom,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("sms_code_expired"));
    // A new SMS code can be requested; then the old one no longer works.
    client.start_activation(&code).await.unwrap();
    let second = sink.wait_for_code("+4512345678", 2).await;
    assert_ne!(second, sms);

    h.clock.advance_seconds(48 * 3600);
    assert_eq!(
        client.start_activation(&code).await.unwrap_err().code(),
        Some("activation_code_expired")
    );
    let e = client
        .complete_activation(
            &app, &started, &code, &second, "123456", "P", None, None, &OsRandom,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("activation_code_expired"));
}

#[tokio::test]
async fn bad_activation_input_is_refused_specifically() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let code = enrol(&h, "0101901234", "+4512345678", None).await;
    let other = enrol(&h, "0202901234", "+4587654321", Some("bent.b")).await;
    let client = AppClient::new(&h.base).unwrap();
    let http = reqwest::Client::new();

    assert_eq!(
        client
            .start_activation("ABCD-EFGH-JKLM")
            .await
            .unwrap_err()
            .code(),
        Some("activation_code_invalid")
    );
    assert_eq!(
        client
            .start_activation("not a code")
            .await
            .unwrap_err()
            .code(),
        Some("activation_code_invalid")
    );
    let r = http
        .post(format!("{}/app/v1/activation/start", h.base))
        .body("{\"activation_code\": 5}")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");

    let started = client.start_activation(&code).await.unwrap();
    let sms = sink.wait_for_code("+4512345678", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let app = new_app(dir.path(), &h.base, "phone");

    // Another person's letter with this activation: refused, nothing counted.
    let e = client
        .complete_activation(
            &app,
            &started,
            &other,
            &sms,
            "123456",
            "P",
            None,
            Some("anna.h"),
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("activation_code_invalid"));
    // A user ID is required on a first activation, and it follows the rules.
    let e = client
        .complete_activation(
            &app, &started, &code, &sms, "123456", "P", None, None, &OsRandom,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("user_id_required"));
    let e = client
        .complete_activation(
            &app,
            &started,
            &code,
            &sms,
            "123456",
            "P",
            None,
            Some("anna 12345678"),
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("phone number"), "{e}");
    let e = client
        .complete_activation(
            &app,
            &started,
            &code,
            &sms,
            "123456",
            "P",
            None,
            Some("BENT.B"),
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("taken"), "{e}");

    // Raw requests with a malformed key, a forged possession proof and a PIN proof for
    // another activation.
    let public = app.public_key_sec1().unwrap();
    let base_body = json!({
        "activation_id": started.activation_id, "activation_code": code, "sms_code": sms,
        "device_public_key": sesam_domain::app_protocol::b64(&public), "device_name": "P",
        "possession_signature": sesam_domain::app_protocol::b64(&[0u8; 64]),
        "pin_proof": sesam_domain::app_protocol::b64(&[0u8; 87]), "new_user_id": "anna.h",
    });
    let post = |body: Value| {
        let http = http.clone();
        let url = format!("{}/app/v1/activation/complete", h.base);
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let mut b = base_body.clone();
    b["device_public_key"] = json!("AAAA");
    let (status, body) = post(b).await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("P-256 public key"),
        "{body}"
    );
    let (_, body) = post(base_body.clone()).await;
    assert_eq!(body["error"], "bad_possession_proof");
    let mut b = base_body.clone();
    b["sms_code"] = json!("12ab");
    assert_eq!(post(b).await.1["error"], "sms_code_malformed");

    // None of that counted as a wrong SMS code: the right one still works.
    client
        .complete_activation(
            &app,
            &started,
            &code,
            &sms,
            "123456",
            "Phone",
            None,
            Some("anna.h"),
            &OsRandom,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn device_signed_requests_refuse_replays_and_forgeries() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let code = enrol(&h, "0101901234", "+4512345678", Some("anna.hansen")).await;
    let dir = tempfile::tempdir().unwrap();
    let mut app = new_app(dir.path(), &h.base, "phone");
    let client = AppClient::new(&h.base).unwrap();
    let started = client.start_activation(&code).await.unwrap();
    let sms = sink.wait_for_code("+4512345678", 1).await;
    let done = client
        .complete_activation(
            &app,
            &started,
            &code,
            &sms,
            "123456",
            "P",
            Some("Anna.Hansen"),
            None,
            &OsRandom,
        )
        .await
        .unwrap();
    app.device_id = Some(done.device_id);

    use p256::ecdsa::signature::Signer;
    let key = app.signing_key().unwrap();
    let now = SystemClock.now().millis();
    let http = reqwest::Client::new();
    let signed = |ts: i64, nonce: &str, sign_path: &str, key: &p256::ecdsa::SigningKey| {
        let bytes = sesam_domain::app_protocol::request_signing_bytes(
            "GET",
            sign_path,
            ts,
            nonce,
            done.device_id,
            b"",
        );
        let sig: p256::ecdsa::Signature = key.sign(&bytes);
        http.get(format!("{}/app/v1/me", h.base))
            .header("sesam-device", done.device_id.to_string())
            .header("sesam-timestamp", ts.to_string())
            .header("sesam-nonce", nonce.to_owned())
            .header(
                "sesam-signature",
                sesam_domain::app_protocol::b64(&sig.to_bytes()),
            )
    };
    let ok = signed(now, "nonce-aaaaaaaaaaaaaaaa", "/app/v1/me", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let replay = signed(now, "nonce-aaaaaaaaaaaaaaaa", "/app/v1/me", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    assert!(replay.text().await.unwrap().contains("replay"));
    let stale = signed(now - 120_000, "nonce-bbbbbbbbbbbbbbbb", "/app/v1/me", &key)
        .send()
        .await
        .unwrap();
    assert!(stale.text().await.unwrap().contains("60 seconds"));
    // The timestamp is the sender's number: the extremes are refused as off, not a panic
    // (`now - i64::MIN` overflowed and killed the request in debug builds).
    for (ts, nonce) in [
        (i64::MIN, "nonce-eeeeeeeeeeeeeeee"),
        (i64::MIN + 1, "nonce-ffffffffffffffff"),
        (i64::MAX, "nonce-gggggggggggggggg"),
    ] {
        let extreme = signed(ts, nonce, "/app/v1/me", &key).send().await.unwrap();
        assert_eq!(extreme.status(), 401, "{ts}");
        assert!(extreme.text().await.unwrap().contains("60 seconds"), "{ts}");
    }
    let other_path = signed(now, "nonce-cccccccccccccccc", "/app/v1/other", &key)
        .send()
        .await
        .unwrap();
    assert!(other_path.text().await.unwrap().contains("does not verify"));
    let other_key = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
    let forged = signed(now, "nonce-dddddddddddddddd", "/app/v1/me", &other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let unsigned = http
        .get(format!("{}/app/v1/me", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert!(unsigned.text().await.unwrap().contains("sesam-device"));
}

#[tokio::test]
async fn without_a_gateway_the_sms_goes_to_the_development_outbox_when_asked_for() {
    let h = harness_env(
        Backend::Sqlite,
        None,
        &[("SESAM_DEV_OUTBOX", "true".into())],
    )
    .await
    .unwrap();
    let code = enrol(&h, "0101901234", "+4512345678", Some("anna.hansen")).await;
    let client = AppClient::new(&h.base).unwrap();
    client.start_activation(&code).await.unwrap();
    let http = reqwest::Client::new();
    for _ in 0..200 {
        let j: Value = http
            .get(format!("{}/dev/outbox?format=json", h.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let found = j["messages"].as_array().unwrap().iter().any(|m| {
            m["to"] == "+4512345678" && eight_digits(m["text"].as_str().unwrap()).is_some()
        });
        if found {
            let page = http
                .get(format!("{}/dev/outbox", h.base))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(page.contains("Development outbox"));
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the SMS code never reached the development outbox");
}
