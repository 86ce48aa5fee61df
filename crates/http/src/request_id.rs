//! Every request gets an id of sesam's own (a client's `x-request-id` is replaced, so logs
//! never carry an id an outsider chose), kept in the request's tracing span and returned
//! in the answer's `x-request-id`, so a person's report can be matched to the logs.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Span;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Sets a fresh id on the request (for the trace span) and on the response.
pub async fn assign(mut req: Request, next: Next) -> Response {
    let id = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("-"));
    req.headers_mut().insert(HEADER, id.clone());
    let mut response = next.run(req).await;
    response.headers_mut().insert(HEADER, id);
    response
}

/// The span every request runs in: its id, method and path (never the query: it can hold
/// codes and tokens).
pub fn span(req: &Request) -> Span {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
}
