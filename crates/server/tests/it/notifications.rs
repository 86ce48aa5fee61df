//! Notification delivery end to end: a real SMTP server (aiosmtpd), the HTTP SMS gateway
//! sink answering 2xx, 400, 500 or not at all, retries, failover along the person's
//! channel order, undeliverable messages, and two dispatchers on one PostgreSQL.

use crate::inproc;

use std::sync::Arc;
use std::time::Duration;

use inproc::*;
use sesam_core::services::Actor;
use sesam_domain::OsRandom;
use sesam_testkit::SmtpSink;

/// These tests time real deliveries (retries, timeouts, failover); run one at a time so a
/// slow neighbour cannot push them past their deadlines.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const METRICS_TOKEN: &str = "metrics-token-for-tests";

fn smtp_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("SESAM_SMTP_HOST", "127.0.0.1".into()),
        ("SESAM_SMTP_PORT", port.to_string()),
        ("SESAM_SMTP_SECURITY", "none".into()),
        ("SESAM_SMTP_FROM", "sesam <noreply@sesam.example>".into()),
        ("SESAM_SMS_TIMEOUT_SECONDS", "1".into()),
    ]
}

/// Polls `check` for up to 20 s, nudging the dispatcher.
async fn eventually(h: &Harness, what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..400 {
        if check() {
            return;
        }
        h.sesam.wake_outbox();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Locks the person's app (3 wrong PINs), which sends a first-working notice.
async fn lock_the_app(h: &Harness, dir: &std::path::Path, app: &sesam_app::AppState) {
    let client = h.client();
    let mut new = new_app(dir, &h.base, "locker");
    let p = client
        .start_pairing(&new, "anna.hansen", "222222", "Locker", &OsRandom)
        .await
        .unwrap();
    new.set_pin_key(&p.device_pin_key);
    let r = client.requests(app, &OsRandom).await.unwrap().remove(0);
    for _ in 0..3 {
        let _ = client
            .approve(app, &r, "999999", Some(&p.pairing_code), &OsRandom)
            .await;
    }
}

fn mails_containing(smtp: &SmtpSink, needle: &str) -> Vec<String> {
    smtp.messages()
        .into_iter()
        .filter(|m| m.contains(needle))
        .collect()
}

async fn attempts_for_event(h: &Harness, event: &str) -> Vec<(String, String)> {
    let messages = h.db.recent_messages(None, 200).await.unwrap();
    let m = messages
        .iter()
        .find(|m| m.event == event)
        .unwrap_or_else(|| panic!("no {event} message"));
    h.db.attempts_of(m.message_id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.channel.as_str().to_owned(), a.outcome))
        .collect()
}

#[tokio::test]
async fn mandatory_events_reach_every_channel_with_one_message_id_on_sqlite() {
    let _serial = SERIAL.lock().await;
    mandatory_events_reach_every_channel(Backend::Sqlite).await;
}

#[tokio::test]
async fn mandatory_events_reach_every_channel_with_one_message_id_on_postgres() {
    let _serial = SERIAL.lock().await;
    mandatory_events_reach_every_channel(Backend::Postgres).await;
}

async fn mandatory_events_reach_every_channel(backend: Backend) {
    let Some(smtp) = SmtpSink::start() else {
        return;
    };
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness_env(backend, Some(&url), &smtp_env(smtp.port)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let _app = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;

    eventually(&h, "the activation notice by e-mail", || {
        !mails_containing(&smtp, "First phone").is_empty()
    })
    .await;
    let mail = mails_containing(&smtp, "First phone").remove(0);
    assert!(mail.contains("anna@example.dk"), "{mail}");
    let sms_id = {
        let received = sink.received.lock().unwrap();
        let (_, body) = received
            .iter()
            .find(|(_, b)| b["text"].as_str().unwrap().contains("First phone"))
            .unwrap()
            .clone();
        body["message_id"].as_str().unwrap().to_owned()
    };
    assert!(
        mail.contains(&format!("<{sms_id}@sesam>")),
        "the e-mail's Message-ID is the SMS message id: {mail}"
    );
    // The temporary PIN went by SMS only, never by e-mail.
    assert!(mails_containing(&smtp, "midlertidige PIN-kode er").is_empty());
}

#[tokio::test]
async fn a_refusing_gateway_fails_over_to_email_at_once() {
    let _serial = SERIAL.lock().await;
    let Some(smtp) = SmtpSink::start() else {
        return;
    };
    let (sink, url) = SmsSink::start().await;
    let h = harness_env(Backend::Sqlite, Some(&url), &smtp_env(smtp.port))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    *sink.mode.lock().unwrap() = SinkMode::Reject400;
    lock_the_app(&h, dir.path(), &app).await;
    for _ in 0..400 {
        if !mails_containing(&smtp, "efter forkerte PIN-koder").is_empty() {
            break;
        }
        h.sesam.wake_outbox();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if mails_containing(&smtp, "efter forkerte PIN-koder").is_empty() {
        let rows: Vec<_> =
            h.db.recent_messages(None, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|m| {
                    (
                        m.event,
                        m.channel.as_str(),
                        m.state,
                        m.attempts,
                        m.last_error,
                    )
                })
                .collect();
        panic!(
            "no lock notice by e-mail; outbox: {rows:#?}; mails: {:?}",
            smtp.messages().len()
        );
    }
    let mut attempts = vec![];
    for _ in 0..100 {
        attempts = attempts_for_event(&h, "authenticator.app_locked").await;
        if attempts.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        attempts,
        [
            ("sms".to_owned(), "permanent".to_owned()),
            ("email".to_owned(), "sent".to_owned())
        ]
    );
}

#[tokio::test]
async fn server_errors_and_timeouts_are_retried_then_fail_over() {
    let _serial = SERIAL.lock().await;
    for mode in [SinkMode::Fail500, SinkMode::Hang] {
        let Some(smtp) = SmtpSink::start() else {
            return;
        };
        let (sink, url) = SmsSink::start().await;
        let h = harness_env(Backend::Sqlite, Some(&url), &smtp_env(smtp.port))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let app = activated_app(
            &h,
            &sink,
            dir.path(),
            "0101901234",
            "+4512345678",
            "anna.hansen",
            "111111",
        )
        .await;
        *sink.mode.lock().unwrap() = mode;
        lock_the_app(&h, dir.path(), &app).await;
        for _ in 0..400 {
            if !mails_containing(&smtp, "efter forkerte PIN-koder").is_empty() {
                break;
            }
            // Retries wait with backoff; move the server's clock past each wait.
            h.clock.advance_seconds(60);
            h.sesam.wake_outbox();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            !mails_containing(&smtp, "efter forkerte PIN-koder").is_empty(),
            "{mode:?}: no failover"
        );
        // The mail can arrive a moment before its attempt is recorded.
        let mut attempts = vec![];
        for _ in 0..100 {
            attempts = attempts_for_event(&h, "authenticator.app_locked").await;
            if attempts
                .last()
                .is_some_and(|(c, o)| c == "email" && o == "sent")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let sms: Vec<_> = attempts.iter().filter(|(c, _)| c == "sms").collect();
        assert_eq!(
            sms.len(),
            5,
            "{mode:?}: five attempts on SMS before failing over: {attempts:?}"
        );
        assert!(sms.iter().all(|(_, o)| o == "temporary"), "{attempts:?}");
        assert_eq!(
            attempts.last().unwrap(),
            &("email".to_owned(), "sent".to_owned())
        );
    }
}

#[tokio::test]
async fn when_every_channel_is_down_the_message_is_undeliverable_and_visible() {
    let _serial = SERIAL.lock().await;
    let (sink, url) = SmsSink::start().await;
    // A mail server that is not there: connections are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut env = smtp_env(closed);
    env.push(("SESAM_METRICS_TOKEN", METRICS_TOKEN.into()));
    let h = harness_env(Backend::Sqlite, Some(&url), &env)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    *sink.mode.lock().unwrap() = SinkMode::Reject400;
    lock_the_app(&h, dir.path(), &app).await;
    let mut failed = false;
    for _ in 0..400 {
        let messages = h.db.recent_messages(None, 200).await.unwrap();
        let rows: Vec<_> = messages
            .iter()
            .filter(|m| m.event == "authenticator.app_locked")
            .collect();
        if !rows.is_empty() && rows.iter().all(|m| m.state == "failed") {
            failed = true;
            break;
        }
        h.clock.advance_seconds(60);
        h.sesam.wake_outbox();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(failed, "the message should have failed on every channel");
    let attempts = attempts_for_event(&h, "authenticator.app_locked").await;
    assert_eq!(
        attempts.first().unwrap(),
        &("sms".to_owned(), "permanent".to_owned())
    );
    assert_eq!(
        attempts
            .iter()
            .filter(|(c, o)| c == "email" && o == "temporary")
            .count(),
        5,
        "{attempts:?}"
    );
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", h.base))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sesam_notifications_undeliverable_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn two_dispatchers_on_postgresql_send_each_message_once() {
    let _serial = SERIAL.lock().await;
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(Backend::Postgres, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let _app = activated_app(
        &h,
        &sink,
        dir.path(),
        "0101901234",
        "+4512345678",
        "anna.hansen",
        "111111",
    )
    .await;
    // A second dispatcher on the same database, as another server node would run.
    let channels = sesam_notify::Channels {
        sms: Some(
            sesam_notify::SmsGateway::new(
                url.parse().unwrap(),
                TOKEN.into(),
                Duration::from_secs(5),
            )
            .unwrap(),
        ),
        email: None,
        push: None,
    };
    let second = sesam_notify::Dispatcher::new(
        h.db.clone(),
        h.keys.clone(),
        h.clock.clone(),
        channels,
        Arc::new(sesam_notify::DevOutbox::default()),
        Arc::new(tokio::sync::Notify::new()),
    );
    let letter_ids = |sink: &SmsSink| -> Vec<String> {
        sink.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, b)| {
                b["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("nyt aktiveringsbrev")
            })
            .map(|(_, b)| b["message_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let actor = Actor::operator("counter").unwrap();
    for i in 0..30 {
        h.sesam
            .issue_recovery_letter(&actor, "anna.hansen", &format!("letter {i}"))
            .await
            .unwrap();
    }
    for _ in 0..20 {
        let _ = second.run_once().await;
    }
    eventually(&h, "30 letter notices", || letter_ids(&sink).len() >= 30).await;
    // Settled: nothing in the outbox is due or being sent, so neither dispatcher sends
    // again; only then is "exactly once" a fact and not a race with a late duplicate.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let messages = h.db.recent_messages(None, 1000).await.unwrap();
        let busy: Vec<_> = messages
            .iter()
            .filter(|m| m.state == "pending" || m.state == "sending")
            .map(|m| (&m.event, &m.state))
            .collect();
        if busy.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the outbox did not settle: {busy:?}"
        );
        let _ = second.run_once().await;
        h.sesam.wake_outbox();
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut ids = letter_ids(&sink);
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(total, 30, "each message exactly once");
    assert_eq!(ids.len(), 30);
}

#[tokio::test]
async fn the_app_inbox_and_activity_show_messages_and_their_delivery() {
    let _serial = SERIAL.lock().await;
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = activated_app(
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
    let mut inbox = vec![];
    for _ in 0..200 {
        inbox = as_json_list(client.inbox(&app, &OsRandom).await.unwrap());
        if inbox
            .iter()
            .any(|m| m["text"].as_str().unwrap().contains("First phone"))
        {
            break;
        }
        h.sesam.wake_outbox();
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        inbox
            .iter()
            .any(|m| m["text"].as_str().unwrap().contains("First phone")),
        "{inbox:?}"
    );
    assert!(
        inbox.iter().all(|m| !m["text"]
            .as_str()
            .unwrap()
            .contains("midlertidige PIN-kode er")),
        "the temporary PIN never goes to the inbox"
    );
    let mut activity = vec![];
    for _ in 0..200 {
        activity = as_json_list(client.activity(&app, &OsRandom).await.unwrap());
        let settled = activity
            .iter()
            .filter(|m| m["event"] == "authenticator.app_activated")
            .all(|m| m["status"] == "sent" || m["status"] == "failed");
        if settled {
            break;
        }
        h.sesam.wake_outbox();
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let activated: Vec<_> = activity
        .iter()
        .filter(|m| m["event"] == "authenticator.app_activated")
        .collect();
    let channels: Vec<&str> = activated
        .iter()
        .map(|m| m["channel"].as_str().unwrap())
        .collect();
    assert!(
        channels.contains(&"sms") && channels.contains(&"email") && channels.contains(&"app"),
        "{activity:?}"
    );
    let sms = activated.iter().find(|m| m["channel"] == "sms").unwrap();
    assert_eq!(sms["to"], "+45…78");
    let email = activated.iter().find(|m| m["channel"] == "email").unwrap();
    assert_eq!(
        email["status"], "failed",
        "no mail server is configured: {email}"
    );
    assert!(
        email["last_error"]
            .as_str()
            .unwrap()
            .contains("not configured")
    );
}

/// A scripted SMTP server for faults a real one cannot be asked to produce: it answers
/// the greeting, then misbehaves at the step given.
async fn faulty_smtp(fault: &'static str) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                if fault == "garbage" {
                    let _ = write.write_all(b"HELLO THIS IS NOT SMTP\r\n").await;
                    return;
                }
                let _ = write.write_all(b"220 faulty ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250 faulty\r\n"
                    } else if upper.starts_with("MAIL FROM") {
                        b"250 ok\r\n"
                    } else if upper.starts_with("RCPT TO") {
                        if fault == "refuse-recipient" {
                            b"550 5.1.1 no such user\r\n"
                        } else {
                            b"250 ok\r\n"
                        }
                    } else if upper.starts_with("DATA") {
                        if fault == "close-mid-data" {
                            let _ = write.write_all(b"354 go ahead\r\n").await;
                            let _ = lines.next_line().await;
                            return; // hang up in the middle of the message
                        }
                        b"354 go ahead\r\n"
                    } else if upper.starts_with("QUIT") {
                        b"221 bye\r\n"
                    } else {
                        continue;
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn misbehaving_gateways_and_mail_servers_are_recorded_and_survived() {
    let _serial = SERIAL.lock().await;
    for (fault, expect) in [
        ("refuse-recipient", "permanent"),
        ("close-mid-data", "temporary"),
        ("garbage", "temporary"),
    ] {
        let (sink, url) = SmsSink::start().await;
        let port = faulty_smtp(fault).await;
        let h = harness_env(Backend::Sqlite, Some(&url), &smtp_env(port))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let app = activated_app(
            &h,
            &sink,
            dir.path(),
            "0101901234",
            "+4512345678",
            "anna.hansen",
            "111111",
        )
        .await;
        // The gateway now redirects: a 3xx is not success, and is not followed.
        *sink.mode.lock().unwrap() = SinkMode::Redirect;
        lock_the_app(&h, dir.path(), &app).await;
        let mut attempts = vec![];
        for _ in 0..400 {
            attempts = attempts_for_event(&h, "authenticator.app_locked").await;
            if attempts.iter().any(|(c, _)| c == "email") {
                break;
            }
            h.clock.advance_seconds(60);
            h.sesam.wake_outbox();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            attempts.first(),
            Some(&("sms".to_owned(), "permanent".to_owned())),
            "{fault}: {attempts:?}"
        );
        let email = attempts.iter().find(|(c, _)| c == "email").unwrap();
        assert_eq!(email.1, expect, "{fault}: {attempts:?}");
        let messages = h.db.recent_messages(None, 100).await.unwrap();
        let sms = messages
            .iter()
            .find(|m| m.event == "authenticator.app_locked" && m.channel.as_str() == "sms")
            .unwrap();
        assert!(
            sms.last_error.as_deref().unwrap().contains("302"),
            "{:?}",
            sms.last_error
        );
        let mail = messages
            .iter()
            .find(|m| m.event == "authenticator.app_locked" && m.channel.as_str() == "email")
            .unwrap();
        assert!(
            mail.last_error.as_deref().is_some_and(|e| !e.is_empty()),
            "{fault}: a readable reason: {mail:?}"
        );
        // The dispatcher is still alive: the next message goes out.
        *sink.mode.lock().unwrap() = SinkMode::Accept;
        let actor = Actor::operator("counter").unwrap();
        h.sesam
            .issue_recovery_letter(&actor, "anna.hansen", "after the fault")
            .await
            .unwrap();
        eventually(&h, "a message after the fault", || {
            sink.texts_to("+4512345678")
                .iter()
                .any(|t| t.contains("nyt aktiveringsbrev"))
        })
        .await;
    }
}

fn six_digits(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .map(str::to_owned)
}

#[tokio::test]
async fn the_person_manages_their_channels() {
    let _serial = SERIAL.lock().await;
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = activated_app(
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

    let v = as_json(client.channels(&app, &OsRandom).await.unwrap());
    let list = v["channels"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "the counter's phone and e-mail: {v}");
    assert!(list.iter().all(|c| c["confirmed"] == true));
    assert!(v["recommendation"].is_null());

    // Bad input is refused with a reason; nothing is added.
    let e = client
        .add_channel(&app, "sms", "12345678", "111111", &OsRandom)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("international form"), "{e}");
    let e = client
        .add_channel(&app, "email", "not-an-address", "111111", &OsRandom)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("e-mail"), "{e}");
    let e = client
        .add_channel(&app, "pigeon", "x", "111111", &OsRandom)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not sms or email"), "{e}");
    let e = client
        .add_channel(&app, "sms", "+45 12 34 56 78", "111111", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("channel_duplicate"));

    // A new number gets a code and nothing else until confirmed.
    let new = client
        .add_channel(&app, "sms", "+4599999999", "111111", &OsRandom)
        .await
        .unwrap();
    eventually(&h, "the confirmation code", || {
        sink.texts_to("+4599999999")
            .iter()
            .any(|t| six_digits(t).is_some())
    })
    .await;
    let code = six_digits(&sink.texts_to("+4599999999")[0]).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let e = client
        .confirm_channel(&app, new, wrong, "111111", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("channel_code_wrong"));
    let v = client
        .confirm_channel(&app, new, &code, "111111", &OsRandom)
        .await
        .unwrap();
    let v = as_json(v);
    assert_eq!(v["channels"].as_array().unwrap().len(), 3);
    eventually(&h, "the notice on every channel", || {
        sink.texts_to("+4599999999")
            .iter()
            .any(|t| t.contains("tilføjet"))
            && sink
                .texts_to("+4512345678")
                .iter()
                .any(|t| t.contains("tilføjet"))
    })
    .await;
    let stored = h.db.recent_messages(None, 100).await.unwrap();
    assert!(
        stored.iter().all(|m| !m.body.contains(&code)),
        "the code is not kept readable"
    );

    // Removing the original phone tells it too, and needs the PIN.
    let original = list.iter().find(|c| c["kind"] == "sms").unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let e = client
        .remove_channel(&app, original, "999999", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("pin_wrong"));
    client
        .remove_channel(&app, original, "111111", &OsRandom)
        .await
        .unwrap();
    eventually(&h, "the removal notice to the removed phone", || {
        sink.texts_to("+4512345678")
            .iter()
            .any(|t| t.contains("fjernet som kanal"))
    })
    .await;

    // Order, every-use, and the last channel stays.
    let v = as_json(client.channels(&app, &OsRandom).await.unwrap());
    let ids: Vec<uuid::Uuid> = v["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let reversed: Vec<uuid::Uuid> = ids.iter().rev().copied().collect();
    let v = client
        .order_channels(&app, &reversed, "111111", &OsRandom)
        .await
        .unwrap();
    let v = as_json(v);
    assert_eq!(v["channels"][0]["id"], reversed[0].to_string());
    let e = client
        .order_channels(&app, &reversed[..1], "111111", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("channel_order"));
    assert_eq!(
        as_json(
            client
                .set_every_use(&app, true, "111111", &OsRandom)
                .await
                .unwrap()
        )["notify_every_use"],
        true
    );
    client
        .remove_channel(&app, reversed[0], "111111", &OsRandom)
        .await
        .unwrap();
    let v = as_json(client.channels(&app, &OsRandom).await.unwrap());
    assert!(
        v["recommendation"]
            .as_str()
            .unwrap()
            .contains("two notification channels"),
        "{v}"
    );
    let last: uuid::Uuid = v["channels"][0]["id"].as_str().unwrap().parse().unwrap();
    let e = client
        .remove_channel(&app, last, "111111", &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("channel_last"));
}

/// A mail's text with quoted-printable soft line breaks undone (enough to find ASCII).
fn unfolded(mail: &str) -> String {
    mail.replace("=\r\n", "").replace("=\n", "")
}

async fn a_pairing_request_is_told_on_every_channel(backend: Backend) {
    let Some(smtp) = SmtpSink::start() else {
        return;
    };
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness_env(backend, Some(&url), &smtp_env(smtp.port)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let _app = activated_app(
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
    let count = |h: &Harness| {
        let store = h.db.clone();
        async move {
            store
                .recent_messages(None, 500)
                .await
                .unwrap()
                .iter()
                .filter(|m| m.event == "authenticator.pairing_requested")
                .count()
        }
    };

    // Someone asks for a new app under a user ID that does not exist: nobody is told, and
    // the answer looks the same.
    let new = new_app(dir.path(), &h.base, "ghost");
    let ghost = client
        .start_pairing(&new, "nobody.here", "222222", "Ghost", &OsRandom)
        .await
        .unwrap();
    assert_eq!(count(&h).await, 0);

    // For the person: told at once on every channel (before anyone approves), without
    // the name the asker chose.
    let new = new_app(dir.path(), &h.base, "asker");
    let asked = client
        .start_pairing(
            &new,
            "anna.hansen",
            "222222",
            "Call 70707070 now",
            &OsRandom,
        )
        .await
        .unwrap();
    assert_eq!(ghost.pairing_code.len(), asked.pairing_code.len());
    assert_eq!(
        client.pairing_status(ghost.pairing_id).await.unwrap(),
        client.pairing_status(asked.pairing_id).await.unwrap()
    );
    let messages = h.db.recent_messages(None, 500).await.unwrap();
    let told: Vec<_> = messages
        .iter()
        .filter(|m| m.event == "authenticator.pairing_requested")
        .collect();
    let mut channels: Vec<&str> = told.iter().map(|m| m.channel.as_str()).collect();
    channels.sort();
    assert_eq!(channels, ["app", "email", "sms"], "every channel");
    assert!(told.iter().all(|m| m.message_id == told[0].message_id));
    eventually(&h, "the pairing notice by SMS", || {
        sink.texts_to("+4512345678")
            .iter()
            .any(|t| t.contains("aktivere en ny app"))
    })
    .await;
    eventually(&h, "the pairing notice by e-mail", || {
        smtp.messages()
            .iter()
            .any(|m| unfolded(m).contains("aktivere en ny app"))
    })
    .await;
    let mail = smtp
        .messages()
        .into_iter()
        .map(|m| unfolded(&m))
        .find(|m| m.contains("aktivere en ny app"))
        .unwrap();
    assert!(mail.contains("anna@example.dk"), "{mail}");
    for text in sink.texts_to("+4512345678").iter().chain([&mail]) {
        assert!(
            !text.contains("70707070"),
            "the asker's name is not sent: {text}"
        );
    }
    assert!(
        audit_actions(&h)
            .await
            .contains(&"authenticator.pairing_requested".to_owned())
    );
}

#[tokio::test]
async fn a_pairing_request_is_told_on_every_channel_on_sqlite() {
    let _serial = SERIAL.lock().await;
    a_pairing_request_is_told_on_every_channel(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_pairing_request_is_told_on_every_channel_on_postgres() {
    let _serial = SERIAL.lock().await;
    a_pairing_request_is_told_on_every_channel(Backend::Postgres).await;
}
