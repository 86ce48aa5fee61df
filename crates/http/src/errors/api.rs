//! The app API's surface (and every JSON answer outside OAuth): `{"error",
//! "error_description"}` with its status, made from application errors in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sesam_core::error::AppError;

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
        let body = sesam_api::ErrorBody {
            error: self.code.to_owned(),
            error_description: self.description,
        };
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
        AppError::Invalid(DomainError::PushSubscription(p)) => (StatusCode::BAD_REQUEST, p.code()),
        AppError::Invalid(DomainError::Password(_)) => {
            (StatusCode::BAD_REQUEST, "password_refused")
        }
        AppError::Invalid(DomainError::UserId(_)) => (StatusCode::BAD_REQUEST, "user_id_refused"),
        AppError::Store(sesam_store::StoreError::UserIdTaken) => {
            (StatusCode::BAD_REQUEST, "user_id_taken")
        }
        AppError::Store(sesam_store::StoreError::UserIdReserved) => {
            (StatusCode::BAD_REQUEST, "user_id_reserved")
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

pub(crate) async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        description: "no such endpoint".into(),
        retry_after: None,
    }
}

/// Errors made by the framework or middleware (405, 408, 413, 415, …) get the same JSON
/// body as the application's own, so clients see one error format.
pub(crate) async fn json_errors(response: Response) -> Response {
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
