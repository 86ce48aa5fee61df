//! The development outbox: where messages go when no real channel is configured (the
//! embedded default). They are logged and kept in memory for `/dev/outbox`, so a person
//! trying sesam locally can read the SMS code. Never used when a real channel exists.

use std::collections::VecDeque;
use std::sync::Mutex;

use sesam_domain::Timestamp;
use uuid::Uuid;

const KEEP: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevMessage {
    pub message_id: Uuid,
    pub channel: &'static str,
    pub to: String,
    pub event: String,
    pub text: String,
    pub at: Timestamp,
}

#[derive(Debug, Default)]
pub struct DevOutbox(Mutex<VecDeque<DevMessage>>);

impl DevOutbox {
    pub fn deliver(&self, m: DevMessage) {
        tracing::info!(
            message_id = %m.message_id,
            channel = m.channel,
            to = %m.to,
            event = %m.event,
            "development outbox: {}",
            m.text
        );
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() == KEEP {
            q.pop_front();
        }
        q.push_back(m);
    }

    /// Newest first.
    pub fn messages(&self) -> Vec<DevMessage> {
        let q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.iter().rev().cloned().collect()
    }
}
