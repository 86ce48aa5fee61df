//! Lockout against someone who knows only a user ID (issue 12, item 6), on both backends
//! and a multi-threaded runtime: wrong passwords lock for 15 minutes at most and never
//! touch the code display; only attempts with another factor of the person right escalate
//! to "until re-activated"; the app keeps working during a lock; the locks that need
//! re-activation have a way back; chip registration and code-display activation count
//! wrong passwords like the login pages; concurrent guesses get at most three evaluations.

use crate::inproc;
use crate::oidc;

use inproc::*;
use oidc::*;
use serde_json::Value;
use sesam_app::{AppClient, PendingRequest};
use sesam_core::services::Actor;
use sesam_domain::lockout::Lockout;
use sesam_domain::totp::TotpVerifier;
use sesam_domain::{Clock, OsRandom};

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$name(Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    super::$name(Backend::Postgres).await;
                }
            }
        )*
    };
}

on_both_backends!(
    a_stranger_with_only_the_user_id_cannot_reach_the_lock_that_needs_a_new_letter,
    someone_with_the_password_can_lock_the_code_display_the_app_still_works_and_reactivation_recovers,
    wrong_passwords_with_the_right_code_escalate_and_a_new_letter_recovers,
    chip_registration_and_code_display_activation_count_wrong_passwords,
    twenty_parallel_wrong_codes_get_three_evaluations,
);

const LOCK: i64 = 15 * 60;

/// A code that is none of the display's codes around now.
fn wrong_code(h: &Harness) -> String {
    let step = (h.clock.now().millis() / 1000 / 30) as u64;
    let near: Vec<String> = (step - 2..=step + 2)
        .map(|s| {
            TotpVerifier::new(RFC_SEED)
                .code_for_step(s)
                .as_str()
                .to_owned()
        })
        .collect();
    ["000000", "111111", "222222", "333333", "444444", "555555"]
        .into_iter()
        .find(|c| !near.iter().any(|n| n == c))
        .unwrap()
        .to_owned()
}

/// One code-display + password attempt on the pages, in a fresh browser and login.
async fn attempt(h: &Harness, sp: &Sp, code: &str, password: &str) -> (Page, Started) {
    let b = Browser::new(&h.base);
    let started = start(sp, &[], &[]);
    let flow = open_login(&b, &started.url).await;
    give_user_id(&b, &flow, "anna.hansen").await;
    (code_display_step(&b, &flow, code, password).await, started)
}

/// The right code and password get the person in (303 with a code to the SP).
async fn code_display_gets_in(h: &Harness, sp: &Sp) {
    let (r, started) = attempt(h, sp, &totp_now(h, 0), PASSWORD).await;
    code_from(h, &r, &started);
    h.clock.advance_seconds(30);
}

/// The right code and password are refused (the page answers as for any refusal).
async fn code_display_refused(h: &Harness, sp: &Sp) {
    let (r, _) = attempt(h, sp, &totp_now(h, 0), PASSWORD).await;
    assert_eq!(r.status, 200, "refused: {r:?}");
}

/// A login with the app through the pages: choose the app, approve with the binding code.
async fn app_gets_in(h: &Harness, p: &Person, sp: &Sp) {
    let client = h.client();
    let b = Browser::new(&h.base);
    let started = start(sp, &[], &[]);
    let flow = open_login(&b, &started.url).await;
    give_user_id(&b, &flow, "anna.hansen").await;
    let choose = b.get(&flow).await;
    let r = b
        .post(&format!("{flow}/app"), &[("csrf", &choose.csrf())])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let wait = r.location.unwrap();
    let page = b.get(&wait).await;
    let marker = "data-testid=\"binding-code\">";
    let i = page.body.find(marker).expect("a binding code") + marker.len();
    let code = page.body[i..i + 4].to_owned();
    let requests: Vec<PendingRequest> = client
        .requests(&p.app, &OsRandom)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "approval")
        .collect();
    assert_eq!(requests.len(), 1, "{requests:?}");
    client
        .approve_request(&p.app, &requests[0], "111111", Some(&code), &OsRandom)
        .await
        .unwrap();
    let r = b.get(&wait).await;
    code_from(h, &r, &started);
}

/// Audit entries with `action`, their details parsed.
async fn audited(h: &Harness, action: &str) -> Vec<Value> {
    h.db.audit_entries(0, 5000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| serde_json::from_str(&e.details).unwrap())
        .collect()
}

async fn password_lockout(h: &Harness, p: &Person) -> Lockout {
    let unit = h.db.lock_password(p.identity_id).await.unwrap().unwrap();
    unit.guard().lockout
}

async fn display_lockout(h: &Harness) -> Lockout {
    h.db.code_display("RFC6238-SHA1")
        .await
        .unwrap()
        .unwrap()
        .lockout
}

/// The newest message text the person got for `event`.
async fn message_text(h: &Harness, p: &Person, event: &str) -> String {
    h.db.recent_messages(Some(p.identity_id), 200)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.event == event)
        .unwrap_or_else(|| panic!("no {event} message"))
        .body
}

async fn a_stranger_with_only_the_user_id_cannot_reach_the_lock_that_needs_a_new_letter(
    backend: Backend,
) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let sp = register_sp(&h, "Demo Bank", false, false).await;

    // Five bursts of three wrong passwords (with wrong codes) within two hours, each from
    // a fresh browser: under the old rule the third burst locked until re-activated.
    for burst in 0..5 {
        for i in 0..3 {
            let (r, _) = attempt(
                &h,
                &sp,
                &wrong_code(&h),
                &format!("Wrong guess {burst} {i}"),
            )
            .await;
            assert_eq!(r.status, 200, "{r:?}");
        }
        // Locked for 15 minutes: even the right code and password are refused …
        code_display_refused(&h, &sp).await;
        if burst == 0 {
            // … while the person logs in with the app.
            app_gets_in(&h, &p, &sp).await;
            assert!(
                message_text(&h, &p, "authenticator.password_locked")
                    .await
                    .contains("15 minut"),
                "the person is told the lock is temporary"
            );
        }
        h.clock.advance_seconds(LOCK);
    }

    let locks = audited(&h, "authenticator.password_locked").await;
    assert_eq!(locks.len(), 5, "{locks:?}");
    assert!(
        locks
            .iter()
            .all(|d| d["until_reactivated"] == false && d["informed"] == false),
        "{locks:?}"
    );
    let lockout = password_lockout(&h, &p).await;
    assert!(!lockout.blocked, "{lockout:?}");
    assert_eq!(lockout.temporary_locks, 0, "uninformed locks do not count");
    // Wrong passwords never reached the code display.
    assert_eq!(display_lockout(&h).await, Lockout::default());
    assert!(audited(&h, "authenticator.code_wrong").await.is_empty());

    code_display_gets_in(&h, &sp).await;
}

async fn someone_with_the_password_can_lock_the_code_display_the_app_still_works_and_reactivation_recovers(
    backend: Backend,
) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let sp = register_sp(&h, "Demo Bank", false, false).await;

    // The right password with wrong codes: informed, so three bursts in a day lock the
    // code display until it is activated again. The password itself stays usable.
    for _ in 0..3 {
        for _ in 0..3 {
            let (r, _) = attempt(&h, &sp, &wrong_code(&h), PASSWORD).await;
            assert_eq!(r.status, 200, "{r:?}");
        }
        h.clock.advance_seconds(LOCK);
    }
    assert!(display_lockout(&h).await.blocked);
    let locks = audited(&h, "authenticator.code_display_locked").await;
    assert_eq!(locks.len(), 3, "{locks:?}");
    assert_eq!(locks[2]["until_reactivated"], true);
    assert!(!password_lockout(&h, &p).await.blocked);
    let text = message_text(&h, &p, "authenticator.code_display_locked").await;
    assert!(
        text.contains("Aktivér den igen i appen") || text.contains("Activate it again in the app"),
        "the message says how to get back in: {text}"
    );
    code_display_refused(&h, &sp).await;
    h.clock.advance_seconds(24 * 3600);
    code_display_refused(&h, &sp).await;

    // The app still logs in.
    app_gets_in(&h, &p, &sp).await;

    // Re-activation from the app: PIN, serial number, two fresh codes, the password.
    let client = h.client();
    h.clock.advance_seconds(60);
    client
        .activate_code_display(
            &p.app,
            "RFC6238-SHA1",
            &totp_now(&h, 1),
            &totp_now(&h, 0),
            PASSWORD,
            "111111",
            &OsRandom,
        )
        .await
        .unwrap();
    assert_eq!(display_lockout(&h).await, Lockout::default());
    h.clock.advance_seconds(30);
    code_display_gets_in(&h, &sp).await;
    // Codes already used cannot re-activate it again.
    let e = client
        .activate_code_display(
            &p.app,
            "RFC6238-SHA1",
            &totp_now(&h, 2),
            &totp_now(&h, 1),
            PASSWORD,
            "111111",
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("code_display_codes_wrong"), "{e}");
}

async fn wrong_passwords_with_the_right_code_escalate_and_a_new_letter_recovers(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let sp = register_sp(&h, "Demo Bank", false, false).await;

    // Someone holding the code display guesses the password: informed, so it escalates.
    for burst in 0..3 {
        for i in 0..3 {
            let (r, _) = attempt(&h, &sp, &totp_now(&h, 0), &format!("Guess {burst} {i} xx")).await;
            assert_eq!(r.status, 200, "{r:?}");
        }
        h.clock.advance_seconds(LOCK);
    }
    assert!(password_lockout(&h, &p).await.blocked);
    let locks = audited(&h, "authenticator.password_locked").await;
    assert_eq!(locks.len(), 3, "{locks:?}");
    assert!(locks.iter().all(|d| d["informed"] == true), "{locks:?}");
    assert_eq!(locks[2]["until_reactivated"], true);
    // The code was looked at, not counted or used up.
    assert_eq!(display_lockout(&h).await, Lockout::default());
    let text = message_text(&h, &p, "authenticator.password_locked").await;
    assert!(
        text.contains("aktiveringsbrev") || text.contains("activation letter"),
        "the message says how to get back in: {text}"
    );
    code_display_refused(&h, &sp).await;
    app_gets_in(&h, &p, &sp).await;

    // From the app alone the blocked password can be neither proven nor replaced.
    let client = h.client();
    let e = client
        .start_chip_registration(&p.app, "111111", PASSWORD, &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("password_blocked"), "{e}");
    let e = client
        .start_chip_registration(&p.app, "111111", "A brand new secret 9", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("password_blocked"), "{e}");

    // A new letter and its SMS code (two fresh channels) re-activate it.
    let (_, letter, _) = h
        .sesam
        .issue_recovery_letter(
            &Actor::operator("counter").unwrap(),
            "anna.hansen",
            "password locked",
        )
        .await
        .unwrap();
    let n = sink
        .texts_to(ANNA.phone)
        .iter()
        .filter(|t| eight_digits(t).is_some())
        .count();
    let plain = AppClient::new(&h.base).unwrap();
    let started = plain.start_activation(&letter.grouped()).await.unwrap();
    let sms = sink.wait_for_code(ANNA.phone, n + 1).await;
    let phone = new_app(dir.path(), &h.base, "replacement");
    plain
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
    assert_eq!(password_lockout(&h, &p).await, Lockout::default());
    assert_eq!(
        audited(&h, "authenticator.password_reactivated")
            .await
            .len(),
        1
    );
    code_display_gets_in(&h, &sp).await;
}

async fn chip_registration_and_code_display_activation_count_wrong_passwords(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let sp = register_sp(&h, "Demo Bank", false, false).await;
    let client = h.client();

    for expected in ["password_wrong", "password_wrong", "password_locked"] {
        let e = client
            .start_chip_registration(&p.app, "111111", "Not my password 1", &OsRandom)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(expected), "{e}");
    }
    // Locked: the right password is not evaluated here, on re-activation, or at login.
    let e = client
        .start_chip_registration(&p.app, "111111", PASSWORD, &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("password_locked"), "{e}");
    h.clock.advance_seconds(60);
    let e = client
        .activate_code_display(
            &p.app,
            "RFC6238-SHA1",
            &totp_now(&h, 1),
            &totp_now(&h, 0),
            PASSWORD,
            "111111",
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("password_locked"), "{e}");
    code_display_refused(&h, &sp).await;
    assert_eq!(audited(&h, "authenticator.password_wrong").await.len(), 3);
    assert_eq!(audited(&h, "authenticator.password_locked").await.len(), 1);

    h.clock.advance_seconds(LOCK);
    client
        .start_chip_registration(&p.app, "111111", PASSWORD, &OsRandom)
        .await
        .unwrap();
    code_display_gets_in(&h, &sp).await;
}

async fn twenty_parallel_wrong_codes_get_three_evaluations(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let h = std::sync::Arc::new(h);
    let wrong = wrong_code(&h);
    let mut tasks = vec![];
    for _ in 0..20 {
        let (h, wrong, id) = (h.clone(), wrong.clone(), p.identity_id);
        tasks.push(tokio::spawn(async move {
            h.sesam.check_code_display(id, &wrong).await
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().is_err());
    }
    assert_eq!(
        audited(&h, "authenticator.code_wrong").await.len(),
        3,
        "attempts beyond the tries left are not evaluated"
    );
    assert_eq!(
        audited(&h, "authenticator.code_display_locked").await.len(),
        1
    );
    // Locked: the right code is refused too.
    assert!(
        h.sesam
            .check_code_display(p.identity_id, &totp_now(&h, 0))
            .await
            .is_err()
    );
}
