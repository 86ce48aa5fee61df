//! The dispatcher: claims due messages from the outbox, sends them, records every attempt.
//!
//! A claim is a lease: a dispatcher that dies mid-send leaves rows in `sending` whose lease
//! runs out, and they are claimed again, so nothing is lost; a message may then reach a
//! channel twice, always with the same message id. Several dispatchers on one PostgreSQL
//! skip each other's claimed rows.

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use sesam_domain::notification::{Channel, Event};
use sesam_domain::{Clock, SecretKeys, Timestamp};
use sesam_store::{AttemptOutcome, OutboxEntry, OutboxStore};
use tokio::sync::Notify;

use crate::dev_outbox::{DevMessage, DevOutbox};
use crate::email::SmtpMailer;
use crate::sms::{SendError, SmsGateway};
use crate::web_push::WebPush;

/// Attempts one channel gets before the message fails over (or is given up).
pub const MAX_ATTEMPTS: i32 = 5;
const BATCH: i64 = 50;
/// How long a claim lasts by default: longer than any send may take (timeouts are below).
pub const DEFAULT_LEASE_SECONDS: i64 = 120;

/// The configured channels. Without any real transport, messages go to the development
/// outbox; with one, a channel that is not configured fails over.
#[derive(Clone, Default)]
pub struct Channels {
    pub sms: Option<SmsGateway>,
    pub email: Option<SmtpMailer>,
    /// Web push to the apps; not a channel people choose, so not counted as real.
    pub push: Option<WebPush>,
}

impl Channels {
    pub fn any_real(&self) -> bool {
        self.sms.is_some() || self.email.is_some()
    }
}

pub struct Dispatcher {
    store: Arc<dyn OutboxStore>,
    keys: Arc<SecretKeys>,
    clock: Arc<dyn Clock>,
    channels: Channels,
    dev: Arc<DevOutbox>,
    wake: Arc<Notify>,
    lease_seconds: i64,
    only: Option<Channel>,
    poll: Duration,
}

/// How often the dispatcher looks without a wake-up: for retries that have come due, and
/// as the fallback for a lost signal (messages queued on any node wake it through the
/// change feed).
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// The wait before retry `attempt` (1-based): 2^attempt seconds, ±50 % jitter so many
/// failed messages do not all retry at the same instant.
pub fn backoff_seconds(attempt: i32) -> i64 {
    let base = 2i64.pow(attempt.clamp(1, 10) as u32);
    let jitter: f64 = rand::rng().random_range(0.5..1.5);
    ((base as f64) * jitter).round().max(1.0) as i64
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn OutboxStore>,
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
            lease_seconds: DEFAULT_LEASE_SECONDS,
            only: None,
            poll: DEFAULT_POLL,
        }
    }

    /// How long a claim lasts before another dispatcher may take the message over.
    pub fn with_lease_seconds(mut self, seconds: i64) -> Self {
        self.lease_seconds = seconds.max(1);
        self
    }

    /// How often to look without a wake-up ([`DEFAULT_POLL`] unless set).
    pub fn with_poll_interval(mut self, every: Duration) -> Self {
        self.poll = every;
        self
    }

    /// Delivers the messages of one channel only (a node with web push but neither SMS
    /// nor e-mail: the others wait in the outbox until a channel is configured).
    pub fn only(mut self, channel: Channel) -> Self {
        self.only = Some(channel);
        self
    }

    /// Runs until `shutdown` resolves: sends what is due, then sleeps until woken (a flow
    /// on any node wrote a message) or for at most the poll interval. A database that is
    /// gone fails a round, which is tried again at the next.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.run_once().await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox: cannot claim due messages"),
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {},
                () = tokio::time::sleep(self.poll) => {},
            }
        }
    }

    /// Claims and sends one batch; returns how many were handled.
    pub async fn run_once(&self) -> Result<usize, sesam_store::StoreError> {
        let now = self.clock.now();
        let due = self
            .store
            .claim_due(now, now.plus_seconds(self.lease_seconds), BATCH, self.only)
            .await?;
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
                    let error = SendError::Permanent(format!("cannot open the sealed text: {e}"));
                    self.record(m, Err(error)).await;
                    return;
                }
            },
            None => m.body.clone(),
        };
        let result = match m.channel {
            // The app inbox is the stored message itself: apps fetch it.
            Channel::App => Ok(()),
            Channel::Push => match &self.channels.push {
                Some(push) => {
                    push.send(&m.destination, text.as_bytes(), self.clock.now())
                        .await
                }
                None => Err(SendError::Permanent("web push is not configured".into())),
            },
            _ if !self.channels.any_real() => {
                self.to_dev_outbox(m, text);
                Ok(())
            }
            Channel::Sms => match &self.channels.sms {
                Some(gw) => gw.send(m.message_id, &m.destination, &text).await,
                None => Err(SendError::Permanent(
                    "SMS delivery is not configured".into(),
                )),
            },
            Channel::Email => match &self.channels.email {
                Some(mailer) => {
                    mailer
                        .send(
                            m.message_id,
                            &m.destination,
                            Event::subject(&m.event, m.language),
                            &text,
                        )
                        .await
                }
                None => Err(SendError::Permanent(
                    "e-mail delivery is not configured".into(),
                )),
            },
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
        let now: Timestamp = self.clock.now();
        let channel = m.channel.as_str();
        let outcome = match result {
            Ok(()) => {
                metrics::counter!("sesam_notifications_sent_total", "channel" => channel)
                    .increment(1);
                AttemptOutcome::Sent
            }
            Err(e) => {
                let attempts = m.attempts + 1;
                tracing::warn!(message_id = %m.message_id, channel, attempts, error = %e, "outbox: delivery attempt failed");
                metrics::counter!("sesam_notification_attempts_failed_total", "channel" => channel)
                    .increment(1);
                match e {
                    SendError::Temporary(error) => AttemptOutcome::Temporary {
                        error,
                        retry_at: (attempts < MAX_ATTEMPTS)
                            .then(|| now.plus_seconds(backoff_seconds(attempts))),
                    },
                    SendError::Permanent(error) => AttemptOutcome::Permanent { error },
                }
            }
        };
        match self.store.record_attempt(m, now, &outcome).await {
            // A push that could not be delivered (the subscription is gone, or the push
            // service refused it) loses nothing: the app's own poll still finds the request.
            Ok(true) if m.channel == Channel::Push => {
                tracing::info!(message_id = %m.message_id, "outbox: a web push was not delivered");
            }
            Ok(true) => {
                metrics::counter!("sesam_notifications_undeliverable_total").increment(1);
                tracing::error!(message_id = %m.message_id, event = %m.event, "outbox: message could not be delivered on any channel");
                self.wake.notify_one();
            }
            Ok(false) => {
                if !matches!(outcome, AttemptOutcome::Sent) {
                    // A failed-over channel may be due right away.
                    self.wake.notify_one();
                }
            }
            Err(e) => tracing::warn!(
                message_id = %m.message_id,
                error = %e,
                "outbox: cannot record the attempt; the claim will run out and the message be sent again with the same id"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter() {
        for attempt in 1..=5 {
            let base = 2i64.pow(attempt as u32);
            for _ in 0..50 {
                let s = backoff_seconds(attempt);
                assert!(s >= base / 2 && s <= base * 3 / 2 + 1, "{attempt}: {s}");
            }
        }
    }
}
