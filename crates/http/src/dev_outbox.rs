//! `/dev/outbox`: the development outbox, served only when asked for (`--dev-outbox`,
//! `--demo`) and no real channel is configured, and only to clients on this machine
//! unless the public URL is loopback too. It shows every SMS and confirmation code, so
//! anywhere else it would remove the second activation channel.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;

#[derive(Deserialize)]
pub struct Format {
    format: Option<String>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub async fn page(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(f): Query<Format>,
) -> Response {
    if !state.dev_outbox_for_anyone && !peer.ip().to_canonical().is_loopback() {
        // Answered like a route that does not exist.
        return super::not_found().await.into_response();
    }
    let messages = state
        .dev_outbox
        .as_ref()
        .map(|d| d.messages())
        .unwrap_or_default();
    if f.format.as_deref() == Some("json") {
        let list: Vec<_> = messages
            .iter()
            .map(|m| {
                json!({
                    "message_id": m.message_id, "channel": m.channel, "to": m.to,
                    "event": m.event, "text": m.text, "at": m.at.to_rfc3339(),
                })
            })
            .collect();
        return axum::Json(json!({ "messages": list })).into_response();
    }
    let rows: String = messages
        .iter()
        .map(|m| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&m.at.to_rfc3339()),
                m.channel,
                escape(&m.to),
                escape(&m.event),
                escape(&m.text)
            )
        })
        .collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>sesam development outbox</title></head><body>\
         <h1>Development outbox</h1><p>No SMS gateway or e-mail server is configured, so messages are delivered here instead. \
         Never use this setup for real people.</p><table><thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Channel</th>\
         <th scope=\"col\">To</th><th scope=\"col\">Event</th><th scope=\"col\">Text</th></tr></thead><tbody>{rows}</tbody></table></body></html>"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}
