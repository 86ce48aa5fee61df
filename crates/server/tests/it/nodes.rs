//! Two nodes on one PostgreSQL database: what one node starts wakes the other through
//! the change feed (LISTEN/NOTIFY), not through a faster poll. Each node's fallback
//! re-check is set far beyond the waits here, so only a signal can explain a wake-up.

use std::time::Duration;

use crate::inproc::*;
use sesam_app::AppClient;
use sesam_core::services::Actor;
use sesam_core::services::service_providers::AddServiceProvider;
use sesam_domain::OsRandom;
use sesam_store::Signal;

/// Far beyond any wait below.
const FALLBACK: Duration = Duration::from_secs(60);

/// Waits until `node`'s listener delivers what the harness's node commits.
async fn listening(h: &Harness, node: &Node) {
    let mut feed = node.db.signals();
    for n in 0..100 {
        let probe = h
            .sesam
            .add_service_provider(
                &Actor::operator("test").unwrap(),
                &AddServiceProvider {
                    name: format!("Probe {n}"),
                    redirect_uris: vec!["https://sp.example/cb".into()],
                    national_id: false,
                    require_par: false,
                    ciba: false,
                    jwks: None,
                },
            )
            .await
            .unwrap()
            .record
            .client_id;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        while let Ok(Ok(s)) = tokio::time::timeout_at(deadline, feed.recv()).await {
            if s == (Signal::ServiceProviderChanged {
                client_id: probe.clone(),
            }) {
                return;
            }
        }
    }
    panic!("the second node's listener never delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_on_one_node_is_woken_by_a_pairing_started_on_another() {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness_tuned(Backend::Postgres, Some(&url), &[], |s| {
        s.with_long_poll_recheck(FALLBACK)
    })
    .await
    else {
        return;
    };
    let b = second_node(&h, None, |s| s.with_long_poll_recheck(FALLBACK)).await;
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
    listening(&h, &b).await;

    // The app's long-poll lands on node B ...
    let clock = h.clock.clone();
    let on_b = AppClient::new(&b.base)
        .unwrap()
        .with_clock(std::sync::Arc::new(move || {
            sesam_domain::Clock::now(&*clock).millis()
        }));
    let waiter = open_long_poll(&b.sesam, on_b, &first, 25).await;
    // ... and a new app's pairing starts on node A.
    let new_app = new_app(dir.path(), &h.base, "second");
    let pairing = h
        .client()
        .start_pairing(&new_app, "anna.hansen", "222222", "Pixel 8", &OsRandom)
        .await
        .unwrap()
        .pairing_id;
    let got = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("node B's long-poll was woken by node A's signal, not by its 60 s re-check")
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, pairing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatcher_of_one_node_sends_at_once_what_another_node_queued() {
    let (sink, url) = SmsSink::start().await;
    // Node A has no SMS gateway: only node B can send the SMS.
    let Some(h) = harness_tuned(Backend::Postgres, None, &[], |s| {
        s.with_outbox_poll(FALLBACK)
    })
    .await
    else {
        return;
    };
    let b = second_node(&h, Some(&url), |s| s.with_outbox_poll(FALLBACK)).await;
    listening(&h, &b).await;
    let code = enrol(&h, "0101901234", "+4512345678", Some("anna.hansen")).await;
    h.client().start_activation(&code).await.unwrap();
    // `wait_for_code` gives up after 5 s; B's next poll would be a minute away.
    let sms = sink.wait_for_code("+4512345678", 1).await;
    assert_eq!(sms.len(), 8);
    assert!(
        sink.received
            .lock()
            .unwrap()
            .iter()
            .all(|(auth, _)| auth.contains(TOKEN)),
        "sent by node B, the only node with the gateway"
    );
}

/// A node that is shutting down answers an open long-poll at once (with what waits:
/// here nothing), and a later one without waiting, so the app polls again elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_node_answers_long_polls_at_once() {
    let (sink, url) = SmsSink::start().await;
    let h = harness_tuned(Backend::Sqlite, Some(&url), &[], |s| {
        s.with_long_poll_recheck(FALLBACK)
    })
    .await
    .unwrap();
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
    let waiter = open_long_poll(&h.sesam, h.client(), &first, 25).await;
    h.sesam.drain_long_polls();
    let got = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the open long-poll was answered when the node drained")
        .unwrap();
    assert!(got.is_empty());
    let later = tokio::time::timeout(
        Duration::from_secs(10),
        h.client().wait_for_requests(&first, 25, &OsRandom),
    )
    .await
    .expect("a long-poll on a draining node does not wait")
    .unwrap();
    assert!(later.is_empty());
}
