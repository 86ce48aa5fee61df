//! The person's own identity from their app (issue 15): changing the user ID and "block my
//! ID", each with the app PIN. A phone in someone else's hands, unlocked but without the
//! PIN, can do neither; wrong PINs count toward the app's lockout; a taken, quarantined or
//! rule-breaking ID is refused with its own code; a change is audited as the app's and
//! told on every channel. Real SMS gateway sink, real HTTP server, SQLite and PostgreSQL.

use crate::inproc;

use std::time::Duration;

use inproc::*;
use serde_json::json;
use sesam_app::AppState;
use sesam_core::services::Actor;
use sesam_domain::{Clock as _, OsRandom};

const PHONE: &str = "+4512345678";
const OTHER_PHONE: &str = "+4587654321";
const PIN: &str = "111111";

fn six_digits(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .map(str::to_owned)
}

/// Polls until a text containing `needle` has reached `to`, for up to 20 s.
async fn text_to(h: &Harness, sink: &SmsSink, to: &str, needle: &str) -> String {
    for _ in 0..400 {
        if let Some(t) = sink.texts_to(to).into_iter().find(|t| t.contains(needle)) {
            return t;
        }
        h.sesam.wake_outbox();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no text with {needle:?} reached {to}: {:?}",
        sink.texts_to(to)
    );
}

/// Adds and confirms a second phone as a channel, so "every channel" is more than one.
async fn second_channel(h: &Harness, sink: &SmsSink, app: &AppState) {
    let client = h.client();
    let id = client
        .add_channel(app, "sms", OTHER_PHONE, PIN, &OsRandom)
        .await
        .unwrap();
    let mut code = None;
    for _ in 0..400 {
        code = sink
            .texts_to(OTHER_PHONE)
            .iter()
            .find_map(|t| six_digits(t));
        if code.is_some() {
            break;
        }
        h.sesam.wake_outbox();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client
        .confirm_channel(app, id, &code.expect("a confirmation code"), PIN, &OsRandom)
        .await
        .unwrap();
}

async fn user_id(h: &Harness, app: &AppState) -> Option<String> {
    h.client().me(app, &OsRandom).await.unwrap().user_id
}

#[tokio::test]
async fn the_person_changes_their_user_id_with_the_pin_on_sqlite() {
    the_person_changes_their_user_id_with_the_pin(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_person_changes_their_user_id_with_the_pin_on_postgres() {
    the_person_changes_their_user_id_with_the_pin(Backend::Postgres).await;
}

async fn the_person_changes_their_user_id_with_the_pin(backend: Backend) {
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
        PHONE,
        "anna.hansen",
        PIN,
    )
    .await;
    second_channel(&h, &sink, &app).await;
    let _ = enrol(&h, "0202902345", "+4522222222", Some("bo.berg")).await;
    let _ = enrol(&h, "0303903456", "+4533333333", Some("carl.old")).await;
    // Carl gives up his ID: it is in quarantine for him for 365 days.
    h.sesam
        .change_user_id(
            &Actor::operator("counter").unwrap(),
            "carl.old",
            "carl.new",
            Some("asked at the counter"),
        )
        .await
        .unwrap();
    let client = h.client();

    // Without a PIN proof: refused as a bad body.
    let e = client
        .signed(
            &app,
            reqwest::Method::POST,
            "/app/v1/identity/user-id",
            Some(&json!({ "new_user_id": "anna.new" })),
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("invalid_request"), "{e}");

    // A wrong PIN: refused and counted.
    let e = client
        .change_user_id(&app, "anna.new", "999999", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("pin_wrong"), "{e}");
    assert!(e.to_string().contains("2 attempts left"), "{e}");
    let wrong = audit_actions(&h)
        .await
        .into_iter()
        .filter(|a| a == "authenticator.pin_wrong")
        .count();
    assert_eq!(wrong, 1);

    // A proof made for another ID does not open for this one.
    let binding =
        sesam_domain::app_protocol::user_id_change_binding("anna.other", app.device_id.unwrap());
    let pin = sesam_domain::app_protocol::AppPin::parse(PIN).unwrap();
    let proof = app.pin_key().unwrap().seal(&pin, &binding, &OsRandom);
    let e = client
        .signed(
            &app,
            reqwest::Method::POST,
            "/app/v1/identity/user-id",
            Some(&json!({
                "new_user_id": "anna.new",
                "pin_proof": sesam_domain::app_protocol::b64(&proof),
            })),
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert_ne!(e.code(), None, "{e}");

    // Taken (any case), in someone else's quarantine, or against the rules: each its code.
    for (new, code, words) in [
        ("Bo.Berg", "user_id_taken", "taken"),
        ("carl.old", "user_id_reserved", "reserved"),
        ("ab", "user_id_refused", "at least"),
        ("anna.0101901234", "user_id_refused", "user ID may not"),
    ] {
        let e = client
            .change_user_id(&app, new, PIN, &OsRandom)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(code), "{new}: {e}");
        assert!(e.to_string().contains(words), "{new}: {e}");
    }
    assert_eq!(user_id(&h, &app).await.as_deref(), Some("anna.hansen"));
    let changes = audit_actions(&h)
        .await
        .into_iter()
        .filter(|a| a == "identity.user_id_changed")
        .count();
    assert_eq!(changes, 1, "only Carl's change so far");

    // The right PIN and a free ID: changed, audited as this app's, told everywhere.
    let changed = client
        .change_user_id(&app, "Anna.New", PIN, &OsRandom)
        .await
        .unwrap();
    assert_eq!(changed.user_id, "Anna.New");
    assert_eq!(changed.old_user_id.as_deref(), Some("anna.hansen"));
    let until = time::OffsetDateTime::parse(
        &changed.old_reserved_until,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (until
        - time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(h.clock.now().millis()) * 1_000_000,
        )
        .unwrap())
    .whole_days();
    assert!((364..=365).contains(&days), "{days} days");
    assert_eq!(user_id(&h, &app).await.as_deref(), Some("Anna.New"));

    let entries = h.db.audit_entries(0, 1000).await.unwrap();
    let audit = entries
        .iter()
        .find(|e| e.action == "identity.user_id_changed" && e.actor.starts_with("device:"))
        .expect("the change is audited");
    assert_eq!(
        audit.actor,
        format!("device:{}", app.device_id.unwrap().hyphenated())
    );
    assert!(audit.details.contains("anna.hansen") && audit.details.contains("Anna.New"));

    let first = text_to(&h, &sink, PHONE, "bruger-id blev ændret").await;
    let second = text_to(&h, &sink, OTHER_PHONE, "bruger-id blev ændret").await;
    for t in [&first, &second] {
        assert!(
            !t.contains("Anna.New"),
            "the new user ID is not spread: {t}"
        );
    }
    let inbox = as_json_list(client.inbox(&app, &OsRandom).await.unwrap());
    assert!(
        inbox
            .iter()
            .any(|m| m["event"] == "identity.user_id_changed"),
        "{inbox:?}"
    );

    // The old ID is in quarantine for Anna: nobody else gets it, she may take it back.
    let e = h
        .sesam
        .change_user_id(
            &Actor::operator("counter").unwrap(),
            "bo.berg",
            "anna.hansen",
            Some("asked at the counter"),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("reserved"), "{e}");
    client
        .change_user_id(&app, "anna.hansen", PIN, &OsRandom)
        .await
        .unwrap();
    assert_eq!(user_id(&h, &app).await.as_deref(), Some("anna.hansen"));
    assert!(h.sesam.verify_audit().await.is_ok());
}

#[tokio::test]
async fn blocking_needs_the_pin_on_sqlite() {
    blocking_needs_the_pin(Backend::Sqlite).await;
}

#[tokio::test]
async fn blocking_needs_the_pin_on_postgres() {
    blocking_needs_the_pin(Backend::Postgres).await;
}

/// A phone taken unlocked cannot lock its owner out: "block my ID" without the PIN, or
/// with a wrong one, changes nothing (wrong PINs counted); with the PIN it blocks at once.
async fn blocking_needs_the_pin(backend: Backend) {
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
        PHONE,
        "anna.hansen",
        PIN,
    )
    .await;
    let client = h.client();
    for body in [json!({}), json!({ "pin_proof": "" })] {
        let e = client
            .signed(
                &app,
                reqwest::Method::POST,
                "/app/v1/identity/block",
                Some(&body),
                &OsRandom,
            )
            .await
            .unwrap_err();
        assert!(e.code().is_some(), "{e}");
    }
    let e = client.block(&app, "999999", &OsRandom).await.unwrap_err();
    assert_eq!(e.code(), Some("pin_wrong"), "{e}");
    assert_eq!(client.me(&app, &OsRandom).await.unwrap().state, "active");
    let blocked = client.block(&app, PIN, &OsRandom).await.unwrap();
    assert_eq!(blocked.state, "suspended");
    assert_eq!(client.me(&app, &OsRandom).await.unwrap().state, "suspended");
    let entries = h.db.audit_entries(0, 1000).await.unwrap();
    let audit = entries
        .iter()
        .find(|e| e.action == "identity.suspended")
        .expect("the block is audited");
    assert_eq!(
        audit.actor,
        format!("device:{}", app.device_id.unwrap().hyphenated())
    );
    text_to(&h, &sink, PHONE, "blev spærret").await;
}
