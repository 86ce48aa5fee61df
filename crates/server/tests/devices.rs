//! Further apps (paired, approved from an active app), PIN lockout and the person's own
//! lifecycle actions, end to end against the in-process server.

mod inproc;

use std::sync::Arc;

use inproc::*;
use sesam_app::AppState;
use sesam_domain::OsRandom;
use sesam_server::services::Actor;

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
    app.pin_key = Some(p.pin_key);
    (app, p.pairing_id)
}

/// The pairing code the new app of pairing `id` was given (and shows).
async fn shown_code(h: &Harness, id: uuid::Uuid) -> String {
    let p = h.sesam.store.pairing(id).await.unwrap().unwrap();
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

#[tokio::test]
async fn wrong_pins_lock_the_app_and_the_person_is_told() {
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

    client.block(&first, &OsRandom).await.unwrap();
    assert_eq!(
        client.me(&first, &OsRandom).await.unwrap().state,
        "suspended"
    );
    let _ = pair(&h, dir.path(), "New", "anna.hansen", "333333").await;
    assert!(
        client.requests(&first, &OsRandom).await.unwrap().is_empty(),
        "a blocked identity takes no new apps"
    );
    let e = client.block(&first, &OsRandom).await.unwrap_err();
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
    client.block(&first, &OsRandom).await.unwrap();

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
    phone.pin_key = Some(started.pin_key.clone());
    assert_eq!(client.me(&phone, &OsRandom).await.unwrap().state, "active");
    let actions = audit_actions(&h).await;
    assert!(actions.iter().any(|a| a == "activation.letter_issued"));
    assert!(actions.iter().any(|a| a == "identity.reopened"));

    // Revoking every other app warns when the last one goes.
    let v = client
        .revoke(&phone, first.device_id.unwrap(), "555555", &OsRandom)
        .await
        .unwrap();
    assert!(v["warning"].is_null(), "{v}");
    let v = client
        .revoke(&phone, phone.device_id.unwrap(), "555555", &OsRandom)
        .await
        .unwrap();
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
    client.block(&second, &OsRandom).await.unwrap();
    assert_eq!(
        client.me(&second, &OsRandom).await.unwrap().state,
        "suspended"
    );
    assert!(h.sesam.verify_audit().await.is_ok());
}
