//! Crash safety: `kill -9` while the dispatcher is sending loses no message; after the
//! restart every message arrives, and a message sent twice carries the same message id.

use crate::common;
use crate::inproc;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use inproc::{SinkMode, SmsSink, TOKEN};
use sqlx::{Connection, Row};

#[tokio::test]
async fn kill_minus_nine_during_dispatch_loses_nothing() {
    let (sink, url) = SmsSink::start().await;
    *sink.mode.lock().unwrap() = SinkMode::Hang;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data = Data::Dir(data_dir.clone());
    let env = vec![
        ("SESAM_SMS_URL", url.clone()),
        ("SESAM_SMS_TOKEN", TOKEN.to_owned()),
        ("SESAM_SMS_TIMEOUT_SECONDS", "60".to_owned()),
        ("SESAM_OUTBOX_LEASE_SECONDS", "2".to_owned()),
    ];
    let mut server = Server::start_full(&data, &[], "http", &env);
    admin(
        &data,
        &enrol_args(
            "0101901234",
            "1990-01-01",
            "+4512345678",
            Some("anna.hansen"),
        ),
    )
    .ok();
    for i in 0..5 {
        admin(
            &data,
            &[
                "identity",
                "reissue",
                "anna.hansen",
                "--reason",
                &format!("letter {i}"),
            ],
        )
        .ok();
    }
    // Wait until the dispatcher is in the middle of sending (the gateway hangs).
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.requests.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the dispatcher never started sending"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let in_flight: HashSet<String> = sink
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|b| b["message_id"].as_str().unwrap().to_owned())
        .collect();
    server.child.kill().unwrap(); // SIGKILL: no shutdown, no cleanup
    server.child.wait().unwrap();

    *sink.mode.lock().unwrap() = SinkMode::Accept;
    let _restarted = Server::start_full(&data, &[], "http", &env);

    let mut conn = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        data_dir.join("sesam.db").display()
    ))
    .await
    .unwrap();
    let expected: HashSet<String> = sqlx::query(
        "SELECT message_id FROM outbox WHERE event = 'activation.code_issued' AND channel = 'sms'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<uuid::Uuid, _>("message_id").to_string())
    .collect();
    assert_eq!(
        expected.len(),
        6,
        "the enrolment's letter and five reissued ones"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let received: HashSet<String> = sink
            .received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b["message_id"].as_str().unwrap().to_owned())
            .collect();
        if expected.is_subset(&received) {
            // Messages in flight at the crash arrived again with their own ids.
            assert!(
                in_flight.is_subset(&received),
                "{in_flight:?} vs {received:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after the restart only {received:?} of {expected:?} arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
