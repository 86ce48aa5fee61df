//! The change feed: what one node (or `sesam admin`) changed, told to every node sharing
//! the database, so waits and caches need not poll.
//!
//! A signal is written inside the transaction of the change it announces and delivered
//! only once that transaction commits: a rolled-back change signals nothing. On
//! PostgreSQL that is `pg_notify` (delivered by the server at commit, to every node's
//! listener); on SQLite (one serving process per file) it is delivered in process after
//! the commit. Payloads carry ids only, never personal data or secrets: anyone who can
//! `LISTEN` on the database could read them.
//!
//! Delivery is best effort: a listener that lost its connection, or a subscriber that
//! fell behind, may have missed signals, and is told so by [`Signal::Resync`] (or the
//! receiver's `Lagged` error, which means the same). Whoever keeps state because of
//! signals drops it then, and keeps a slow re-check as the fallback.

use tokio::sync::broadcast;
use uuid::Uuid;

/// The PostgreSQL channel the signals travel on.
pub const SIGNAL_CHANNEL: &str = "sesam_signals";

/// Signals held for a subscriber that is slow to read them; beyond this it gets `Lagged`.
const BACKLOG: usize = 4096;

/// The longest client id put into a payload (PostgreSQL takes payloads below 8000 bytes);
/// a longer one (which validation never lets through) is announced as [`Signal::Resync`].
const MAX_CLIENT_ID: usize = 512;

/// One change, named by ids only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Something started waiting for the person's decision in their app (a login, an
    /// approval, a pairing): their long-polls look again.
    AppRequestsChanged { identity_id: Uuid },
    /// Messages were queued in the outbox: a dispatcher looks now.
    OutboxQueued,
    /// A service provider's record changed (or was added).
    ServiceProviderChanged { client_id: String },
    /// The signing keys were replaced (a rotation).
    SigningKeysChanged,
    /// Signals may have been missed: drop every cache and look again at everything.
    Resync,
}

impl Signal {
    /// The text sent over the database.
    pub fn payload(&self) -> String {
        match self {
            Self::AppRequestsChanged { identity_id } => format!("app:{identity_id}"),
            Self::OutboxQueued => "outbox".into(),
            Self::ServiceProviderChanged { client_id } if client_id.len() <= MAX_CLIENT_ID => {
                format!("sp:{client_id}")
            }
            Self::ServiceProviderChanged { .. } | Self::Resync => "resync".into(),
            Self::SigningKeysChanged => "keys".into(),
        }
    }

    /// Reads a payload back; `None` for a text this version does not know (a newer node
    /// may send more kinds; the caller treats that as a [`Signal::Resync`]).
    pub fn from_payload(payload: &str) -> Option<Self> {
        Some(match payload {
            "outbox" => Self::OutboxQueued,
            "keys" => Self::SigningKeysChanged,
            "resync" => Self::Resync,
            _ => {
                if let Some(id) = payload.strip_prefix("app:") {
                    Self::AppRequestsChanged {
                        identity_id: Uuid::parse_str(id).ok()?,
                    }
                } else if let Some(client_id) = payload.strip_prefix("sp:") {
                    Self::ServiceProviderChanged {
                        client_id: client_id.to_owned(),
                    }
                } else {
                    return None;
                }
            }
        })
    }
}

/// The in-process end of the feed: what the backend received (or committed) is sent
/// here, and every subscriber of this process reads it.
#[derive(Debug, Clone)]
pub struct SignalSender {
    sender: broadcast::Sender<Signal>,
}

impl Default for SignalSender {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BACKLOG).0,
        }
    }
}

impl SignalSender {
    /// Hands `signal` to every current subscriber (none is fine).
    pub fn send(&self, signal: Signal) {
        let _ = self.sender.send(signal);
    }

    /// A new subscriber: it sees every signal sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.sender.subscribe()
    }
}

/// Subscribing to the change feed.
pub trait SignalStore: Send + Sync {
    /// Every signal of this database from now on, from any node. A `Lagged` error from
    /// the receiver means signals were missed: treat it as [`Signal::Resync`].
    fn signals(&self) -> broadcast::Receiver<Signal>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_carry_ids_only() {
        let id = Uuid::now_v7();
        for s in [
            Signal::AppRequestsChanged { identity_id: id },
            Signal::OutboxQueued,
            Signal::ServiceProviderChanged {
                client_id: "borger-dk".into(),
            },
            Signal::SigningKeysChanged,
            Signal::Resync,
        ] {
            assert_eq!(Signal::from_payload(&s.payload()), Some(s));
        }
        assert_eq!(Signal::from_payload("app:not-a-uuid"), None);
        assert_eq!(Signal::from_payload("something-newer"), None);
        let long = Signal::ServiceProviderChanged {
            client_id: "x".repeat(MAX_CLIENT_ID + 1),
        };
        assert_eq!(long.payload(), "resync");
    }
}
