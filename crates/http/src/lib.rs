//! The HTTP layer: routes, extractors, error bodies, security headers, request metrics and
//! the connection handling. Thin by design: handlers call the services of `sesam-core` and
//! map their errors once, here.
#![forbid(unsafe_code)]

pub mod app_api;
pub mod demo;
mod dev_outbox;
#[doc(hidden)]
pub mod fuzzing;
mod health;
mod limits;
mod login;
mod metrics;
mod oidc;
pub mod pages;
mod request_id;
pub mod transport;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use sesam_core::context::Sesam;
use sesam_core::error::AppError;

pub use metrics::install_recorder;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
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
}

/// JSON request bodies whose rejections are JSON errors too.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| Self(v))
            .map_err(|e| ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "invalid_request",
                description: e.body_text(),
                retry_after: None,
            })
    }
}

/// A JSON error body `{"error": code, "error_description": text}`, the shape OAuth uses,
/// so every client sees one error format.
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    /// Seconds to wait before trying again (`Retry-After`, with 429).
    pub retry_after: Option<i64>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "error_description": self.description });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

/// The one place where application errors become HTTP statuses and error codes.
fn classify(e: &AppError) -> Option<(StatusCode, &'static str)> {
    use sesam_domain::DomainError;
    use sesam_domain::device::PinError;
    Some(match e {
        AppError::Invalid(DomainError::Activation(a)) => (StatusCode::BAD_REQUEST, a.code()),
        AppError::Invalid(DomainError::Pin(p @ PinError::Wrong { .. })) => {
            (StatusCode::BAD_REQUEST, p.code())
        }
        AppError::Invalid(DomainError::Pin(p)) => (StatusCode::FORBIDDEN, p.code()),
        AppError::Invalid(DomainError::CodeDisplay(c)) => {
            use sesam_domain::code_display::CodeDisplayError as C;
            let status = match c {
                C::Locked { .. }
                | C::Blocked
                | C::PasswordLocked { .. }
                | C::PasswordBlocked
                | C::PasswordBusy => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, c.code())
        }
        AppError::Invalid(DomainError::Chip(c)) => (StatusCode::BAD_REQUEST, c.code()),
        AppError::Invalid(DomainError::Approval(a)) => (StatusCode::BAD_REQUEST, a.code()),
        AppError::Invalid(DomainError::Pairing(p)) => {
            use sesam_domain::pairing::PairingError as P;
            let status = match p {
                P::TooManyStarted { .. } => StatusCode::TOO_MANY_REQUESTS,
                P::WrongCode { .. } | P::Voided => StatusCode::BAD_REQUEST,
            };
            (status, p.code())
        }
        AppError::Invalid(DomainError::Channel(c)) => (StatusCode::BAD_REQUEST, c.code()),
        AppError::Invalid(DomainError::Password(_)) => {
            (StatusCode::BAD_REQUEST, "password_refused")
        }
        AppError::Store(sesam_store::StoreError::NotFound(_)) => {
            (StatusCode::NOT_FOUND, "not_found")
        }
        e if e.is_client_error() => (StatusCode::BAD_REQUEST, "invalid_request"),
        _ => return None,
    })
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match classify(&e) {
            Some((status, code)) => Self {
                status,
                code,
                description: e.to_string(),
                retry_after: match &e {
                    AppError::Invalid(sesam_domain::DomainError::Pairing(
                        sesam_domain::pairing::PairingError::TooManyStarted {
                            retry_after_seconds,
                        },
                    )) => Some(*retry_after_seconds),
                    _ => None,
                },
            },
            None => {
                tracing::error!(error = %e, "request failed");
                Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "temporarily_unavailable",
                    description: "the service cannot answer right now; try again shortly".into(),
                    retry_after: None,
                }
            }
        }
    }
}

/// The published token-signing keys (JWKS), including the next key before it signs.
async fn jwks(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    Ok(axum::Json(state.sesam.jwks().await?))
}

pub(crate) async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        description: "no such endpoint".into(),
        retry_after: None,
    }
}

fn static_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Errors made by the framework or middleware (405, 408, 413, 415, …) get the same JSON
/// body as the application's own, so clients see one error format.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    // JSON errors, and the pages that explain an error to a person, stay as they are.
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "server_error",
        _ => "invalid_request",
    };
    let description = status
        .canonical_reason()
        .unwrap_or("the request was refused")
        .to_lowercase();
    let mut out = ApiError {
        status,
        code,
        description,
        retry_after: None,
    }
    .into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
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
