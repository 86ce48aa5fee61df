//! The per-address limits at the edge: which endpoints count toward which group, and the
//! 429 answer with `Retry-After` (a JSON error for APIs and the chip script, a page in
//! the person's language for the login pages and `/authorize`). The counting itself is
//! `crate::limits`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sesam_domain::rate_limit::RetryAfter;
use sesam_oidc::discovery::paths;

use super::AppState;
use super::login::{MessagePage, lang_link, render};
use super::pages;
use sesam_core::limits::LimitGroup;

/// How a refusal is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Json,
    Page,
}

/// The group of an endpoint, if it is limited per address. Endpoints a person or client
/// has authenticated for (device signatures, sessions) are not listed: their own rules
/// and lockouts apply.
fn group_of(method: &Method, path: &str) -> Option<(LimitGroup, Answer)> {
    if path == paths::AUTHORIZE {
        return Some((LimitGroup::Authorize, Answer::Page));
    }
    if method != Method::POST {
        return None;
    }
    if [paths::PAR, paths::TOKEN, paths::BACKCHANNEL].contains(&path) {
        return Some((LimitGroup::BackChannel, Answer::Json));
    }
    if [
        "/app/v1/activation/start",
        "/app/v1/activation/complete",
        "/code-displays/activate-with-letter",
        "/chips/register/finish",
    ]
    .contains(&path)
    {
        return Some((LimitGroup::Activation, Answer::Json));
    }
    // Self-service's password change runs Argon2 like a login's password step, and its
    // user-ID change answers whether an ID is free: both limited like the login steps.
    if path == "/min-sesam/password" || path == "/min-sesam/user-id" {
        return Some((LimitGroup::Login, Answer::Page));
    }
    let (_flow, step) = path.strip_prefix("/login/")?.split_once('/')?;
    match step {
        "user-id" | "code-display" | "chip" | "forgot-user-id" => {
            Some((LimitGroup::Login, Answer::Page))
        }
        "chip/challenge" => Some((LimitGroup::Login, Answer::Json)),
        _ => None,
    }
}

/// Middleware: takes one request from the source address's bucket of the endpoint's
/// group, or answers 429 without running the handler.
pub async fn enforce(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some((group, answer)) = group_of(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() else {
        return next.run(req).await;
    };
    match state.limiter.check(group, peer.ip()) {
        Ok(()) => next.run(req).await,
        Err(wait) => refused(req.headers(), answer, wait),
    }
}

fn refused(headers: &axum::http::HeaderMap, answer: Answer, wait: RetryAfter) -> Response {
    let mut r = match answer {
        Answer::Json => super::ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "too_many_requests",
            description: format!(
                "too many requests from this address; try again in {} seconds",
                wait.seconds
            ),
            // Set below for both kinds of answer.
            retry_after: None,
        }
        .into_response(),
        Answer::Page => {
            let t = pages::texts(pages::locale(headers, None));
            let page = MessagePage {
                t,
                header: None,
                lang_link: lang_link("/", t),
                title: t.limited_title,
                text: t.limited_text,
                detail: None,
                link: None,
                alert: true,
            };
            render(StatusCode::TOO_MANY_REQUESTS, &page, None)
        }
    };
    if let Ok(v) = HeaderValue::from_str(&wait.seconds.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limited_endpoints() {
        let post = Method::POST;
        let get = Method::GET;
        let flow = "/login/0190a8b2-7c1e-7d3a-9f00-0123456789ab";
        let g = |m: &Method, p: &str| group_of(m, p).map(|(g, a)| (g.as_str(), a));
        assert_eq!(g(&get, "/authorize"), Some(("authorize", Answer::Page)));
        assert_eq!(g(&post, "/authorize"), Some(("authorize", Answer::Page)));
        for p in ["/par", "/token", "/bc-authorize"] {
            assert_eq!(g(&post, p), Some(("backchannel", Answer::Json)), "{p}");
        }
        for p in [
            "/app/v1/activation/start",
            "/app/v1/activation/complete",
            "/code-displays/activate-with-letter",
            "/chips/register/finish",
        ] {
            assert_eq!(g(&post, p), Some(("activation", Answer::Json)), "{p}");
        }
        for s in ["user-id", "code-display", "chip", "forgot-user-id"] {
            assert_eq!(
                g(&post, &format!("{flow}/{s}")),
                Some(("login", Answer::Page))
            );
        }
        assert_eq!(
            g(&post, &format!("{flow}/chip/challenge")),
            Some(("login", Answer::Json))
        );
        assert_eq!(g(&get, &format!("{flow}/code-display")), None);
        assert_eq!(g(&get, flow), None);
        assert_eq!(g(&post, "/app/v1/approvals"), None);
        assert_eq!(g(&get, "/healthz"), None);
    }
}
