//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{ApiError, AppState};

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
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match state.sesam.readiness().await {
        Ok(r) => Ok(Json(json!({
            "status": "ready",
            "database": r.backend,
            "audit_chain": if r.audit.behind { "behind" } else { "ok" },
        }))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "database_unavailable",
                description: "the database does not answer".into(),
                retry_after: None,
            })
        }
    }
}
