//! OpenID Connect flow state.

use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::authorization::{
    AuthorizationGrant, AuthorizationRequest, BrowserSession, LoginFlow, RefreshToken,
};
use uuid::Uuid;

use super::Effects;
use crate::StoreError;

/// What became of a refresh token that was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// It was valid; it is now used and `next` is stored in its place.
    Rotated(Box<AuthorizationGrant>),
    /// It was used before: a copy is being replayed. The caller revokes the grant.
    AlreadyUsed(Uuid),
    /// Unknown or past its expiry.
    Invalid,
}

/// OpenID Connect flow state. Everything is short-lived; "take" and "complete" operations
/// are single-use: of two concurrent calls, one wins and the other finds nothing.
#[async_trait]
pub trait OidcStore: Send + Sync {
    /// Stores a pushed authorization request under the keyed hash of its handle (and
    /// forgets expired ones).
    async fn push_request(
        &self,
        handle_hash: &[u8; 32],
        request: &AuthorizationRequest,
        expires_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Takes a pushed request out (single use); `None` if unknown, used or expired.
    async fn take_pushed_request(
        &self,
        handle_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<AuthorizationRequest>, StoreError>;

    /// Starts a login (and forgets expired ones).
    async fn create_login_flow(&self, flow: &LoginFlow) -> Result<(), StoreError>;

    async fn login_flow(&self, id: Uuid) -> Result<Option<LoginFlow>, StoreError>;

    /// Saves a login's progress (step, user ID, identity).
    async fn save_login_flow(&self, flow: &LoginFlow) -> Result<(), StoreError>;

    /// Ends a login without a result (cancelled by the person).
    async fn delete_login_flow(&self, id: Uuid, effects: Effects) -> Result<(), StoreError>;

    /// Completes a login: the flow (if the login had pages) is consumed (`NotFound` if it
    /// already was), the grant and the browser session are stored, with the effects, in
    /// one transaction.
    async fn complete_login(
        &self,
        flow_id: Option<Uuid>,
        grant: &AuthorizationGrant,
        session: Option<&BrowserSession>,
        effects: Effects,
    ) -> Result<(), StoreError>;

    async fn grant_by_code(
        &self,
        code_hash: &[u8; 32],
    ) -> Result<Option<AuthorizationGrant>, StoreError>;

    async fn grant(&self, id: Uuid) -> Result<Option<AuthorizationGrant>, StoreError>;

    /// Marks a grant's code used and stores its first refresh token, if any; `false` when
    /// the code was used already (the caller then revokes the grant).
    async fn redeem_code(
        &self,
        grant_id: Uuid,
        now: Timestamp,
        refresh: Option<&RefreshToken>,
        effects: Effects,
    ) -> Result<bool, StoreError>;

    /// Revokes a grant: its tokens stop working.
    async fn revoke_grant(
        &self,
        grant_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// The grant a refresh token belongs to (used or not), to check who presents it.
    async fn grant_of_refresh(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<AuthorizationGrant>, StoreError>;

    /// Uses a refresh token: marks it used and stores `next`, atomically.
    async fn use_refresh_token(
        &self,
        hash: &[u8; 32],
        next: &RefreshToken,
        now: Timestamp,
    ) -> Result<RefreshOutcome, StoreError>;

    /// A browser session that has not expired.
    async fn browser_session(
        &self,
        id_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<BrowserSession>, StoreError>;

    /// Ends a browser session; `false` if there was none.
    async fn end_browser_session(
        &self,
        id_hash: &[u8; 32],
        at: Timestamp,
        effects: Effects,
    ) -> Result<bool, StoreError>;

    /// Records a client assertion's `jti`; `false` if the client used it before.
    async fn register_assertion_id(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError>;
}
