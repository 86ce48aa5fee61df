//! OpenID Connect flow state: pushed requests, logins, grants, refresh tokens, sessions.
//! The validated request and the authentication are stored as JSON of their domain types.

use super::db;
use super::db::RowExt as _;
use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::authorization::{
    Authentication, AuthorizationGrant, AuthorizationRequest, BrowserSession, FlowStep, LoginFlow,
    RefreshToken,
};
use uuid::Uuid;

use super::dialect;
use super::effects::write_effects;
use super::rows::{Row, hash32};
use super::store::SqlStore;
use crate::{Effects, OidcStore, RefreshOutcome, StoreError};

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::InvalidData(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(row: &Row, column: &str) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::InvalidData(format!("{column}: {e}")))
}

fn ts(row: &Row, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(Timestamp::from_millis))
}

macro_rules! flow_columns {
    () => {
        "id, browser_hash, request, step, user_id_input, identity_id, created_at, expires_at"
    };
}

fn flow(row: &Row) -> Result<LoginFlow, StoreError> {
    let step: String = row.try_get("step")?;
    Ok(LoginFlow {
        id: row.try_get("id")?,
        browser_hash: hash32(row.try_get("browser_hash")?, "browser_hash")?,
        request: from_json(row, "request")?,
        step: FlowStep::parse(&step)
            .ok_or_else(|| StoreError::InvalidData(format!("login step '{step}'")))?,
        user_id_input: row.try_get("user_id_input")?,
        identity_id: row.try_get("identity_id")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
    })
}

macro_rules! grant_columns {
    () => {
        "id, code_hash, request, authentication, created_at, code_expires_at, code_used_at, revoked_at"
    };
}

fn grant(row: &Row) -> Result<AuthorizationGrant, StoreError> {
    Ok(AuthorizationGrant {
        id: row.try_get("id")?,
        code_hash: hash32(row.try_get("code_hash")?, "code_hash")?,
        request: from_json(row, "request")?,
        authentication: from_json(row, "authentication")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        code_expires_at: Timestamp::from_millis(row.try_get("code_expires_at")?),
        code_used_at: ts(row, "code_used_at")?,
        revoked_at: ts(row, "revoked_at")?,
    })
}

#[async_trait]
impl OidcStore for SqlStore {
    async fn push_request(
        &self,
        handle_hash: &[u8; 32],
        request: &AuthorizationRequest,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        db::query("INSERT INTO par_requests (handle_hash, client_id, request, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(&handle_hash[..])
            .bind(&request.client_id)
            .bind(to_json(request)?)
            .bind(expires_at.millis())
            .execute(dialect::one_statement_unit(&self.pool))
            .await?;
        Ok(())
    }

    async fn take_pushed_request(
        &self,
        handle_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<AuthorizationRequest>, StoreError> {
        let row = db::query(
            "DELETE FROM par_requests WHERE handle_hash = $1 RETURNING request, expires_at",
        )
        .bind(&handle_hash[..])
        .fetch_optional(dialect::one_statement_unit(&self.pool))
        .await?;
        let Some(row) = row else { return Ok(None) };
        if now.millis() >= row.try_get::<i64, _>("expires_at")? {
            return Ok(None);
        }
        from_json(&row, "request").map(Some)
    }

    async fn create_login_flow(&self, f: &LoginFlow) -> Result<(), StoreError> {
        db::query(
            "INSERT INTO login_flows (id, browser_hash, request, step, user_id_input, identity_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(f.id)
        .bind(&f.browser_hash[..])
        .bind(to_json(&f.request)?)
        .bind(f.step.as_str())
        .bind(&f.user_id_input)
        .bind(f.identity_id)
        .bind(f.created_at.millis())
        .bind(f.expires_at.millis())
        .execute(dialect::one_statement_unit(&self.pool))
        .await?;
        Ok(())
    }

    async fn login_flow(&self, id: Uuid) -> Result<Option<LoginFlow>, StoreError> {
        db::query(concat!(
            "SELECT ",
            flow_columns!(),
            " FROM login_flows WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.read_pool)
        .await?
        .as_ref()
        .map(flow)
        .transpose()
    }

    async fn save_login_flow(&self, f: &LoginFlow) -> Result<(), StoreError> {
        let done = db::query(
            "UPDATE login_flows SET step = $1, user_id_input = $2, identity_id = $3 WHERE id = $4",
        )
        .bind(f.step.as_str())
        .bind(&f.user_id_input)
        .bind(f.identity_id)
        .bind(f.id)
        .execute(dialect::one_statement_unit(&self.pool))
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("login"));
        }
        Ok(())
    }

    async fn delete_login_flow(&self, id: Uuid, effects: Effects) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let row = db::query("DELETE FROM login_flows WHERE id = $1 RETURNING created_at")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound("login"));
        };
        let at = Timestamp::from_millis(row.try_get("created_at")?);
        write_effects(&mut tx, at, &effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn complete_login(
        &self,
        flow_id: Option<Uuid>,
        g: &AuthorizationGrant,
        session: Option<&BrowserSession>,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        if let Some(flow_id) = flow_id {
            let gone = db::query("DELETE FROM login_flows WHERE id = $1")
                .bind(flow_id)
                .execute(&mut *tx)
                .await?;
            if gone.rows_affected() == 0 {
                return Err(StoreError::NotFound("login"));
            }
        }
        db::query(
            "INSERT INTO oidc_grants (id, code_hash, client_id, identity_id, request, authentication, created_at, code_expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(g.id)
        .bind(&g.code_hash[..])
        .bind(&g.request.client_id)
        .bind(g.authentication.identity_id)
        .bind(to_json(&g.request)?)
        .bind(to_json(&g.authentication)?)
        .bind(g.created_at.millis())
        .bind(g.code_expires_at.millis())
        .execute(&mut *tx)
        .await?;
        if let Some(s) = session {
            db::query(
                "INSERT INTO browser_sessions (id_hash, identity_id, authentication, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&s.id_hash[..])
            .bind(s.authentication.identity_id)
            .bind(to_json(&s.authentication)?)
            .bind(s.expires_at.millis())
            .execute(&mut *tx)
            .await?;
        }
        write_effects(&mut tx, g.created_at, &effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn grant_by_code(
        &self,
        code_hash: &[u8; 32],
    ) -> Result<Option<AuthorizationGrant>, StoreError> {
        db::query(concat!(
            "SELECT ",
            grant_columns!(),
            " FROM oidc_grants WHERE code_hash = $1"
        ))
        .bind(&code_hash[..])
        .fetch_optional(&self.read_pool)
        .await?
        .as_ref()
        .map(grant)
        .transpose()
    }

    async fn grant(&self, id: Uuid) -> Result<Option<AuthorizationGrant>, StoreError> {
        db::query(concat!(
            "SELECT ",
            grant_columns!(),
            " FROM oidc_grants WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.read_pool)
        .await?
        .as_ref()
        .map(grant)
        .transpose()
    }

    async fn redeem_code(
        &self,
        grant_id: Uuid,
        now: Timestamp,
        refresh: Option<&RefreshToken>,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let done = db::query("UPDATE oidc_grants SET code_used_at = $1 WHERE id = $2 AND code_used_at IS NULL AND revoked_at IS NULL")
            .bind(now.millis())
            .bind(grant_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        if let Some(r) = refresh {
            insert_refresh(&mut tx, r).await?;
        }
        write_effects(&mut tx, now, &effects).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn revoke_grant(
        &self,
        grant_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        db::query("UPDATE oidc_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now.millis())
            .bind(grant_id)
            .execute(&mut *tx)
            .await?;
        write_effects(&mut tx, now, &effects).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn grant_of_refresh(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<AuthorizationGrant>, StoreError> {
        db::query(concat!(
            "SELECT ",
            "g.id, g.code_hash, g.request, g.authentication, g.created_at, g.code_expires_at, g.code_used_at, g.revoked_at",
            " FROM refresh_tokens r JOIN oidc_grants g ON g.id = r.grant_id WHERE r.hash = $1"
        ))
        .bind(&hash[..])
        .fetch_optional(&self.read_pool)
        .await?
        .as_ref()
        .map(grant)
        .transpose()
    }

    async fn use_refresh_token(
        &self,
        hash: &[u8; 32],
        next: &RefreshToken,
        now: Timestamp,
    ) -> Result<RefreshOutcome, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let row = db::query(concat!(
            "SELECT grant_id, expires_at, used_at FROM refresh_tokens WHERE hash = $1",
            dialect::for_update!()
        ))
        .bind(&hash[..])
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(RefreshOutcome::Invalid);
        };
        let grant_id: Uuid = row.try_get("grant_id")?;
        if ts(&row, "used_at")?.is_some() {
            return Ok(RefreshOutcome::AlreadyUsed(grant_id));
        }
        if now.millis() >= row.try_get::<i64, _>("expires_at")? {
            return Ok(RefreshOutcome::Invalid);
        }
        let g = db::query(concat!(
            "SELECT ",
            grant_columns!(),
            " FROM oidc_grants WHERE id = $1"
        ))
        .bind(grant_id)
        .fetch_one(&mut *tx)
        .await?;
        let g = grant(&g)?;
        if g.revoked_at.is_some() {
            return Ok(RefreshOutcome::Invalid);
        }
        db::query("UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2")
            .bind(now.millis())
            .bind(&hash[..])
            .execute(&mut *tx)
            .await?;
        insert_refresh(&mut tx, next).await?;
        tx.commit().await?;
        Ok(RefreshOutcome::Rotated(Box::new(g)))
    }

    async fn browser_session(
        &self,
        id_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<BrowserSession>, StoreError> {
        let row = db::query("SELECT id_hash, authentication, expires_at FROM browser_sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(&id_hash[..])
            .bind(now.millis())
            .fetch_optional(&self.read_pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let authentication: Authentication = from_json(&row, "authentication")?;
        Ok(Some(BrowserSession {
            id_hash: hash32(row.try_get("id_hash")?, "id_hash")?,
            authentication,
            expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        }))
    }

    async fn end_browser_session(
        &self,
        id_hash: &[u8; 32],
        at: Timestamp,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let mut tx = dialect::begin_write(&self.pool).await?;
        let done = db::query("DELETE FROM browser_sessions WHERE id_hash = $1")
            .bind(&id_hash[..])
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        write_effects(&mut tx, at, &effects).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn register_assertion_id(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = db::query(
            "INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at.millis())
        .execute(dialect::one_statement_unit(&self.pool))
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

async fn insert_refresh(
    tx: &mut super::db::Transaction<'static>,
    r: &RefreshToken,
) -> Result<(), StoreError> {
    db::query("INSERT INTO refresh_tokens (hash, grant_id, expires_at) VALUES ($1, $2, $3)")
        .bind(&r.hash[..])
        .bind(r.grant_id)
        .bind(r.expires_at.millis())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
