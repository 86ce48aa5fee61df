//! Where security messages go (issue 12, item 2): a phone in a thief's hands, unlocked but
//! without the app PIN, cannot add, confirm, re-order or silence channels; and the
//! temporary SMS PIN of an activation or recovery letter goes only to the phone the
//! registration unit registered, whatever channels were added since. Real SMS gateway
//! sink, real HTTP server, SQLite and PostgreSQL.

use crate::inproc;

use std::time::Duration;

use inproc::*;
use serde_json::{Value, json};
use sesam_app::AppState;
use sesam_core::services::Actor;
use sesam_domain::OsRandom;

const REGISTERED: &str = "+4512345678";
const THIEF: &str = "+4587654321";
const PIN: &str = "111111";

fn six_digits(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .map(str::to_owned)
}

/// Polls for the first 6-digit code sent to `to`, for up to 20 s.
async fn channel_code(h: &Harness, sink: &SmsSink, to: &str) -> String {
    for _ in 0..400 {
        if let Some(code) = sink.texts_to(to).iter().find_map(|t| six_digits(t)) {
            return code;
        }
        h.sesam.wake_outbox();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no confirmation code arrived at {to}");
}

async fn channel_ids(h: &Harness, app: &AppState) -> Vec<uuid::Uuid> {
    as_json(h.client().channels(app, &OsRandom).await.unwrap())["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn a_thief_with_the_pin_still_cannot_take_the_recovery_code_on_sqlite() {
    recovery_code_goes_to_the_registered_phone(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_thief_with_the_pin_still_cannot_take_the_recovery_code_on_postgres() {
    recovery_code_goes_to_the_registered_phone(Backend::Postgres).await;
}

/// The worst case: the thief also knows the PIN, adds their own number, confirms it, puts
/// it first and even removes the registered phone from the channels. A recovery letter's
/// SMS code still goes to the registered phone, and the answer says so.
async fn recovery_code_goes_to_the_registered_phone(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        REGISTERED,
        "anna.hansen",
        PIN,
    )
    .await;
    let client = h.client();

    let registered_id = channel_ids(&h, &app).await[0];
    let new = client
        .add_channel(&app, "sms", THIEF, PIN, &OsRandom)
        .await
        .unwrap();
    let code = channel_code(&h, &sink, THIEF).await;
    client
        .confirm_channel(&app, new, &code, PIN, &OsRandom)
        .await
        .unwrap();
    let mut order = channel_ids(&h, &app).await;
    order.retain(|id| *id != new);
    order.insert(0, new);
    let v = client
        .order_channels(&app, &order, PIN, &OsRandom)
        .await
        .unwrap();
    let v = as_json(v);
    assert_eq!(v["channels"][0]["address"], THIEF, "{v}");
    client
        .remove_channel(&app, registered_id, PIN, &OsRandom)
        .await
        .unwrap();

    let codes_before = sink
        .texts_to(REGISTERED)
        .iter()
        .filter(|t| eight_digits(t).is_some())
        .count();
    let (_, letter, _) = h
        .sesam
        .issue_recovery_letter(
            &Actor::operator("counter").unwrap(),
            "anna.hansen",
            "lost phone",
        )
        .await
        .unwrap();
    let started = client.start_activation(&letter.grouped()).await.unwrap();
    assert_eq!(started.sms_sent_to, "+45…78", "the number actually used");
    let sms = sink.wait_for_code(REGISTERED, codes_before + 1).await;
    assert_eq!(sms.len(), 8);
    // Everything queued so far is delivered; none of it carries a code to the thief.
    for _ in 0..400 {
        let pending =
            h.db.recent_messages(None, 200)
                .await
                .unwrap()
                .iter()
                .any(|m| m.state == "pending");
        if !pending {
            break;
        }
        h.sesam.wake_outbox();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let to_thief = sink.texts_to(THIEF);
    assert!(
        to_thief.iter().all(|t| eight_digits(t).is_none()),
        "no activation code to the added number: {to_thief:?}"
    );
    let stored = h.db.recent_messages(None, 200).await.unwrap();
    let pins: Vec<_> = stored
        .iter()
        .filter(|m| m.event == "activation.temporary_pin")
        .map(|m| m.destination.as_str())
        .collect();
    assert!(
        !pins.is_empty() && pins.iter().all(|d| *d == REGISTERED),
        "{pins:?}"
    );
}

#[tokio::test]
async fn channel_changes_need_the_pin_on_sqlite() {
    channel_changes_need_the_pin(Backend::Sqlite).await;
}

#[tokio::test]
async fn channel_changes_need_the_pin_on_postgres() {
    channel_changes_need_the_pin(Backend::Postgres).await;
}

/// Without a PIN proof, with a wrong PIN, and with the right PIN once the app is locked,
/// every change is refused and nothing changes; wrong PINs count toward the app lockout.
async fn channel_changes_need_the_pin(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        REGISTERED,
        "anna.hansen",
        PIN,
    )
    .await;
    let client = h.client();
    let before = as_json(client.channels(&app, &OsRandom).await.unwrap());
    let ids = channel_ids(&h, &app).await;
    let reversed: Vec<uuid::Uuid> = ids.iter().rev().copied().collect();

    // The calls as they were made before a PIN was needed.
    for (path, body) in [
        (
            "/app/v1/channels",
            json!({ "kind": "sms", "address": THIEF }),
        ),
        ("/app/v1/channels/order", json!({ "order": reversed })),
        ("/app/v1/channels/every-use", json!({ "enabled": true })),
    ] {
        let e = client
            .signed(&app, reqwest::Method::POST, path, Some(&body), &OsRandom)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("invalid_request"), "{path}: {e}");
    }

    // A pending channel (added with the PIN) cannot be confirmed without it.
    let pending = client
        .add_channel(&app, "sms", THIEF, PIN, &OsRandom)
        .await
        .unwrap();
    let code = channel_code(&h, &sink, THIEF).await;
    let confirm_path = format!("/app/v1/channels/{pending}/confirm");
    let e = client
        .signed(
            &app,
            reqwest::Method::POST,
            &confirm_path,
            Some(&json!({ "code": code })),
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("invalid_request"), "{e}");

    // Wrong PINs: refused, and counted (the third locks the app).
    let e = client
        .add_channel(&app, "email", "thief@example.com", "999999", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("pin_wrong"), "{e}");
    let e = client
        .confirm_channel(&app, pending, &code, "999999", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("pin_wrong"), "{e}");
    let e = client
        .order_channels(&app, &reversed, "999999", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("app_locked"), "{e}");

    // Locked: even the right PIN changes nothing.
    let e = client
        .set_every_use(&app, true, PIN, &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("app_locked"), "{e}");
    let e = client
        .confirm_channel(&app, pending, &code, PIN, &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("app_locked"), "{e}");
    let e = client
        .order_channels(&app, &reversed, PIN, &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("app_locked"), "{e}");
    let e = client
        .add_channel(&app, "email", "thief@example.com", PIN, &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("app_locked"), "{e}");

    let after = as_json(client.channels(&app, &OsRandom).await.unwrap());
    let confirmed = |v: &Value| -> Vec<Value> {
        v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["confirmed"] == true)
            .cloned()
            .collect()
    };
    assert_eq!(confirmed(&after), confirmed(&before), "nothing changed");
    assert_eq!(after["notify_every_use"], false);

    // A PIN proof made for one change does not open for another: the binding differs.
    h.clock.advance_seconds(16 * 60);
    let binding =
        sesam_domain::app_protocol::channel_every_use_binding(false, app.device_id.unwrap());
    let pin = sesam_domain::app_protocol::AppPin::parse(PIN).unwrap();
    let proof = app.pin_key().unwrap().seal(&pin, &binding, &OsRandom);
    let e = client
        .signed(
            &app,
            reqwest::Method::POST,
            "/app/v1/channels/every-use",
            Some(&json!({ "enabled": true, "pin_proof": sesam_domain::app_protocol::b64(&proof) })),
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert_ne!(e.code(), None, "{e}");
    assert_eq!(
        as_json(client.channels(&app, &OsRandom).await.unwrap())["notify_every_use"],
        false
    );
    // After the lock, with the right PIN, the change goes through.
    let v = client
        .set_every_use(&app, true, PIN, &OsRandom)
        .await
        .unwrap();
    let v = as_json(v);
    assert_eq!(v["notify_every_use"], true);
}
