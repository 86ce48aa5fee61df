//! Bulk enrolment and bulk app activation: one write transaction and a few multi-row
//! statements per batch. The checks that [`IdentityStore::enrol`] makes one person at a
//! time (national ID enrolled, user ID taken or in quarantine) are made for the whole
//! batch with one `IN (…)` query each, inside the same transaction, so a person is either
//! written whole or not at all.
//!
//! [`IdentityStore::enrol`]: crate::IdentityStore::enrol

use std::collections::{HashMap, HashSet};

use super::db::{BuildReused as _, QueryBuilder, RowExt as _, Transaction};
use async_trait::async_trait;
use sesam_domain::UnchainedEntry;
use sesam_domain::activation::GrantState;
use sesam_domain::notification::Channel;
use sesam_domain::{AuditDraft, IdentityState, Timestamp, UserId};
use uuid::Uuid;

use super::store::SqlStore;
use super::{audit, dialect, rows};
use crate::{BulkAppActivation, BulkEnrolment, BulkOutcome, BulkStore, StoreError};

/// Rows per multi-row statement: well inside both backends' bound-parameter limits
/// (SQLite 32766, PostgreSQL 65535) at 16 columns; larger statements gain nothing more.
const ROWS_PER_STATEMENT: usize = 1000;

/// A concurrent import can enrol the same person between our check and our insert on
/// PostgreSQL (SQLite serialises writers); the unique index refuses ours, and the batch
/// is run again, when the check sees the other import's rows.
const CONFLICT_RETRIES: usize = 5;

#[async_trait]
impl BulkStore for SqlStore {
    async fn enrol_many(&self, items: &[BulkEnrolment]) -> Result<Vec<BulkOutcome>, StoreError> {
        let mut attempt = 0;
        loop {
            match self.enrol_batch(items).await {
                Err(StoreError::NationalIdTaken | StoreError::UserIdTaken | StoreError::Locked)
                    if attempt < CONFLICT_RETRIES =>
                {
                    attempt += 1
                }
                other => return other,
            }
        }
    }

    fn enrol_batch_size(&self) -> usize {
        dialect::BULK_ENROL_BATCH
    }

    fn enrol_batches_at_once(&self) -> usize {
        dialect::BULK_ENROL_AT_ONCE
    }

    async fn activate_apps_many(&self, items: &[BulkAppActivation]) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let mut tx = dialect::begin_bulk(&self.pool).await?;
        for chunk in items.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new("UPDATE activation_grants SET state = ");
            q.push_bind(GrantState::Consumed.as_str())
                .push(" WHERE state <> ")
                .push_bind(GrantState::Consumed.as_str())
                .push(" AND state <> ")
                .push_bind(GrantState::Voided.as_str())
                .push(" AND id IN ");
            q.push_tuples(chunk, |mut b, a| {
                b.push_bind(a.grant.id);
            });
            if q.build().execute(&mut *tx).await?.rows_affected() != chunk.len() as u64 {
                return Err(StoreError::Conflict("activation grant"));
            }
            let at = chunk[0].device.created_at.millis();
            let mut q = QueryBuilder::new("UPDATE identities SET state = ");
            q.push_bind(IdentityState::Active.as_str())
                .push(", updated_at = ")
                .push_bind(at)
                .push(", activated_at = ")
                .push_bind(at)
                .push(" WHERE state = ")
                .push_bind(IdentityState::Pending.as_str())
                .push(" AND id IN ");
            q.push_tuples(chunk, |mut b, a| {
                b.push_bind(a.device.identity_id);
            });
            if q.build().execute(&mut *tx).await?.rows_affected() != chunk.len() as u64 {
                return Err(StoreError::Conflict("identity"));
            }
            let mut q = QueryBuilder::new(
                "INSERT INTO devices (id, identity_id, name, public_key, pin_hash, state, created_at) ",
            );
            q.push_values(chunk, |mut b, a| {
                let d = &a.device;
                b.push_bind(d.id)
                    .push_bind(d.identity_id)
                    .push_bind(d.name.as_str().to_owned())
                    .push_bind(d.public_key.to_sec1())
                    .push_bind(d.pin_hash.to_vec())
                    .push_bind(d.state.as_str())
                    .push_bind(d.created_at.millis());
            });
            q.build()
                .execute(&mut *tx)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::UserIdTaken => StoreError::DeviceKeyTaken,
                    other => other,
                })?;
        }
        let drafts: Vec<(Timestamp, &AuditDraft)> = items
            .iter()
            .map(|a| (a.device.created_at, &a.audit))
            .collect();
        append_audit_many(&mut tx, self, &drafts).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl SqlStore {
    async fn enrol_batch(&self, items: &[BulkEnrolment]) -> Result<Vec<BulkOutcome>, StoreError> {
        let mut tx = dialect::begin_bulk(&self.pool).await?;
        // Claims first: on PostgreSQL each statement sees what was committed when it
        // started, so a concurrent import's person whose user-ID claim this sees is also
        // seen as enrolled by the later read (and counted as such, not refused for the
        // user ID). In the other order a commit between the two reads did just that.
        let claims = existing_claims(&mut tx, items).await?;
        let enrolled = existing_national_ids(&mut tx, items).await?;
        let now = items.first().map_or(0, |i| i.identity.created_at.millis());

        let mut outcomes = Vec::with_capacity(items.len());
        let mut seen_national = HashSet::new();
        let mut seen_user_ids = HashSet::new();
        let mut accepted: Vec<&BulkEnrolment> = Vec::with_capacity(items.len());
        let mut reclaimed: Vec<String> = Vec::new();
        for item in items {
            let new = &item.identity;
            if enrolled.contains(&new.national_id_index[..])
                || !seen_national.insert(new.national_id_index)
            {
                outcomes.push(BulkOutcome::AlreadyEnrolled);
                continue;
            }
            if let Some(user_id) = &new.enrolment.user_id {
                let key = user_id.key().as_str().to_owned();
                let refusal = match claims.get(&key) {
                    _ if seen_user_ids.contains(&key) => Some(StoreError::UserIdTaken),
                    Some(Claim {
                        released: false, ..
                    }) => Some(StoreError::UserIdTaken),
                    Some(Claim {
                        reserved_until: Some(until),
                        ..
                    }) if *until > now => Some(StoreError::UserIdReserved),
                    Some(_) => {
                        reclaimed.push(key.clone());
                        None
                    }
                    None => None,
                };
                if let Some(e) = refusal {
                    // The national ID stays free for a corrected line later in the file.
                    seen_national.remove(&new.national_id_index);
                    outcomes.push(BulkOutcome::Refused(e));
                    continue;
                }
                seen_user_ids.insert(key);
            }
            accepted.push(item);
            outcomes.push(BulkOutcome::Enrolled);
        }

        for chunk in reclaimed.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new("DELETE FROM user_id_claims WHERE key IN ");
            q.push_tuples(chunk, |mut b, k| {
                b.push_bind(k.clone());
            });
            q.build().execute(&mut *tx).await?;
        }
        // Each table's rows go in in the order of its index on a random key (the keyed
        // hashes, the user-ID key), so that an insert lands on the index page the one
        // before it touched, and each page is read and dirtied once per batch. The people
        // come first: the other rows refer to them.
        let mut by_index = accepted.clone();
        by_index.sort_unstable_by_key(|i| i.identity.national_id_index);
        for chunk in by_index.chunks(ROWS_PER_STATEMENT) {
            insert_identities(&mut tx, chunk).await?;
        }
        insert_claims(&mut tx, &accepted).await?;
        insert_channels(&mut tx, &accepted).await?;
        by_index.sort_unstable_by_key(|i| i.grant.code_hash);
        for chunk in by_index.chunks(ROWS_PER_STATEMENT) {
            insert_grants(&mut tx, chunk).await?;
        }
        let drafts: Vec<(Timestamp, &AuditDraft)> = accepted
            .iter()
            .map(|i| (i.identity.created_at, &i.audit))
            .collect();
        append_audit_many(&mut tx, self, &drafts).await?;
        tx.commit().await?;
        Ok(outcomes)
    }
}

struct Claim {
    released: bool,
    reserved_until: Option<i64>,
}

async fn existing_national_ids(
    tx: &mut Transaction<'static>,
    items: &[BulkEnrolment],
) -> Result<HashSet<Vec<u8>>, StoreError> {
    let mut found = HashSet::new();
    for chunk in items.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::new(
            "SELECT national_id_index FROM identities WHERE national_id_index IN ",
        );
        q.push_tuples(chunk, |mut b, i| {
            b.push_bind(i.identity.national_id_index.to_vec());
        });
        for row in q.build_reused().fetch_all(&mut **tx).await? {
            found.insert(row.try_get::<Vec<u8>, _>("national_id_index")?);
        }
    }
    Ok(found)
}

async fn existing_claims(
    tx: &mut Transaction<'static>,
    items: &[BulkEnrolment],
) -> Result<HashMap<String, Claim>, StoreError> {
    let keys: Vec<String> = items
        .iter()
        .filter_map(|i| i.identity.enrolment.user_id.as_ref())
        .map(|u| u.key().as_str().to_owned())
        .collect();
    let mut found = HashMap::new();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::new(
            "SELECT key, released_at, reserved_until FROM user_id_claims WHERE key IN ",
        );
        q.push_tuples(chunk, |mut b, k| {
            b.push_bind(k.clone());
        });
        for row in q.build_reused().fetch_all(&mut **tx).await? {
            let released: Option<i64> = row.try_get("released_at")?;
            found.insert(
                row.try_get::<String, _>("key")?,
                Claim {
                    released: released.is_some(),
                    reserved_until: row.try_get("reserved_until")?,
                },
            );
        }
    }
    Ok(found)
}

async fn insert_identities(
    tx: &mut Transaction<'static>,
    chunk: &[&BulkEnrolment],
) -> Result<(), StoreError> {
    let mut q = QueryBuilder::new(
        "INSERT INTO identities (id, national_id_sealed, national_id_index, national_id_masked, name, birthdate, ial, state, phone, email, user_id, user_id_key, activated_at, created_at, updated_at, language) ",
    );
    q.push_values(chunk, |mut b, item| {
        let new = &item.identity;
        let e = &new.enrolment;
        b.push_bind(new.id)
            .push_bind(new.national_id_sealed.clone())
            .push_bind(new.national_id_index.to_vec())
            .push_bind(e.national_id.masked())
            .push_bind(e.name.as_str().to_owned())
            .push_bind(rows::format_date(e.birthdate))
            .push_bind(e.ial.as_str())
            .push_bind(IdentityState::Pending.as_str())
            .push_bind(e.phone.as_str().to_owned())
            .push_bind(e.email.as_ref().map(|m| m.as_str().to_owned()))
            .push_bind(e.user_id.as_ref().map(|u| u.as_str().to_owned()))
            .push_bind(e.user_id.as_ref().map(|u| u.key().as_str().to_owned()))
            .push_bind(None::<i64>)
            .push_bind(new.created_at.millis())
            .push_bind(new.created_at.millis())
            .push_bind(e.language.as_str());
    });
    q.build_reused().execute(&mut **tx).await?;
    Ok(())
}

/// The user-ID claims in the order of their key, the history in the people's order.
async fn insert_claims(
    tx: &mut Transaction<'static>,
    accepted: &[&BulkEnrolment],
) -> Result<(), StoreError> {
    let mut with_user_id: Vec<(&BulkEnrolment, &UserId, String)> = accepted
        .iter()
        .filter_map(|i| {
            let u = i.identity.enrolment.user_id.as_ref()?;
            Some((*i, u, u.key().as_str().to_owned()))
        })
        .collect();
    for chunk in with_user_id.chunks(ROWS_PER_STATEMENT) {
        let mut q =
            QueryBuilder::new("INSERT INTO user_id_history (identity_id, user_id, from_at) ");
        q.push_values(chunk, |mut b, (item, user_id, _)| {
            b.push_bind(item.identity.id)
                .push_bind(user_id.as_str().to_owned())
                .push_bind(item.identity.created_at.millis());
        });
        q.build_reused().execute(&mut **tx).await?;
    }
    with_user_id.sort_unstable_by(|a, b| a.2.cmp(&b.2));
    for chunk in with_user_id.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::new("INSERT INTO user_id_claims (key, identity_id) ");
        q.push_values(chunk, |mut b, (item, _, key)| {
            b.push_bind(key.clone()).push_bind(item.identity.id);
        });
        q.build_reused().execute(&mut **tx).await?;
    }
    Ok(())
}

/// The phone and e-mail given at the registration counter are the first channels,
/// confirmed there (as in a single enrolment).
async fn insert_channels(
    tx: &mut Transaction<'static>,
    chunk: &[&BulkEnrolment],
) -> Result<(), StoreError> {
    let mut channels: Vec<(&BulkEnrolment, Channel, String, i64)> = Vec::new();
    for item in chunk {
        let e = &item.identity.enrolment;
        channels.push((item, Channel::Sms, e.phone.as_str().to_owned(), 0));
        if let Some(mail) = &e.email {
            channels.push((item, Channel::Email, mail.as_str().to_lowercase(), 1));
        }
    }
    for part in channels.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::new(
            "INSERT INTO notification_channels (id, identity_id, kind, address, position, confirmed_at, code_hash, code_expires_at, code_attempts, created_at) ",
        );
        q.push_values(part, |mut b, (item, kind, address, position)| {
            let at = item.identity.created_at.millis();
            b.push_bind(Uuid::now_v7())
                .push_bind(item.identity.id)
                .push_bind(kind.as_str())
                .push_bind(address.clone())
                .push_bind(*position)
                .push_bind(Some(at))
                .push_bind(None::<Vec<u8>>)
                .push_bind(None::<i64>)
                .push_bind(0_i64)
                .push_bind(at);
        });
        q.build_reused().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_grants(
    tx: &mut Transaction<'static>,
    chunk: &[&BulkEnrolment],
) -> Result<(), StoreError> {
    let mut q = QueryBuilder::new(
        "INSERT INTO activation_grants (id, identity_id, purpose, code_hash, state, failed_attempts, created_at, expires_at, sms_pin_hash, sms_pin_expires_at, sms_sent_count) ",
    );
    q.push_values(chunk, |mut b, item| {
        let g = &item.grant;
        b.push_bind(g.id)
            .push_bind(g.identity_id)
            .push_bind(g.purpose.as_str())
            .push_bind(g.code_hash.to_vec())
            .push_bind(g.state.as_str())
            .push_bind(g.failed_attempts)
            .push_bind(g.created_at.millis())
            .push_bind(g.expires_at.millis())
            .push_bind(g.sms_pin_hash.map(|h| h.to_vec()))
            .push_bind(g.sms_pin_expires_at.map(Timestamp::millis))
            .push_bind(g.sms_sent_count);
    });
    q.build_reused().execute(&mut **tx).await?;
    Ok(())
}

/// Chains the batch's entries right away, in its transaction: an import writes many at
/// once, so moving them through the waiting table would only write them twice.
async fn append_audit_many(
    tx: &mut Transaction<'static>,
    store: &SqlStore,
    drafts: &[(Timestamp, &AuditDraft)],
) -> Result<(), StoreError> {
    if drafts.is_empty() {
        return Ok(());
    }
    audit::chain(
        tx,
        store,
        drafts.iter().map(|(at, d)| UnchainedEntry::new(*at, d)),
    )
    .await?;
    Ok(())
}
