//! Writing a change's effects (audit entries, outgoing messages) in its transaction.

use super::db::Transaction;
use sesam_domain::{AuditKey, Timestamp};

use super::{audit, outbox};
use crate::{Effects, StoreError};

pub(super) async fn write_effects(
    tx: &mut Transaction<'static>,
    key: &AuditKey,
    at: Timestamp,
    effects: &Effects,
) -> Result<(), StoreError> {
    for a in &effects.audit {
        audit::append(tx, key, at, a).await?;
    }
    outbox::enqueue(tx, &effects.messages).await
}
