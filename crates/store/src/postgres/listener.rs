//! The per-node end of the change feed on PostgreSQL: one connection that `LISTEN`s on
//! [`SIGNAL_CHANNEL`] and forwards what arrives to this process's subscribers.
//!
//! The listener looks after itself: when its connection is lost (a PostgreSQL restart,
//! a killed backend, a network cut) it connects again, backing off up to a few seconds,
//! and then sends [`Signal::Resync`], since whatever was notified meanwhile is lost.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::broadcast;

use crate::{SIGNAL_CHANNEL, Signal, SignalSender};

/// The name the listener's connection shows in `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "sesam-signals";

/// The first and the longest pause between attempts to connect again.
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The change feed as this process receives it; the listener stops with it.
pub struct Feed {
    sender: SignalSender,
    task: tokio::task::JoinHandle<()>,
}

impl Feed {
    /// Starts listening on a connection of its own (not one of the store's pools, so a
    /// busy pool cannot delay or starve it).
    pub(super) fn start(options: &PgConnectOptions, connect_timeout: Duration) -> Self {
        let sender = SignalSender::default();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(connect_timeout)
            .connect_lazy_with(options.clone().application_name(LISTENER_APPLICATION_NAME));
        let task = tokio::spawn(listen(pool, sender.clone()));
        Self { sender, task }
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.sender.subscribe()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn listen(pool: sqlx::PgPool, sender: SignalSender) {
    let mut connected_before = false;
    let mut pause = RETRY_FIRST;
    loop {
        let mut listener = match connect(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for signals from other nodes; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RETRY_MAX);
                continue;
            }
        };
        if connected_before {
            tracing::info!("listening for signals from other nodes again");
            sender.send(Signal::Resync);
        }
        connected_before = true;
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    // A working connection: the next loss starts the back-off afresh.
                    pause = RETRY_FIRST;
                    sender.send(Signal::from_payload(n.payload()).unwrap_or(Signal::Resync))
                }
                // Lost, and listening again on a new connection (sqlx reconnects before
                // it answers `None`): what came meanwhile is lost.
                Ok(None) => {
                    tracing::info!("the signal listener's connection was replaced");
                    sender.send(Signal::Resync);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the signal listener lost its connection");
                    break;
                }
            }
        }
        // A connection that fails again at once (say, `LISTEN` refused) must not spin.
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RETRY_MAX);
    }
}

async fn connect(pool: &sqlx::PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(SIGNAL_CHANNEL).await?;
    Ok(listener)
}
