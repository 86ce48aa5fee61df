//! Announcing a change on the change feed (`ports/signals.rs`), inside the transaction
//! that makes it: the backend delivers the signal only if that transaction commits.

use super::db::Transaction;
use super::dialect;
use crate::{Signal, StoreError};

pub(super) async fn publish(
    tx: &mut Transaction<'static>,
    signal: Signal,
) -> Result<(), StoreError> {
    dialect::publish(tx, signal).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::broadcast::Receiver;
    use uuid::Uuid;

    use super::super::store::SqlStore;
    use super::*;

    async fn commit(store: &SqlStore, signal: Signal) {
        let mut tx = dialect::begin_write(&store.pool).await.unwrap();
        publish(&mut tx, signal).await.unwrap();
        tx.commit().await.unwrap();
    }

    /// The next signal other than the probes, within 10 s.
    async fn next(feed: &mut Receiver<Signal>) -> Option<Signal> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, feed.recv()).await {
                Ok(Ok(Signal::AppRequestsChanged { .. })) => {}
                Ok(Ok(s)) => return Some(s),
                Ok(Err(e)) => panic!("the feed failed: {e}"),
                Err(_) => return None,
            }
        }
    }

    /// A unit that published a signal and was then rolled back (dropped without commit)
    /// signals nothing; the committed unit after it is the next signal.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rolled_back_unit_signals_nothing() {
        let Some((_dir, store)) = dialect::test_store().await else {
            return;
        };
        let mut feed = store.feed.subscribe();
        // Probes until the backend's listener is in place.
        let mut listening = false;
        for _ in 0..100 {
            let identity_id = Uuid::now_v7();
            commit(&store, Signal::AppRequestsChanged { identity_id }).await;
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(200), feed.recv()).await {
                listening = true;
                break;
            }
        }
        assert!(listening, "the change feed never delivered");

        let mut tx = dialect::begin_write(&store.pool).await.unwrap();
        publish(&mut tx, Signal::SigningKeysChanged).await.unwrap();
        drop(tx);
        commit(&store, Signal::OutboxQueued).await;
        assert_eq!(next(&mut feed).await, Some(Signal::OutboxQueued));
    }
}
