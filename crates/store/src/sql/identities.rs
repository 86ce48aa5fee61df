//! Identities, their user ID claims (uniqueness and quarantine) and user ID history.

use super::db::{RowExt as _, Transaction};
use async_trait::async_trait;
use sesam_domain::{ActivationGrant, Identity, IdentityState, Timestamp, UserId, UserIdKey};
use uuid::Uuid;

use super::effects::write_effects;
use super::rows::{self, identity_columns};
use super::store::SqlStore;
use super::{channels, db, dialect, grants};
use crate::{Effects, IdentityStore, NewIdentity, StoreError, UserIdChange, UserIdHistoryEntry};
use sesam_domain::channels::ChannelChoice;
use sesam_domain::notification::Channel;

/// Whether `key` could be claimed by `identity_id` at `at`: `UserIdTaken` while someone
/// else uses it, `UserIdReserved` while it is in someone else's quarantine. Only a check:
/// the claim itself is what guarantees uniqueness.
pub(super) async fn user_id_free(
    tx: &mut Transaction<'_>,
    identity_id: Uuid,
    key: &UserIdKey,
    at: Timestamp,
) -> Result<(), StoreError> {
    let existing = db::query(
        "SELECT identity_id, released_at, reserved_until FROM user_id_claims WHERE key = $1",
    )
    .bind(key.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = existing else {
        return Ok(());
    };
    let owner: Uuid = row.try_get("identity_id")?;
    let released: Option<i64> = row.try_get("released_at")?;
    let reserved_until: Option<i64> = row.try_get("reserved_until")?;
    if owner == identity_id {
        Ok(())
    } else if released.is_none() {
        Err(StoreError::UserIdTaken)
    } else if reserved_until.is_some_and(|until| until > at.millis()) {
        Err(StoreError::UserIdReserved)
    } else {
        Ok(())
    }
}

/// Reserves `user_id` for `identity_id`: refused while someone else uses it or while it is
/// in someone else's quarantine; an expired quarantine is cleared. The primary key on
/// `user_id_claims.key` makes two concurrent claims of one ID fail for all but one.
async fn claim_user_id(
    tx: &mut Transaction<'_>,
    identity_id: Uuid,
    user_id: &UserId,
    at: Timestamp,
) -> Result<(), StoreError> {
    let key = user_id.key();
    let existing = db::query(
        "SELECT identity_id, released_at, reserved_until FROM user_id_claims WHERE key = $1",
    )
    .bind(key.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = existing {
        let owner: Uuid = row.try_get("identity_id")?;
        let released: Option<i64> = row.try_get("released_at")?;
        let reserved_until: Option<i64> = row.try_get("reserved_until")?;
        if owner == identity_id {
            db::query(
                "UPDATE user_id_claims SET released_at = NULL, reserved_until = NULL WHERE key = $1",
            )
            .bind(key.as_str())
            .execute(&mut **tx)
            .await?;
            return Ok(());
        }
        if released.is_none() {
            return Err(StoreError::UserIdTaken);
        }
        if reserved_until.is_some_and(|until| until > at.millis()) {
            return Err(StoreError::UserIdReserved);
        }
        db::query("DELETE FROM user_id_claims WHERE key = $1")
            .bind(key.as_str())
            .execute(&mut **tx)
            .await?;
    }
    db::query("INSERT INTO user_id_claims (key, identity_id) VALUES ($1, $2)")
        .bind(key.as_str())
        .bind(identity_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn start_history(
    tx: &mut Transaction<'_>,
    identity_id: Uuid,
    user_id: &UserId,
    at: Timestamp,
) -> Result<(), StoreError> {
    db::query("UPDATE user_id_history SET to_at = $1 WHERE identity_id = $2 AND to_at IS NULL")
        .bind(at.millis())
        .bind(identity_id)
        .execute(&mut **tx)
        .await?;
    db::query("INSERT INTO user_id_history (identity_id, user_id, from_at) VALUES ($1, $2, $3)")
        .bind(identity_id)
        .bind(user_id.as_str())
        .bind(at.millis())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Moves an identity to a new user ID inside `tx`: claims the new one, puts the old one
/// in quarantine for its owner, and records the history.
pub(super) async fn apply_user_id_change(
    tx: &mut Transaction<'_>,
    change: &UserIdChange,
    old_key: Option<UserIdKey>,
) -> Result<(), StoreError> {
    let new_key = change.new.key();
    if old_key.as_ref() != Some(&new_key) {
        claim_user_id(tx, change.identity_id, &change.new, change.at).await?;
        if let Some(old) = &old_key {
            db::query(
                "UPDATE user_id_claims SET released_at = $1, reserved_until = $2 WHERE key = $3",
            )
            .bind(change.at.millis())
            .bind(change.reserved_until.millis())
            .bind(old.as_str())
            .execute(&mut **tx)
            .await?;
        }
    }
    db::query(
        "UPDATE identities SET user_id = $1, user_id_key = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(change.new.as_str())
    .bind(new_key.as_str())
    .bind(change.at.millis())
    .bind(change.identity_id)
    .execute(&mut **tx)
    .await?;
    start_history(tx, change.identity_id, &change.new, change.at).await
}

impl SqlStore {
    async fn fetch_identity(
        &self,
        sql: &'static str,
        bind: impl FnOnce(db::Query<'_>) -> db::Query<'_>,
    ) -> Result<Option<Identity>, StoreError> {
        bind(db::query(sql))
            .fetch_optional(&self.read_pool)
            .await?
            .as_ref()
            .map(rows::identity)
            .transpose()
    }
}

#[async_trait]
impl IdentityStore for SqlStore {
    async fn remind_user_id(
        &self,
        counted: [(&[u8], sesam_domain::rate_limit::WindowLimit); 2],
        window: Timestamp,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<bool, StoreError> {
        if !super::auth_requests::count_requests(self, counted, window).await? {
            return Ok(false);
        }
        let mut tx = dialect::begin_write(&self.pool).await?;
        write_effects(&mut tx, at, effects).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn enrol(
        &self,
        new: &NewIdentity,
        grant: &ActivationGrant,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        let e = &new.enrolment;
        let mut tx = dialect::begin_write(&self.pool).await?;
        let taken = db::query("SELECT 1 FROM identities WHERE national_id_index = $1")
            .bind(&new.national_id_index[..])
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::NationalIdTaken);
        }
        db::query(
            "INSERT INTO identities (id, national_id_sealed, national_id_index, national_id_masked, name, birthdate, ial, state, phone, email, user_id, user_id_key, activated_at, created_at, updated_at, language) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13, $13, $14)",
        )
        .bind(new.id)
        .bind(&new.national_id_sealed)
        .bind(&new.national_id_index[..])
        .bind(e.national_id.masked())
        .bind(e.name.as_str())
        .bind(rows::format_date(e.birthdate))
        .bind(e.ial.as_str())
        .bind(IdentityState::Pending.as_str())
        .bind(e.phone.as_str())
        .bind(e.email.as_ref().map(|m| m.as_str()))
        .bind(e.user_id.as_ref().map(UserId::as_str))
        .bind(e.user_id.as_ref().map(|u| u.key().as_str().to_owned()))
        .bind(new.created_at.millis())
        .bind(e.language.as_str())
        .execute(&mut *tx)
        .await?;
        if let Some(user_id) = &e.user_id {
            claim_user_id(&mut tx, new.id, user_id, new.created_at).await?;
            start_history(&mut tx, new.id, user_id, new.created_at).await?;
        }
        // The contact details given at the registration counter are the first channels,
        // confirmed there.
        let mut position = 0;
        for (kind, address) in [
            (Channel::Sms, Some(e.phone.as_str())),
            (Channel::Email, e.email.as_ref().map(|m| m.as_str())),
        ] {
            let Some(address) = address else { continue };
            channels::insert(
                &mut tx,
                &ChannelChoice {
                    id: Uuid::now_v7(),
                    identity_id: new.id,
                    kind,
                    address: if kind == Channel::Email {
                        address.to_lowercase()
                    } else {
                        address.to_owned()
                    },
                    position,
                    confirmed_at: Some(new.created_at),
                    code_hash: None,
                    code_expires_at: None,
                    code_attempts: 0,
                    created_at: new.created_at,
                },
            )
            .await?;
            position += 1;
        }
        grants::insert(&mut tx, grant).await?;
        write_effects(&mut tx, new.created_at, effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn identity(&self, id: Uuid) -> Result<Option<Identity>, StoreError> {
        self.fetch_identity(
            concat!(
                "SELECT ",
                identity_columns!(),
                " FROM identities WHERE id = $1"
            ),
            |q| q.bind(id),
        )
        .await
    }

    async fn identity_by_user_id(&self, key: &UserIdKey) -> Result<Option<Identity>, StoreError> {
        let key = key.as_str().to_owned();
        self.fetch_identity(
            concat!(
                "SELECT ",
                identity_columns!(),
                " FROM identities WHERE user_id_key = $1"
            ),
            |q| q.bind(key),
        )
        .await
    }

    async fn identity_by_national_id(
        &self,
        index: &[u8; 32],
    ) -> Result<Option<Identity>, StoreError> {
        let index = index.to_vec();
        self.fetch_identity(
            concat!(
                "SELECT ",
                identity_columns!(),
                " FROM identities WHERE national_id_index = $1"
            ),
            |q| q.bind(index),
        )
        .await
    }

    async fn national_id_sealed(&self, id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
        let row = db::query("SELECT national_id_sealed FROM identities WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read_pool)
            .await?;
        Ok(row.map(|r| r.try_get("national_id_sealed")).transpose()?)
    }

    async fn set_state(
        &self,
        id: Uuid,
        from: IdentityState,
        to: IdentityState,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let done = db::query(
            "UPDATE identities SET state = $1, updated_at = $2, \
             activated_at = CASE WHEN $1 = 'active' AND activated_at IS NULL THEN $2 ELSE activated_at END \
             WHERE id = $3 AND state = $4",
        )
        .bind(to.as_str())
        .bind(at.millis())
        .bind(id)
        .bind(from.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            let exists = db::query("SELECT 1 FROM identities WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match exists {
                Some(_) => StoreError::Conflict("identity"),
                None => StoreError::NotFound("identity"),
            });
        }
        write_effects(&mut tx, at, effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn change_user_id(
        &self,
        change: &UserIdChange,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let row = db::query(dialect::SELECT_IDENTITY_FOR_UPDATE)
            .bind(change.identity_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("identity"))?;
        let old_key: Option<String> = row.try_get("user_id_key")?;
        apply_user_id_change(&mut tx, change, old_key.map(UserIdKey::from_stored)).await?;
        write_effects(&mut tx, change.at, effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn user_id_history(&self, id: Uuid) -> Result<Vec<UserIdHistoryEntry>, StoreError> {
        let rows = db::query(
            "SELECT user_id, from_at, to_at FROM user_id_history WHERE identity_id = $1 ORDER BY from_at",
        )
        .bind(id)
        .fetch_all(&self.read_pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UserIdHistoryEntry {
                    user_id: r.try_get("user_id")?,
                    from: Timestamp::from_millis(r.try_get("from_at")?),
                    to: r
                        .try_get::<Option<i64>, _>("to_at")?
                        .map(Timestamp::from_millis),
                })
            })
            .collect()
    }

    async fn count_identities(&self) -> Result<i64, StoreError> {
        Ok(db::query("SELECT COUNT(*) AS n FROM identities")
            .fetch_one(&self.read_pool)
            .await?
            .try_get("n")?)
    }
}
