//! Prometheus metrics: request counts and latencies per route, and the text endpoint.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;

/// Installs the process-wide metrics recorder once and returns a handle to render it.
pub fn install_recorder() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ])
                .unwrap_or_else(|_| PrometheusBuilder::new())
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed (e.g. two servers in one test
            // process); the handle still renders this recorder's (empty) view then.
            let _ = metrics::set_global_recorder(recorder);
            metrics::gauge!("sesam_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            handle
        })
        .clone()
}

/// Whether the request carries the configured bearer token. Both sides are hashed
/// first so the comparison is constant-time and does not reveal the token's length.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    use sha2::{Digest, Sha256};
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    sesam_domain::secrets::ct_eq(
        &Sha256::digest(given.as_bytes()),
        &Sha256::digest(token.as_bytes()),
    )
}

/// The Prometheus text; with `metrics_token` configured only for its bearer.
pub async fn render(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics_token
        && !authorized(&headers, token)
    {
        let mut r = super::ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_token",
            description: "metrics need the configured bearer token".into(),
            retry_after: None,
        }
        .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
        return r;
    }
    let store = sesam_core::store_stats();
    metrics::counter!("sesam_store_statements_total").absolute(store.statements);
    metrics::counter!("sesam_store_units_total").absolute(store.units);
    metrics::counter!("sesam_store_commits_total").absolute(store.commits);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Counts requests by route template (never by raw path, which would let clients create
/// unbounded label values) and status.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = tokio::time::Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("sesam_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("sesam_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    response
}
