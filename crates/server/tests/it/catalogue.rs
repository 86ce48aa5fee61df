//! The notification catalogue (DESIGN §5, issue 12 item 11), end to end with a real SMTP
//! server and the SMS gateway sink: the letter at enrolment (without its code), the
//! password set, operator suspension and reopening, a user-ID change (all channels), and
//! the opt-in message on every use after a completed login. Times are Copenhagen local
//! time written for people. SQLite and PostgreSQL.

use crate::inproc;
use crate::oidc;

use std::time::Duration;

use inproc::*;
use oidc::*;
use sesam_core::services::Actor;
use sesam_domain::OsRandom;
use sesam_testkit::SmtpSink;

fn smtp_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("SESAM_SMTP_HOST", "127.0.0.1".into()),
        ("SESAM_SMTP_PORT", port.to_string()),
        ("SESAM_SMTP_SECURITY", "none".into()),
        ("SESAM_SMTP_FROM", "sesam <noreply@sesam.example>".into()),
    ]
}

/// Waits (up to 20 s) until both the phone and the mailbox got a message containing
/// `needle`; returns the SMS text.
async fn on_sms_and_email(h: &Harness, sink: &SmsSink, smtp: &SmtpSink, needle: &str) -> String {
    for _ in 0..400 {
        let sms = sink
            .texts_to(ANNA.phone)
            .into_iter()
            .find(|t| t.contains(needle));
        let mail = smtp.messages().into_iter().any(|m| m.contains(needle));
        if let (Some(sms), true) = (sms, mail) {
            return sms;
        }
        h.sesam.wake_outbox();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "'{needle}' did not reach both the phone and the mailbox; SMS: {:?}",
        sink.texts_to(ANNA.phone)
    );
}

/// A time for people ("6. december 2026 kl. 19.58"), not an RFC 3339 UTC time.
fn assert_local_time(text: &str) {
    assert!(
        text.contains(" kl. ") && !text.contains("Z.") && !text.contains("Z "),
        "{text}"
    );
}

/// Whether `text` holds something shaped like an activation code (ABCD-EFGH-JKLM).
fn has_letter_code(text: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || c == '.' || c == ',')
        .any(|w| {
            let parts: Vec<&str> = w.split('-').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| p.len() == 4 && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        })
}

#[tokio::test]
async fn the_catalogue_is_sent_on_sqlite() {
    the_catalogue_is_sent(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_catalogue_is_sent_on_postgres() {
    the_catalogue_is_sent(Backend::Postgres).await;
}

async fn the_catalogue_is_sent(backend: Backend) {
    let Some(smtp) = SmtpSink::start() else {
        return;
    };
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness_env(backend, Some(&url), &smtp_env(smtp.port)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Enrolment (the letter), the app, a code display with a new password.
    let p = person(&h, &sink, dir.path(), ANNA).await;

    let letter = on_sms_and_email(&h, &sink, &smtp, "Du blev oprettet i sesam").await;
    assert_local_time(&letter);
    assert!(letter.contains("aktiveringsbrev"), "{letter}");
    for text in sink
        .texts_to(ANNA.phone)
        .iter()
        .chain(smtp.messages().iter())
    {
        assert!(
            !has_letter_code(text),
            "no activation code in messages: {text}"
        );
    }
    let password = on_sms_and_email(&h, &sink, &smtp, "Der blev oprettet en adgangskode").await;
    assert_local_time(&password);

    // The every-use message: not sent without the opt-in, sent after a login with it.
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let started = start(&bank, &["profile"], &[]);
    let _ = code_by_pages(&h, &started, ANNA.user_id).await;
    let used = |h: &Harness| {
        let store = h.db.clone();
        async move {
            store
                .recent_messages(None, 500)
                .await
                .unwrap()
                .iter()
                .filter(|m| m.event == "identity.used")
                .count()
        }
    };
    assert_eq!(used(&h).await, 0, "no opt-in, no message");
    h.client()
        .set_every_use(&p.app, true, "111111", &OsRandom)
        .await
        .unwrap();
    h.clock.advance_seconds(30);
    let started = start(&bank, &["profile"], &[]);
    let _ = code_by_pages(&h, &started, ANNA.user_id).await;
    assert!(used(&h).await > 0);
    let mut every_use = None;
    for _ in 0..400 {
        every_use = sink
            .texts_to(ANNA.phone)
            .into_iter()
            .find(|t| t.contains("blev brugt hos Demo Bank"));
        if every_use.is_some() {
            break;
        }
        h.sesam.wake_outbox();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let every_use = every_use.expect("the every-use message by SMS (the first channel)");
    assert_local_time(&every_use);

    // The operator suspends and reopens; changes the user ID.
    let operator = Actor::operator("counter").unwrap();
    h.sesam
        .suspend(&operator, ANNA.user_id, "the person called: phone stolen")
        .await
        .unwrap();
    let suspended = on_sms_and_email(&h, &sink, &smtp, "blev spærret").await;
    assert_local_time(&suspended);
    h.sesam
        .reopen(&operator, ANNA.user_id, "identity checked at the counter")
        .await
        .unwrap();
    let reopened = on_sms_and_email(&h, &sink, &smtp, "blev genåbnet").await;
    assert_local_time(&reopened);
    h.sesam
        .change_user_id(
            &operator,
            ANNA.user_id,
            "anna.new",
            Some("asked at the counter"),
        )
        .await
        .unwrap();
    let changed = on_sms_and_email(&h, &sink, &smtp, "bruger-id blev ændret").await;
    assert_local_time(&changed);
    assert!(
        !changed.contains("anna.new"),
        "the new user ID is not spread: {changed}"
    );

    // Each went to every channel: the app inbox too.
    let inbox = as_json_list(h.client().inbox(&p.app, &OsRandom).await.unwrap());
    for event in [
        "identity.suspended",
        "identity.reopened",
        "identity.user_id_changed",
        "authenticator.password_changed",
        "activation.code_issued",
    ] {
        assert!(
            inbox.iter().any(|m| m["event"] == event),
            "{event} in the inbox: {inbox:?}"
        );
    }
}
