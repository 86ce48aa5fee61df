//! Every answer carries an `x-request-id` of the server's own making: one a client sends is
//! not taken over (it could plant misleading ids in the logs), and no two requests share one.

use crate::common::http_client;
use crate::inproc::*;

#[tokio::test]
async fn every_answer_has_a_fresh_request_id_of_the_servers_own() {
    let h = harness(Backend::Sqlite, None).await.unwrap();
    let http = http_client();
    let id_of = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let planted = http
        .get(format!("{}/healthz", h.base))
        .header("x-request-id", "planted-by-a-client")
        .send()
        .await
        .unwrap();
    let first = id_of(&planted).expect("an x-request-id on the answer");
    assert_ne!(first, "planted-by-a-client");
    assert!(uuid::Uuid::parse_str(&first).is_ok(), "{first}");

    // Also on refusals, and different each time.
    let missing = http
        .get(format!("{}/no/such/endpoint", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let second = id_of(&missing).expect("an x-request-id on a refusal");
    assert_ne!(first, second);
}
