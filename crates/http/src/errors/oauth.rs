//! The OAuth surface (PAR, CIBA, token, userinfo): RFC 6749 §5.2 error bodies with the
//! status and `WWW-Authenticate` challenge each error code calls for.

use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sesam_core::error::AppError;
use sesam_core::services::authorization::protocol_error;
use sesam_oidc::OAuthError;

/// The HTTP status of an OAuth error.
pub(crate) fn status_of(e: &OAuthError) -> StatusCode {
    match e {
        OAuthError::InvalidClient | OAuthError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
        OAuthError::ServerError(_) => StatusCode::INTERNAL_SERVER_ERROR,
        OAuthError::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// An OAuth error as a JSON response (token, PAR, userinfo).
pub fn oauth_error(e: &OAuthError) -> Response {
    let status = status_of(e);
    let mut r = (
        status,
        axum::Json(json!({ "error": e.code(), "error_description": e.to_string() })),
    )
        .into_response();
    let challenge = match e {
        OAuthError::InvalidClient => Some("Basic realm=\"sesam\"".to_owned()),
        OAuthError::InvalidToken(d) => Some(format!(
            "Bearer realm=\"sesam\", error=\"invalid_token\", error_description=\"{}\"",
            d.replace(['"', '\\'], "'")
        )),
        _ => None,
    };
    if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

pub(crate) fn app_error(e: AppError) -> Response {
    oauth_error(&protocol_error(e))
}
