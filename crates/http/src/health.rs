//! Liveness and readiness.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ApiError, AppState};

/// The longest `/readyz` waits for the database: a balancer's check must get a quick
/// "no" from a node whose database hangs, not a timeout of its own.
const READY_WITHIN: Duration = Duration::from_secs(2);

/// The process is up and serving.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers: a load balancer should send traffic here. The audit chain's
/// state is a detail for monitoring: a node cannot make a lagging sequencer catch up by
/// leaving the pool, so it stays ready. Only `ok`/`behind` is shown here, never the
/// number of waiting entries: that number moves with each audited action, so on an
/// unauthenticated endpoint it would tell an outsider whether what they just did (say,
/// typing a user ID) was audited. The counts are in the private `/metrics`.
///
/// A node told to stop answers 503 `{"status":"draining"}` while it still serves
/// everything else for the drain period, so the balancer takes it out first.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.sesam.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining" })),
        )
            .into_response();
    }
    let readiness = tokio::time::timeout(READY_WITHIN, state.sesam.readiness())
        .await
        .unwrap_or_else(|_| {
            Err(sesam_core::error::AppError::Store(
                sesam_store::StoreError::Unavailable("no answer within 2 seconds".into()),
            ))
        });
    match readiness {
        Ok(r) => Json(json!({
            "status": "ready",
            "database": r.backend,
            "audit_chain": if r.audit.behind { "behind" } else { "ok" },
        }))
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "database_unavailable",
                description: "the database does not answer".into(),
                retry_after: None,
            }
            .into_response()
        }
    }
}
