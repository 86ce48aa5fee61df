//! Further apps (paired, approved from an active app), PIN lockout and the person's own
//! lifecycle actions, end to end against the in-process server.

use crate::inproc;

use std::sync::Arc;

use inproc::*;
use sesam_app::AppState;
use sesam_core::services::Actor;
use sesam_domain::OsRandom;

/// Starts a pairing for a new app and returns its state with the pairing id.
async fn pair(
    h: &Harness,
    dir: &std::path::Path,
    name: &str,
    user_id: &str,
    pin: &str,
) -> (AppState, uuid::Uuid) {
    let mut app = new_app(dir, &h.base, name);
    let p = h
        .client()
        .start_pairing(&app, user_id, pin, name, &OsRandom)
        .await
        .unwrap();
    app.set_pin_key(&p.device_pin_key);
    (app, p.pairing_id)
}

/// The pairing code the new app of pairing `id` was given (and shows).
async fn shown_code(h: &Harness, id: uuid::Uuid) -> String {
    let p = h.db.pairing(id).await.unwrap().unwrap();
    p.code.unwrap().as_str().to_owned()
}

/// Approves the newest waiting pairing with its code and `pin`.
async fn approve_pending(
    h: &Harness,
    approver: &AppState,
    pin: &str,
) -> Result<serde_json::Value, sesam_app::AppError> {
    let client = h.client();
    let requests = client.requests(approver, &OsRandom).await.unwrap();
    let r = requests.last().expect("a waiting request").clone();
    let code = shown_code(h, r.id).await;
    client
        .approve(approver, &r, pin, Some(&code), &OsRandom)
        .await
        .map(as_json)
}

#[tokio::test]
async fn further_apps_are_approved_from_an_active_app_and_limited_to_three() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    let client = h.client();

    let (mut second, pairing) = pair(&h, dir.path(), "Pixel 8", "Anna.Hansen", "222222").await;
    assert_eq!(client.pairing_status(pairing).await.unwrap().0, "pending");
    let requests = client.requests(&first, &OsRandom).await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].text,
        "Aktivér en ny app? Navn valgt på den nye enhed: «Pixel 8». Godkend kun, hvis du selv er ved at sætte den op, og indtast koden, den viser."
    );
    assert_eq!(requests[0].device_name.as_deref(), Some("Pixel 8"));
    assert!(requests[0].pairing_code_required);
    approve_pending(&h, &first, "111111").await.unwrap();
    let (status, device) = client.pairing_status(pairing).await.unwrap();
    assert_eq!(status, "approved");
    second.device_id = device;
    let me = client.me(&second, &OsRandom).await.unwrap();
    assert_eq!(me.devices.len(), 2);

    // The new app's own PIN works: it can approve the third app.
    let (_third, _) = pair(&h, dir.path(), "iPad", "anna.hansen", "333333").await;
    approve_pending(&h, &second, "222222").await.unwrap();

    // A fourth is refused.
    let (_fourth, p4) = pair(&h, dir.path(), "Old phone", "anna.hansen", "444444").await;
    let e = approve_pending(&h, &first, "111111").await.unwrap_err();
    assert_eq!(e.code(), Some("too_many_apps"), "{e}");
    assert_eq!(client.pairing_status(p4).await.unwrap().0, "pending");

    // Every activation was notified and audited.
    for _ in 0..200 {
        if sink
            .texts_to("+4512345678")
            .iter()
            .any(|t| t.contains("iPad"))
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
    assert!(
        sink.texts_to("+4512345678")
            .iter()
            .any(|t| t.contains("iPad"))
    );
    let activated = audit_actions(&h)
        .await
        .iter()
        .filter(|a| *a == "authenticator.app_activated")
        .count();
    assert_eq!(activated, 3);
    assert!(h.sesam.verify_audit().await.is_ok());
}

#[tokio::test]
async fn a_pairing_for_an_unknown_user_id_looks_like_any_other() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let _first = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    let (_a, known) = pair(&h, dir.path(), "A", "anna.hansen", "222222").await;
    let (_b, unknown) = pair(&h, dir.path(), "B", "nobody.here", "222222").await;
    let client = h.client();
    assert_eq!(
        client.pairing_status(known).await.unwrap(),
        client.pairing_status(unknown).await.unwrap()
    );
    h.clock.advance_seconds(301);
    assert_eq!(client.pairing_status(unknown).await.unwrap().0, "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_pins_lock_the_app_and_the_person_is_told_on_sqlite() {
    wrong_pins_lock_the_app_and_the_person_is_told(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_pins_lock_the_app_and_the_person_is_told_on_postgres() {
    wrong_pins_lock_the_app_and_the_person_is_told(Backend::Postgres).await;
}

async fn wrong_pins_lock_the_app_and_the_person_is_told(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    let _ = pair(&h, dir.path(), "B", "anna.hansen", "222222").await;

    let e = approve_pending(&h, &first, "999999").await.unwrap_err();
    assert_eq!(e.code(), Some("pin_wrong"), "{e}");
    assert!(e.to_string().contains("2 attempts left"), "{e}");
    assert_eq!(
        approve_pending(&h, &first, "999999")
            .await
            .unwrap_err()
            .code(),
        Some("pin_wrong")
    );
    assert_eq!(
        approve_pending(&h, &first, "999999")
            .await
            .unwrap_err()
            .code(),
        Some("app_locked")
    );
    // Locked: even the right PIN is not evaluated.
    assert_eq!(
        approve_pending(&h, &first, "111111")
            .await
            .unwrap_err()
            .code(),
        Some("app_locked")
    );
    for _ in 0..200 {
        if sink
            .texts_to("+4512345678")
            .iter()
            .any(|t| t.contains("låst"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        sink.texts_to("+4512345678")
            .iter()
            .any(|t| t.contains("låst"))
    );

    // After 15 minutes the right PIN works again.
    h.clock.advance_seconds(15 * 60);
    let _ = pair(&h, dir.path(), "C", "anna.hansen", "333333").await;
    approve_pending(&h, &first, "111111").await.unwrap();
}

#[tokio::test]
async fn concurrent_wrong_pins_are_evaluated_at_most_three_times() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (sink, url) = SmsSink::start().await;
        let Some(h) = harness(backend, Some(&url)).await else {
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        let first = Arc::new(
            activated_app(
                &h,
                &sink,
                dir.path(),
                "0101901234",
                "+4512345678",
                "anna.hansen",
                "111111",
            )
            .await,
        );
        let _ = pair(&h, dir.path(), "B", "anna.hansen", "222222").await;
        let client = Arc::new(h.client());
        let request = client.requests(&first, &OsRandom).await.unwrap().remove(0);
        let code = Arc::new(shown_code(&h, request.id).await);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (client, first, request) = (client.clone(), first.clone(), request.clone());
                let code = code.clone();
                tokio::spawn(async move {
                    client
                        .approve(&first, &request, "999999", Some(&code), &OsRandom)
                        .await
                        .unwrap_err()
                        .code()
                        .map(str::to_owned)
                })
            })
            .collect();
        let mut codes = vec![];
        for t in tasks {
            codes.push(t.await.unwrap().unwrap());
        }
        assert_eq!(
            codes.iter().filter(|c| *c == "pin_wrong").count(),
            2,
            "{codes:?}"
        );
        assert_eq!(
            codes.iter().filter(|c| *c == "app_locked").count(),
            18,
            "{codes:?}"
        );
        let evaluated = audit_actions(&h)
            .await
            .iter()
            .filter(|a| *a == "authenticator.pin_wrong")
            .count();
        assert_eq!(evaluated, 3, "exactly three PINs were evaluated");
    }
}

#[tokio::test]
async fn locking_one_app_leaves_the_others_usable() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    let (mut second, p) = pair(&h, dir.path(), "B", "anna.hansen", "222222").await;
    approve_pending(&h, &first, "111111").await.unwrap();
    second.device_id = h.client().pairing_status(p).await.unwrap().1;

    let _ = pair(&h, dir.path(), "C", "anna.hansen", "333333").await;
    for _ in 0..3 {
        let _ = approve_pending(&h, &first, "999999").await;
    }
    assert_eq!(
        approve_pending(&h, &first, "111111")
            .await
            .unwrap_err()
            .code(),
        Some("app_locked")
    );
    approve_pending(&h, &second, "222222").await.unwrap();
}

#[tokio::test]
async fn the_person_renames_revokes_and_blocks() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    let (mut lost, p) = pair(&h, dir.path(), "Lost phone", "anna.hansen", "222222").await;
    approve_pending(&h, &first, "111111").await.unwrap();
    let lost_id = h.client().pairing_status(p).await.unwrap().1.unwrap();
    lost.device_id = Some(lost_id);
    let client = h.client();

    client
        .rename(&first, first.device_id.unwrap(), "Work phone", &OsRandom)
        .await
        .unwrap();
    let e = client
        .revoke(&first, lost_id, "999999", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("pin_wrong"));
    client
        .revoke(&first, lost_id, "111111", &OsRandom)
        .await
        .unwrap();
    let e = client.me(&lost, &OsRandom).await.unwrap_err();
    assert!(e.to_string().contains("revoked"), "{e}");
    let me = client.me(&first, &OsRandom).await.unwrap();
    let names: Vec<_> = me
        .devices
        .iter()
        .map(|d| {
            let d = as_json(d);
            (
                d["name"].as_str().unwrap().to_owned(),
                d["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        names.contains(&("Work phone".into(), "active".into())),
        "{names:?}"
    );
    assert!(
        names.contains(&("Lost phone".into(), "revoked".into())),
        "{names:?}"
    );

    client.block(&first, "111111", &OsRandom).await.unwrap();
    assert_eq!(
        client.me(&first, &OsRandom).await.unwrap().state,
        "suspended"
    );
    let _ = pair(&h, dir.path(), "New", "anna.hansen", "333333").await;
    assert!(
        client.requests(&first, &OsRandom).await.unwrap().is_empty(),
        "a blocked identity takes no new apps"
    );
    let e = client.block(&first, "111111", &OsRandom).await.unwrap_err();
    assert!(e.to_string().contains("already suspended"), "{e}");

    let actor = Actor::operator("counter").unwrap();
    h.sesam
        .reopen(&actor, "anna.hansen", "identity checked in person")
        .await
        .unwrap();
    assert_eq!(client.me(&first, &OsRandom).await.unwrap().state, "active");
    let actions = audit_actions(&h).await;
    for a in [
        "authenticator.renamed",
        "authenticator.app_revoked",
        "identity.suspended",
        "identity.reopened",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing");
    }
    for _ in 0..200 {
        if sink
            .texts_to("+4512345678")
            .iter()
            .any(|t| t.contains("spærret"))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no block notification: {:?}", sink.texts_to("+4512345678"));
}

#[tokio::test]
async fn a_new_letter_reopens_a_blocked_identity_with_two_fresh_channels() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    let client = h.client();
    client.block(&first, "111111", &OsRandom).await.unwrap();

    let actor = Actor::operator("counter").unwrap();
    let (_, old_letter, _) = h
        .sesam
        .issue_recovery_letter(&actor, "anna.hansen", "lost phone")
        .await
        .unwrap();
    let (identity, letter, _) = h
        .sesam
        .issue_recovery_letter(&actor, "ANNA.HANSEN", "second visit")
        .await
        .unwrap();
    assert_eq!(identity.state, sesam_domain::IdentityState::Suspended);
    // The first new letter was replaced by the second.
    let e = client
        .start_activation(&old_letter.grouped())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("activation_voided"), "{e}");

    let started = client.start_activation(&letter.grouped()).await.unwrap();
    assert!(!started.user_id_required);
    let sms = sink.wait_for_code("+4512345678", 2).await;
    let mut phone = new_app(dir.path(), &h.base, "replacement");
    let done = client
        .complete_activation(
            &phone,
            &started,
            &letter.grouped(),
            &sms,
            "555555",
            "Replacement",
            Some("anna.hansen"),
            None,
            &OsRandom,
        )
        .await
        .unwrap();
    phone.device_id = Some(done.device_id);
    phone.set_pin_key(&done.device_pin_key);
    assert_eq!(client.me(&phone, &OsRandom).await.unwrap().state, "active");
    let actions = audit_actions(&h).await;
    assert!(actions.iter().any(|a| a == "activation.letter_issued"));
    assert!(actions.iter().any(|a| a == "identity.reopened"));
    // The reopening is told like the operator's (mandatory, every channel).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !sink
        .texts_to("+4512345678")
        .iter()
        .any(|t| t.contains("blev genåbnet"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no reopening message: {:?}",
            sink.texts_to("+4512345678")
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Revoking every other app warns when the last one goes.
    let v = client
        .revoke(&phone, first.device_id.unwrap(), "555555", &OsRandom)
        .await
        .unwrap();
    let v = as_json(v);
    assert!(v["warning"].is_null(), "{v}");
    let v = client
        .revoke(&phone, phone.device_id.unwrap(), "555555", &OsRandom)
        .await
        .unwrap();
    let v = as_json(v);
    assert!(
        v["warning"]
            .as_str()
            .unwrap()
            .contains("last working authenticator"),
        "{v}"
    );
}

#[tokio::test]
async fn further_apps_on_postgres() {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(Backend::Postgres, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    let (mut second, p) = pair(&h, dir.path(), "Pixel 8", "anna.hansen", "222222").await;
    approve_pending(&h, &first, "111111").await.unwrap();
    second.device_id = h.client().pairing_status(p).await.unwrap().1;
    let client = h.client();
    assert_eq!(
        client.me(&second, &OsRandom).await.unwrap().devices.len(),
        2
    );
    client
        .rename(&second, second.device_id.unwrap(), "Renamed", &OsRandom)
        .await
        .unwrap();
    client
        .revoke(&second, first.device_id.unwrap(), "222222", &OsRandom)
        .await
        .unwrap();
    client.block(&second, "222222", &OsRandom).await.unwrap();
    assert_eq!(
        client.me(&second, &OsRandom).await.unwrap().state,
        "suspended"
    );
    assert!(h.sesam.verify_audit().await.is_ok());
}

/// A pairing start as any client on the network could send it, answered raw (status,
/// `Retry-After`, body).
async fn raw_pairing_start(
    h: &Harness,
    user_id: &str,
    name: &str,
) -> (u16, Option<String>, serde_json::Value) {
    use p256::ecdsa::signature::Signer;
    use sesam_domain::Random;
    use sesam_domain::app_protocol::{AppPin, b64, seal_enrolment_pin, unb64};
    let http = reqwest::Client::new();
    let config: serde_json::Value = http
        .get(format!("{}/app/v1/config", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pin_key = unb64(config["pin_key"].as_str().unwrap(), "pin_key").unwrap();
    let key = loop {
        let mut m = [0u8; 32];
        OsRandom.fill(&mut m);
        if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&m) {
            break k;
        }
    };
    let public = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
    let user_key = sesam_domain::UserIdKey::of_input(user_id);
    let binding = sesam_domain::pairing::pairing_binding(user_key.as_str(), &public);
    let (proof, _) = seal_enrolment_pin(
        &pin_key,
        &AppPin::parse("222222").unwrap(),
        &binding,
        &OsRandom,
    )
    .unwrap();
    let signature: p256::ecdsa::Signature = key.sign(&binding);
    let r = http
        .post(format!("{}/app/v1/pairing/start", h.base))
        .json(&serde_json::json!({
            "user_id": user_id,
            "device_public_key": b64(&public),
            "device_name": name,
            "possession_signature": b64(&signature.to_bytes()),
            "pin_proof": b64(&proof),
        }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, r.json().await.unwrap())
}

/// Moves the clock to just after the start of a 10-minute counting window.
fn start_of_window(h: &Harness) {
    use sesam_domain::Clock;
    let into_window = h.clock.now().millis().rem_euclid(600_000) / 1000;
    h.clock.advance_seconds(600 - into_window + 1);
}

/// The keys of a JSON object with the values that must differ per pairing blanked.
fn shape(v: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

async fn rapid_pairing_starts_are_limited(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    start_of_window(&h);
    // 25 starts in a burst for a known and for an unknown user ID: the same answers, 3
    // accepted (the per-person limit), then 429 with Retry-After.
    for user_id in ["anna.hansen", "nobody.here"] {
        let mut answers = vec![];
        for i in 0..25 {
            answers.push(raw_pairing_start(&h, user_id, &format!("Phone {i}")).await);
        }
        let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
        assert_eq!(statuses[..3], [200, 200, 200], "{user_id}: {statuses:?}");
        assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
        for (_, retry, body) in &answers[3..] {
            let seconds: i64 = retry.as_deref().expect("Retry-After").parse().unwrap();
            assert!((1..=600).contains(&seconds), "{seconds}");
            assert_eq!(body["error"], "too_many_requests", "{body}");
        }
        let (_, retry, body) = &answers[0];
        assert!(retry.is_none());
        assert_eq!(
            shape(body),
            [
                "device_pin_key",
                "expires_at",
                "message",
                "message_da",
                "pairing_code",
                "pairing_id"
            ]
        );
        // The wrapped device PIN key comes for an unknown user ID too, of the same size.
        let wrapped = body["device_pin_key"].as_str().unwrap();
        assert_eq!(
            sesam_domain::app_protocol::unb64(wrapped, "device_pin_key")
                .unwrap()
                .len(),
            sesam_domain::app_protocol::WRAPPED_DEVICE_KEY_LEN
        );
        let code = body["pairing_code"].as_str().unwrap();
        assert!(code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()));
    }
    // The person's app shows at most those 3.
    let waiting = h.client().requests(&first, &OsRandom).await.unwrap();
    assert_eq!(waiting.len(), 3);
    // The next window admits new starts again.
    h.clock.advance_seconds(600);
    assert_eq!(raw_pairing_start(&h, "anna.hansen", "Phone").await.0, 200);
    assert_eq!(raw_pairing_start(&h, "nobody.here", "Phone").await.0, 200);
}

#[tokio::test]
async fn rapid_pairing_starts_are_limited_on_sqlite() {
    rapid_pairing_starts_are_limited(Backend::Sqlite).await;
}

#[tokio::test]
async fn rapid_pairing_starts_are_limited_on_postgres() {
    rapid_pairing_starts_are_limited(Backend::Postgres).await;
}

#[tokio::test]
async fn one_address_may_start_only_so_many_pairings_for_anyone() {
    let h = harness_env(
        Backend::Sqlite,
        None,
        &[("SESAM_LIMIT_PAIRINGS_PER_SOURCE", "5".into())],
    )
    .await
    .unwrap();
    start_of_window(&h);
    let mut statuses = vec![];
    for i in 0..8 {
        statuses.push(
            raw_pairing_start(&h, &format!("someone.{i}"), "Phone")
                .await
                .0,
        );
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
}

async fn pending_pairings_are_capped(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness_env(
        backend,
        Some(&url),
        &[
            ("SESAM_LIMIT_PAIRINGS_PER_PERSON", "100".into()),
            ("SESAM_LIMIT_PAIRINGS_PER_SOURCE", "100".into()),
        ],
    )
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    let client = h.client();
    start_of_window(&h);
    // Someone who knows the user ID queues 25 pairings in a burst.
    let mut attacker = vec![];
    for i in 0..25 {
        let (status, _, body) = raw_pairing_start(&h, "anna.hansen", &format!("Evil {i}")).await;
        assert_eq!(status, 200);
        attacker.push(body["pairing_id"].as_str().unwrap().parse().unwrap());
    }
    let waiting = client.requests(&first, &OsRandom).await.unwrap();
    assert_eq!(waiting.len(), 3, "at most 3 wait at once");
    assert_eq!(
        client.pairing_status(attacker[0]).await.unwrap().0,
        "expired"
    );

    // The person's own new phone: it pushes out the oldest, shows its own code, and that
    // code approves it; none of the attacker's is approved by it.
    let (mut mine, id) = pair(&h, dir.path(), "My Pixel", "anna.hansen", "222222").await;
    let waiting = client.requests(&first, &OsRandom).await.unwrap();
    assert_eq!(waiting.len(), 3);
    let own = waiting.iter().find(|r| r.id == id).expect("mine is listed");
    let code = shown_code(&h, id).await;
    client
        .approve(&first, own, "111111", Some(&code), &OsRandom)
        .await
        .unwrap();
    let (status, device) = client.pairing_status(id).await.unwrap();
    assert_eq!(status, "approved");
    mine.device_id = device;
    assert_eq!(client.me(&mine, &OsRandom).await.unwrap().devices.len(), 2);
    for p in &attacker {
        assert_ne!(client.pairing_status(*p).await.unwrap().0, "approved");
    }
}

#[tokio::test]
async fn pending_pairings_are_capped_on_sqlite() {
    pending_pairings_are_capped(Backend::Sqlite).await;
}

#[tokio::test]
async fn pending_pairings_are_capped_on_postgres() {
    pending_pairings_are_capped(Backend::Postgres).await;
}

async fn pairing_codes_are_enforced(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = Arc::new(
        activated_app(
            &h,
            &sink,
            dir.path(),
            "0101901234",
            "+4512345678",
            "anna.hansen",
            "111111",
        )
        .await,
    );
    let client = Arc::new(h.client());
    start_of_window(&h);

    // Without a code the app refuses to send; a wrong code is refused by the server and
    // counted, and the PIN is not even looked at.
    let (_new, id) = pair(&h, dir.path(), "Pixel", "anna.hansen", "222222").await;
    let r = client.requests(&first, &OsRandom).await.unwrap().remove(0);
    let right = shown_code(&h, id).await;
    let wrong = if right == "0000" { "0001" } else { "0000" };
    assert!(
        client
            .approve(&first, &r, "111111", None, &OsRandom)
            .await
            .is_err()
    );
    let no_code = client
        .approve(
            &first,
            &sesam_app::PendingRequest {
                pairing_code_required: false,
                ..r.clone()
            },
            "111111",
            None,
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert_eq!(no_code.code(), Some("pairing_code_wrong"), "{no_code}");
    let e = client
        .approve(&first, &r, "111111", Some(wrong), &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("pairing_code_wrong"), "{e}");
    assert!(e.to_string().contains("1 attempt(s) left"), "{e}");
    let e = client
        .approve(&first, &r, "999999", Some(wrong), &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("pairing_voided"), "{e}");
    // Voided: the right code no longer works, the new app is told.
    let e = client
        .approve(&first, &r, "111111", Some(&right), &OsRandom)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already answered"), "{e}");
    assert_eq!(client.pairing_status(id).await.unwrap().0, "rejected");
    let actions = audit_actions(&h).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "authenticator.pairing_code_wrong")
            .count(),
        3
    );
    assert!(actions.contains(&"authenticator.pairing_voided".to_owned()));
    assert!(
        !actions.contains(&"authenticator.pin_wrong".to_owned()),
        "no PIN was evaluated with a wrong code"
    );

    // 20 wrong codes at once: at most 3 are evaluated, the rest find the pairing gone.
    let (_new, id) = pair(&h, dir.path(), "Pixel 2", "anna.hansen", "333333").await;
    let r = client
        .requests(&first, &OsRandom)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap();
    let right = shown_code(&h, id).await;
    let wrong: &'static str = if right == "0000" { "0001" } else { "0000" };
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (client, first, r) = (client.clone(), first.clone(), r.clone());
            tokio::spawn(async move {
                client
                    .approve(&first, &r, "111111", Some(wrong), &OsRandom)
                    .await
                    .unwrap_err()
                    .code()
                    .map(str::to_owned)
            })
        })
        .collect();
    let mut codes = vec![];
    for t in tasks {
        codes.push(t.await.unwrap().unwrap_or_default());
    }
    assert_eq!(
        codes
            .iter()
            .filter(|c| *c == "pairing_code_wrong" || *c == "pairing_voided")
            .count(),
        3,
        "{codes:?}"
    );
    assert_eq!(
        audit_actions(&h)
            .await
            .iter()
            .filter(|a| *a == "authenticator.pairing_code_wrong")
            .count(),
        6
    );
    assert!(
        client
            .approve(&first, &r, "111111", Some(&right), &OsRandom)
            .await
            .is_err()
    );

    // The right code (and PIN) on a fresh pairing works.
    let (mut new, id) = pair(&h, dir.path(), "Pixel 3", "anna.hansen", "444444").await;
    let r = client
        .requests(&first, &OsRandom)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap();
    let right = shown_code(&h, id).await;
    client
        .approve(&first, &r, "111111", Some(&right), &OsRandom)
        .await
        .unwrap();
    new.device_id = client.pairing_status(id).await.unwrap().1;
    assert_eq!(client.me(&new, &OsRandom).await.unwrap().devices.len(), 2);
    h.sesam.verify_audit().await.unwrap();
}

#[tokio::test]
async fn pairing_codes_are_enforced_on_sqlite() {
    pairing_codes_are_enforced(Backend::Sqlite).await;
}

#[tokio::test]
async fn pairing_codes_are_enforced_on_postgres() {
    pairing_codes_are_enforced(Backend::Postgres).await;
}

#[tokio::test]
async fn device_names_that_could_pass_for_sesam_are_refused() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    let before = h.db.recent_messages(None, 500).await.unwrap().len();
    for bad in [
        "Pixel\nsesam: your account is safe - approve now",
        "\nsesam support",
        "Pixel 8\r",
        "Pixel \u{202E}8 lexiP",
        "\u{2066}sesam\u{2069}",
        "Pixel\u{200B}8",
        "\u{FEFF}sesam",
        "Pixel\u{7}",
        &"x".repeat(41),
        "",
    ] {
        let (status, _, body) = raw_pairing_start(&h, "anna.hansen", bad).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("device name"),
            "{body}"
        );
    }
    assert!(
        h.client()
            .requests(&first, &OsRandom)
            .await
            .unwrap()
            .is_empty(),
        "nothing was queued"
    );
    assert_eq!(
        h.db.recent_messages(None, 500).await.unwrap().len(),
        before,
        "nobody was told of a refused start"
    );
    // An ordinary name with quotes and letters beyond ASCII is shown behind sesam's prefix.
    let (status, _, _) = raw_pairing_start(&h, "anna.hansen", "Åse's \"sesam\" phone").await;
    assert_eq!(status, 200);
    let r = h
        .client()
        .requests(&first, &OsRandom)
        .await
        .unwrap()
        .remove(0);
    assert!(
        r.text
            .starts_with("Aktivér en ny app? Navn valgt på den nye enhed: «Åse's \"sesam\" phone»"),
        "{}",
        r.text
    );
    assert_eq!(r.device_name.as_deref(), Some("Åse's \"sesam\" phone"));
}

#[tokio::test]
async fn a_waiting_app_is_woken_by_a_new_pairing_not_found_at_a_recheck() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    let waiter = open_long_poll(&h.sesam, h.client(), &first, 20).await;
    let (_second, pairing) = pair(&h, dir.path(), "Pixel 8", "anna.hansen", "222222").await;
    let started = std::time::Instant::now();
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "woken by the pairing, not by the 2 s re-check"
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, pairing);
    assert_eq!(
        h.sesam.waiting_long_polls(),
        0,
        "the entry left with the wait"
    );
}
