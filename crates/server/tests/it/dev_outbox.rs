//! The development outbox (issue 12, item 7): off unless asked for, never with a real
//! channel, and only for clients on this machine unless the public URL is loopback too.

use crate::inproc;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use inproc::*;
use sesam_app::AppClient;
use sesam_domain::notification::Channel;
use sesam_http::{AppState, AppStateParts, router};
use tower::ServiceExt;

async fn status_of(h: &Harness, path: &str) -> u16 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::get(format!("{}{path}", h.base))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn off_by_default_and_messages_wait_in_the_outbox() {
    let h = harness(Backend::Sqlite, None).await.unwrap();
    assert_eq!(status_of(&h, "/dev/outbox?format=json").await, 404);
    let code = enrol(&h, "0101901234", "+4512345678", Some("anna.hansen")).await;
    AppClient::new(&h.base)
        .unwrap()
        .start_activation(&code)
        .await
        .unwrap();
    h.sesam.wake_outbox();
    let messages = h.db.recent_messages(None, 50).await.unwrap();
    let sms: Vec<_> = messages
        .iter()
        .filter(|m| m.channel == Channel::Sms && m.destination == "+4512345678")
        .collect();
    assert!(!sms.is_empty(), "the activation SMS was not written");
    assert!(
        sms.iter().all(|m| m.state == "pending"),
        "with nowhere to deliver, messages wait: {:?}",
        sms.iter().map(|m| &m.state).collect::<Vec<_>>()
    );
    assert_eq!(status_of(&h, "/dev/outbox").await, 404);
}

#[tokio::test]
async fn never_with_a_real_channel() {
    let (_sink, url) = SmsSink::start().await;
    let h = harness_env(
        Backend::Sqlite,
        Some(&url),
        &[("SESAM_DEV_OUTBOX", "true".into())],
    )
    .await
    .unwrap();
    assert_eq!(status_of(&h, "/dev/outbox?format=json").await, 404);
}

/// The router as `serve` builds it with the development outbox on; `for_anyone` is what
/// a loopback public URL gives.
async fn outbox_status(h: &Harness, for_anyone: bool, peer: [u8; 4]) -> u16 {
    let state = AppState::new(AppStateParts {
        sesam: h.sesam.clone(),
        metrics: sesam_http::install_recorder(),
        metrics_token: None,
        public_metrics: false,
        dev_outbox: Some(Arc::new(sesam_notify::DevOutbox::default())),
        dev_outbox_for_anyone: for_anyone,
        demo: None,
        hsts: false,
        app_public_url: None,
        site: Default::default(),
        limiter: Arc::new(sesam_core::limits::SourceLimiter::new(
            Default::default(),
            h.clock.clone(),
        )),
    });
    let mut request = Request::get("/dev/outbox?format=json")
        .body(Body::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 40_000))));
    router(state)
        .oneshot(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn refused_to_other_machines_unless_the_public_url_is_loopback() {
    let h = harness(Backend::Sqlite, None).await.unwrap();
    assert_eq!(outbox_status(&h, false, [127, 0, 0, 1]).await, 200);
    assert_eq!(outbox_status(&h, false, [203, 0, 113, 9]).await, 404);
    assert_eq!(outbox_status(&h, false, [10, 0, 0, 7]).await, 404);
    assert_eq!(outbox_status(&h, true, [203, 0, 113, 9]).await, 200);
}
