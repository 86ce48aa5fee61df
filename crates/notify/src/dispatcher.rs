//! The dispatcher: takes due messages from the outbox and sends them.

use std::sync::Arc;
use std::time::Duration;

use sesam_domain::notification::Channel;
use sesam_domain::{Clock, SecretKeys};
use sesam_store::{OutboxEntry, Store};
use tokio::sync::Notify;

use crate::dev_outbox::{DevMessage, DevOutbox};
use crate::sms::{SendError, SmsGateway};

/// How many attempts a channel gets before the message is given up on it.
const MAX_ATTEMPTS: i32 = 6;
const BATCH: i64 = 50;

/// The configured channels. A channel without a real transport goes to the development
/// outbox, and only if no real channel is configured at all.
#[derive(Clone, Default)]
pub struct Channels {
    pub sms: Option<SmsGateway>,
}

impl Channels {
    pub fn any_real(&self) -> bool {
        self.sms.is_some()
    }
}

pub struct Dispatcher {
    store: Arc<dyn Store>,
    keys: Arc<SecretKeys>,
    clock: Arc<dyn Clock>,
    channels: Channels,
    dev: Arc<DevOutbox>,
    wake: Arc<Notify>,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        keys: Arc<SecretKeys>,
        clock: Arc<dyn Clock>,
        channels: Channels,
        dev: Arc<DevOutbox>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            keys,
            clock,
            channels,
            dev,
            wake,
        }
    }

    /// Runs until `shutdown` resolves: sends what is due, then sleeps until woken (a flow
    /// wrote a message) or for at most a second.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.run_once().await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox: cannot read due messages"),
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {},
                () = tokio::time::sleep(Duration::from_secs(1)) => {},
            }
        }
    }

    /// Sends one batch of due messages; returns how many were handled.
    pub async fn run_once(&self) -> Result<usize, sesam_store::StoreError> {
        let due = self.store.due_messages(self.clock.now(), BATCH).await?;
        for m in &due {
            self.deliver(m).await;
        }
        Ok(due.len())
    }

    async fn deliver(&self, m: &OutboxEntry) {
        let text = match &m.sealed {
            Some(sealed) => match self.keys.open_data("outbox", sealed) {
                Ok(t) => String::from_utf8_lossy(&t).into_owned(),
                Err(e) => {
                    self.record(
                        m,
                        Err(SendError::Permanent(format!(
                            "cannot open the sealed text: {e}"
                        ))),
                    )
                    .await;
                    return;
                }
            },
            None => m.body.clone(),
        };
        let result = match (m.channel, &self.channels.sms) {
            (Channel::Sms, Some(gw)) => gw.send(m.message_id, &m.destination, &text).await,
            _ if !self.channels.any_real() => {
                self.to_dev_outbox(m, text);
                Ok(())
            }
            (channel, _) => Err(SendError::Permanent(format!(
                "{} delivery is not configured",
                channel.as_str()
            ))),
        };
        self.record(m, result).await;
    }

    fn to_dev_outbox(&self, m: &OutboxEntry, text: String) {
        self.dev.deliver(DevMessage {
            message_id: m.message_id,
            channel: m.channel.as_str(),
            to: m.destination.clone(),
            event: m.event.clone(),
            text,
            at: self.clock.now(),
        });
    }

    async fn record(&self, m: &OutboxEntry, result: Result<(), SendError>) {
        let now = self.clock.now();
        let written = match &result {
            Ok(()) => self.store.mark_sent(m.id, now).await,
            Err(e) => {
                let attempts = m.attempts + 1;
                let retry = matches!(e, SendError::Temporary(_)) && attempts < MAX_ATTEMPTS;
                let retry_at = retry.then(|| now.plus_seconds(2i64.pow(attempts as u32)));
                tracing::warn!(message_id = %m.message_id, channel = m.channel.as_str(), attempts, error = %e, retry = retry, "outbox: delivery failed");
                self.store
                    .mark_failed(m.id, now, &e.to_string(), retry_at)
                    .await
            }
        };
        if let Err(e) = written {
            tracing::warn!(message_id = %m.message_id, error = %e, "outbox: cannot record the delivery; it may be sent again with the same message id");
        }
    }
}
