//! Writing a change's effects (audit entries, outgoing messages) in its transaction.

use sesam_domain::{AuditKey, Timestamp};
use sqlx::Transaction;

use super::{Db, audit, outbox};
use crate::{Effects, StoreError};

pub(super) async fn write_effects(
    tx: &mut Transaction<'static, Db>,
    key: &AuditKey,
    at: Timestamp,
    effects: &Effects,
) -> Result<(), StoreError> {
    for a in &effects.audit {
        audit::append(tx, key, at, a).await?;
    }
    outbox::enqueue(tx, &effects.messages).await
}
