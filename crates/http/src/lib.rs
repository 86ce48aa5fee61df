//! The HTTP layer: routes, extractors, error bodies, security headers, request metrics and
//! the connection handling. Thin by design: handlers call the services of `sesam-core` and
//! map their errors once, here.
#![forbid(unsafe_code)]

pub mod app_api;
pub mod demo;
mod dev_outbox;
mod errors;
#[doc(hidden)]
pub mod fuzzing;
mod health;
mod limits;
mod login;
mod metrics;
mod oidc;
pub mod pages;
pub mod proxy_protocol;
pub mod qr;
mod request_id;
mod self_service;
pub mod site;
pub mod transport;
pub mod webapp;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use sesam_core::context::Sesam;

pub use errors::api::{ApiError, ApiJson};
use errors::api::{json_errors, not_found};
pub use metrics::install_recorder;

/// Shared state of the HTTP handlers: one shared pointer, because the router and every
/// middleware layer clone it for each request.
#[derive(Clone)]
pub struct AppState(std::sync::Arc<AppStateParts>);

impl AppState {
    pub fn new(parts: AppStateParts) -> Self {
        Self(std::sync::Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateParts;
    fn deref(&self) -> &AppStateParts {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct AppStateParts {
    pub sesam: Sesam,
    pub metrics: PrometheusHandle,
    /// The bearer token `/metrics` requires, if one is configured.
    pub metrics_token: Option<std::sync::Arc<str>>,
    /// Whether `/metrics` is on the public router (a token and no own listen address).
    pub public_metrics: bool,
    /// Set when asked for (`--dev-outbox`, `--demo`) and no real channel is configured.
    pub dev_outbox: Option<std::sync::Arc<sesam_notify::DevOutbox>>,
    /// Whether the development outbox answers clients on other machines too (only when
    /// the public URL itself is loopback: a development setup).
    pub dev_outbox_for_anyone: bool,
    /// The demo relying party (`serve --demo`).
    pub demo: Option<std::sync::Arc<sesam_core::services::demo_client::DemoClient>>,
    /// Per-address limits of unauthenticated endpoints (this node's memory).
    pub limiter: std::sync::Arc<sesam_core::limits::SourceLimiter>,
    /// Send `Strict-Transport-Security` (sesam terminates TLS or the public URL is https).
    pub hsts: bool,
    /// The web app's own origin (`app_public_url`), if it has one.
    pub app_public_url: Option<url::Url>,
    /// The pages' footer, logo and favicon (`[site]`).
    pub site: std::sync::Arc<site::Site>,
}

/// The published token-signing keys (JWKS), including the next key before it signs.
async fn jwks(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    Ok(axum::Json(state.sesam.jwks().await?))
}

fn static_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// The prefix browsers reserve for cookies that are `Secure`, `Path=/` and without
/// `Domain`: such a cookie cannot be set by a sibling subdomain or over plain http.
const HOST_PREFIX: &str = "__Host-";

/// On https, every cookie sesam sets is named `__Host-…` and only such cookies are read
/// (the prefix removed for the handlers), so a cookie planted from elsewhere (another
/// subdomain, a plain-http response) is never taken for one of sesam's. Handlers keep
/// using the plain names; on http the prefix is not used (browsers refuse it there).
async fn host_prefixed_cookies(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let ours: Vec<String> = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(HOST_PREFIX))
        .map(str::to_owned)
        .collect();
    req.headers_mut().remove(header::COOKIE);
    if let Ok(v) = HeaderValue::from_str(&ours.join("; "))
        && !ours.is_empty()
    {
        req.headers_mut().insert(header::COOKIE, v);
    }
    let mut response = next.run(req).await;
    let set: Vec<HeaderValue> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| {
            let v = v.to_str().ok()?;
            HeaderValue::from_str(&format!("{HOST_PREFIX}{v}")).ok()
        })
        .collect();
    response.headers_mut().remove(header::SET_COOKIE);
    for v in set {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// The metrics listener (`metrics_listen`): `/metrics` and nothing else.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::render))
        .fallback(not_found)
        .with_state(state)
        .layer(axum::middleware::map_response(json_errors))
        .layer(static_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(static_header(header::CACHE_CONTROL, "no-store"))
}

/// The application's routes with their middleware.
pub fn router(state: AppState) -> Router {
    let dev = state.dev_outbox.is_some();
    let public_metrics = state.public_metrics;
    let secure_cookies = state.sesam.secure_cookies();
    let hsts = state.hsts;
    let mut routes = Router::new()
        .merge(app_api::routes())
        .merge(oidc::routes())
        .merge(login::routes())
        .merge(demo::routes())
        .merge(self_service::routes())
        .merge(webapp::routes())
        .merge(site::routes())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(sesam_oidc::discovery::paths::JWKS, get(jwks));
    if public_metrics {
        routes = routes.route("/metrics", get(metrics::render));
    }
    if dev {
        routes = routes.route("/dev/outbox", get(dev_outbox::page));
    }
    let routes = routes
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::enforce,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            webapp::separate_origin,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            site::scope,
        ))
        .with_state(state)
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(TraceLayer::new_for_http().make_span_with(request_id::span))
        .layer(axum::middleware::from_fn(request_id::assign))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(RequestBodyLimitLayer::new(64 * 1024))
        .layer(axum::middleware::map_response(json_errors))
        .layer(static_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(static_header(header::REFERRER_POLICY, "no-referrer"))
        .layer(static_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(static_header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .layer(static_header(header::CACHE_CONTROL, "no-store"));
    let routes = if hsts {
        routes.layer(static_header(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000",
        ))
    } else {
        routes
    };
    if secure_cookies {
        routes.layer(axum::middleware::from_fn(host_prefixed_cookies))
    } else {
        routes
    }
}
