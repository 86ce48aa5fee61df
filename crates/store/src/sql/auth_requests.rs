//! Requests waiting for the person's app, with the per-person and per-source limits
//! applied in the same transaction as the insert.

use super::db;
use super::db::RowExt as _;
use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::auth_request::{AuthRequest, AuthRequestState, BindingCode, CibaState};
use sesam_domain::authorization::Action;
use sesam_domain::rate_limit::{PendingCap, RateWindow, WindowLimit};
use sesam_domain::transaction_text::TransactionText;
use uuid::Uuid;

use super::effects::write_effects;
use super::rows::{Row, hash32};
use super::store::SqlStore;
use super::{dialect, signals};
use crate::{AuthRequestStore, Effects, Signal, StartLimits, StartOutcome, StoreError};

macro_rules! auth_request_columns {
    () => {
        "id, identity_id, client_id, sp_name, action, text, binding_code, flow_id, source_hash, state, created_at, expires_at, decided_at, device_id, signature, not_me, signed_bytes, details, ciba_hash, scope, last_polled_at, redeemed_at, browser_hash, binding_failures"
    };
}
pub(super) use auth_request_columns;

pub(super) fn auth_request(row: &Row) -> Result<AuthRequest, StoreError> {
    let invalid = |what: &str| StoreError::InvalidData(format!("auth request {what}"));
    let action: String = row.try_get("action")?;
    let state: String = row.try_get("state")?;
    let code: Option<String> = row.try_get("binding_code")?;
    Ok(AuthRequest {
        id: row.try_get("id")?,
        identity_id: row.try_get("identity_id")?,
        client_id: row.try_get("client_id")?,
        sp_name: row.try_get("sp_name")?,
        action: Action::parse(&action).ok_or_else(|| invalid("action"))?,
        text: TransactionText::parse(row.try_get::<&str, _>("text")?)
            .map_err(|_| invalid("text"))?,
        binding_code: code
            .map(|c| BindingCode::parse(&c).ok_or_else(|| invalid("binding code")))
            .transpose()?,
        flow_id: row.try_get("flow_id")?,
        source_hash: hash32(row.try_get("source_hash")?, "auth request source_hash")?,
        browser_hash: row
            .try_get::<Option<Vec<u8>>, _>("browser_hash")?
            .map(|b| hash32(b, "auth request browser_hash"))
            .transpose()?,
        state: AuthRequestState::parse(&state).ok_or_else(|| invalid("state"))?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        decided_at: row
            .try_get::<Option<i64>, _>("decided_at")?
            .map(Timestamp::from_millis),
        device_id: row.try_get("device_id")?,
        signature: row.try_get("signature")?,
        not_me: row.try_get("not_me")?,
        binding_failures: row.try_get::<i32, _>("binding_failures")?,
        signed_bytes: row.try_get("signed_bytes")?,
        details: row
            .try_get::<Option<String>, _>("details")?
            .map(|d| serde_json::from_str(&d).map_err(|_| invalid("details")))
            .transpose()?,
        ciba: match row.try_get::<Option<Vec<u8>>, _>("ciba_hash")? {
            None => None,
            Some(h) => Some(CibaState {
                handle_hash: hash32(h, "auth request ciba_hash")?,
                scope: row
                    .try_get::<Option<String>, _>("scope")?
                    .unwrap_or_default()
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                last_polled_at: ts(row, "last_polled_at")?,
                redeemed_at: ts(row, "redeemed_at")?,
            }),
        },
    })
}

fn ts(row: &Row, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(Timestamp::from_millis))
}

#[async_trait]
impl AuthRequestStore for SqlStore {
    async fn start_auth_request(
        &self,
        r: &AuthRequest,
        subject: &str,
        limits: StartLimits,
        effects: Effects,
    ) -> Result<StartOutcome, StoreError> {
        let window = RateWindow::seconds(limits.window_seconds).start(r.created_at);
        let person_key = [
            b"p:".as_slice(),
            subject.as_bytes(),
            b":",
            &r.source_hash[..],
        ]
        .concat();
        let source_key = [b"s:".as_slice(), &r.source_hash[..]].concat();
        let counted = [
            (&person_key[..], WindowLimit::at_most(limits.max_started)),
            (&source_key[..], WindowLimit::at_most(limits.max_per_source)),
        ];
        if !count_requests(self, counted, window).await? {
            return Ok(StartOutcome::TooMany);
        }
        let mut tx = dialect::begin_write(&self.pool).await?;
        if let Some(lock) = dialect::LOCK_SUBJECT {
            db::query(lock).bind(subject).execute(&mut *tx).await?;
        }
        // One read for both questions: did this browser (or any browser at the address it
        // asked from) report the person's requests as not theirs, and which of the
        // person's requests still wait (locked, for the cap below).
        let rows = db::query(concat!(
            "SELECT id, ($4 IS NOT NULL AND not_me AND created_at >= $3 AND (browser_hash = $4 OR (browser_hash IS NOT NULL AND source_hash = $5))) AS reported \
             FROM auth_requests WHERE subject = $1 AND ((state = 'pending' AND expires_at > $2) \
             OR ($4 IS NOT NULL AND not_me AND created_at >= $3 AND (browser_hash = $4 OR (browser_hash IS NOT NULL AND source_hash = $5)))) \
             ORDER BY created_at",
            dialect::for_update!()
        ))
        .bind(subject)
        .bind(r.created_at.millis())
        .bind(limits.reported_since.millis())
        .bind(r.browser_hash.as_ref().map(|b| b.to_vec()))
        .bind(&r.source_hash[..])
        .fetch_all(&mut *tx)
        .await?;
        let mut pending: Vec<Uuid> = Vec::with_capacity(rows.len());
        for row in &rows {
            // A request without a browser (CIBA) is never refused for a browser's report.
            let reported: bool = row.try_get("reported")?;
            if reported {
                return Ok(StartOutcome::BrowserReported);
            }
            pending.push(row.try_get("id")?);
        }
        let evicted = PendingCap::at_most(limits.max_pending).evicted(pending);
        for id in &evicted {
            db::query("UPDATE auth_requests SET state = 'evicted', decided_at = $1 WHERE id = $2")
                .bind(r.created_at.millis())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        db::query(
            "INSERT INTO auth_requests (id, identity_id, subject, client_id, sp_name, action, text, binding_code, flow_id, source_hash, state, created_at, expires_at, not_me, details, ciba_hash, scope, browser_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(r.id)
        .bind(r.identity_id)
        .bind(subject)
        .bind(&r.client_id)
        .bind(&r.sp_name)
        .bind(r.action.as_str())
        .bind(r.text.as_str())
        .bind(r.binding_code.as_ref().map(BindingCode::as_str))
        .bind(r.flow_id)
        .bind(&r.source_hash[..])
        .bind(r.state.as_str())
        .bind(r.created_at.millis())
        .bind(r.expires_at.millis())
        .bind(r.not_me)
        .bind(
            r.details
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::InvalidData(e.to_string()))?,
        )
        .bind(r.ciba.as_ref().map(|c| c.handle_hash.to_vec()))
        .bind(r.ciba.as_ref().map(|c| c.scope.join(" ")))
        .bind(r.browser_hash.map(|b| b.to_vec()))
        .execute(&mut *tx)
        .await?;
        write_effects(&mut tx, r.created_at, &effects).await?;
        // Published for an unknown person too (to no one: the nil id), so that the work
        // done does not tell whether the person exists.
        let identity_id = r.identity_id.unwrap_or(Uuid::nil());
        signals::publish(&mut tx, Signal::AppRequestsChanged { identity_id }).await?;
        tx.commit().await?;
        Ok(StartOutcome::Started { evicted })
    }

    async fn auth_request(&self, id: Uuid) -> Result<Option<AuthRequest>, StoreError> {
        db::query(concat!(
            "SELECT ",
            auth_request_columns!(),
            " FROM auth_requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.read_pool)
        .await?
        .as_ref()
        .map(auth_request)
        .transpose()
    }

    async fn auth_request_by_ciba(
        &self,
        handle_hash: &[u8; 32],
    ) -> Result<Option<AuthRequest>, StoreError> {
        db::query(concat!(
            "SELECT ",
            auth_request_columns!(),
            " FROM auth_requests WHERE ciba_hash = $1"
        ))
        .bind(&handle_hash[..])
        .fetch_optional(&self.read_pool)
        .await?
        .as_ref()
        .map(auth_request)
        .transpose()
    }

    async fn ciba_polled(&self, id: Uuid, now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let row = db::query(concat!(
            "SELECT last_polled_at FROM auth_requests WHERE id = $1",
            dialect::for_update!()
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("auth request"))?;
        let previous = ts(&row, "last_polled_at")?;
        db::query("UPDATE auth_requests SET last_polled_at = $1 WHERE id = $2")
            .bind(now.millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(previous)
    }

    async fn redeem_ciba(&self, id: Uuid, now: Timestamp) -> Result<bool, StoreError> {
        let done = db::query("UPDATE auth_requests SET redeemed_at = $1 WHERE id = $2 AND state = 'approved' AND redeemed_at IS NULL")
            .bind(now.millis())
            .bind(id)
            .execute(dialect::one_statement_unit(&self.pool))
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn auth_requests_of(
        &self,
        identity_id: Uuid,
        limit: i64,
    ) -> Result<Vec<AuthRequest>, StoreError> {
        db::query(concat!(
            "SELECT ",
            auth_request_columns!(),
            " FROM auth_requests WHERE identity_id = $1 ORDER BY created_at DESC LIMIT $2"
        ))
        .bind(identity_id)
        .bind(limit)
        .fetch_all(&self.read_pool)
        .await?
        .iter()
        .map(auth_request)
        .collect()
    }

    async fn pending_auth_requests(
        &self,
        identity_id: Uuid,
        now: Timestamp,
    ) -> Result<Vec<AuthRequest>, StoreError> {
        db::query(concat!(
            "SELECT ",
            auth_request_columns!(),
            " FROM auth_requests WHERE identity_id = $1 AND state = 'pending' AND expires_at > $2 ORDER BY created_at"
        ))
        .bind(identity_id)
        .bind(now.millis())
        .fetch_all(&self.read_pool)
        .await?
        .iter()
        .map(auth_request)
        .collect()
    }
}

/// Counts one more request under each of the two keys in the window starting at
/// `window`, if both counts stay within their limits; whether they did. One statement,
/// a unit of its own before the request's transaction: a counter row (one per address
/// and window, shared by everyone behind one address) is locked for that statement only,
/// never across another request's whole transaction, and on PostgreSQL it is one round
/// trip. A refused request is not counted: a second statement takes both counts back, so
/// one person's refused attempts do not use up their address's budget. Between the two a
/// concurrent request can see a count one too high, and a crash between them leaves it
/// so until the window ends: both err towards refusing, never towards admitting.
pub(super) async fn count_requests(
    store: &SqlStore,
    keys: [(&[u8], WindowLimit); 2],
    window: Timestamp,
) -> Result<bool, StoreError> {
    let rows = db::query(
        "INSERT INTO request_counts (key, window_start, n) VALUES ($1, $3, 1), ($2, $3, 1) \
         ON CONFLICT (key, window_start) DO UPDATE SET n = request_counts.n + 1 RETURNING key, n",
    )
    .bind(keys[0].0)
    .bind(keys[1].0)
    .bind(window.millis())
    .fetch_all(dialect::one_statement_unit(&store.pool))
    .await?;
    let mut admitted = true;
    for r in &rows {
        let key: Vec<u8> = r.try_get("key")?;
        let n: i64 = r.try_get("n")?;
        if keys.iter().any(|(k, limit)| key == *k && !limit.admits(n)) {
            admitted = false;
        }
    }
    if !admitted {
        db::query(
            "UPDATE request_counts SET n = n - 1 WHERE window_start = $3 AND (key = $1 OR key = $2)",
        )
        .bind(keys[0].0)
        .bind(keys[1].0)
        .bind(window.millis())
        .execute(dialect::one_statement_unit(&store.pool))
        .await?;
    }
    Ok(admitted)
}
