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
/// backlog is a detail for monitoring: a node cannot make a lagging sequencer catch up by
/// leaving the pool, so it stays ready.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match state.sesam.readiness().await {
        Ok(r) => Ok(Json(json!({
            "status": "ready",
            "database": r.backend,
            "audit_chain": {
                "status": if r.audit.behind { "behind" } else { "ok" },
                "waiting": r.audit.waiting,
                "oldest_seconds": r.audit.oldest_seconds,
            },
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
