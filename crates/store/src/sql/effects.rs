//! Writing a change's effects (audit entries, outgoing messages) in its transaction.

use sesam_domain::Timestamp;

use super::db::Transaction;

use super::{audit, outbox, signals};
use crate::{Effects, Signal, StoreError};

pub(super) async fn write_effects(
    tx: &mut Transaction<'static>,
    at: Timestamp,
    effects: &Effects,
) -> Result<(), StoreError> {
    audit::append_all(tx, at, &effects.audit).await?;
    if effects.messages.is_empty() {
        return Ok(());
    }
    outbox::enqueue(tx, &effects.messages).await?;
    signals::publish(tx, Signal::OutboxQueued).await
}
