//! The storage ports. Each method is one atomic operation: state changes take the audit
//! event they cause and append it in the same transaction, so an unaudited change cannot
//! be committed and an audit entry cannot describe a change that was rolled back.

use async_trait::async_trait;
use sesam_domain::{
    ActivationGrant, AuditDraft, AuditEntry, ChainHead, Identity, IdentityState, Timestamp, UserId,
    UserIdKey, identity::Enrolment,
};
use uuid::Uuid;

use crate::StoreError;

/// Everything a server or operator command needs, as one object.
pub trait Store:
    IdentityStore + GrantStore + ServiceProviderStore + AuditStore + MetaStore + Send + Sync
{
    /// Which backend this is, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
}

/// A new identity as it is written: the validated enrolment plus what sesam derived.
#[derive(Debug, Clone)]
pub struct NewIdentity {
    pub id: Uuid,
    pub enrolment: Enrolment,
    pub national_id_sealed: Vec<u8>,
    pub national_id_index: [u8; 32],
    pub created_at: Timestamp,
}

/// A change of user ID, decided by the domain; the store enforces uniqueness and quarantine.
#[derive(Debug, Clone)]
pub struct UserIdChange {
    pub identity_id: Uuid,
    pub new: UserId,
    pub at: Timestamp,
    /// Until when the released ID stays reserved for this person.
    pub reserved_until: Timestamp,
}

/// One user ID a person had, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIdHistoryEntry {
    pub user_id: String,
    pub from: Timestamp,
    pub to: Option<Timestamp>,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Writes the identity, its user ID claim (if chosen), its first activation grant and
    /// the audit entry, or nothing.
    async fn enrol(
        &self,
        identity: &NewIdentity,
        grant: &ActivationGrant,
        audit: &AuditDraft,
    ) -> Result<(), StoreError>;

    async fn identity(&self, id: Uuid) -> Result<Option<Identity>, StoreError>;

    async fn identity_by_user_id(&self, key: &UserIdKey) -> Result<Option<Identity>, StoreError>;

    async fn identity_by_national_id(
        &self,
        index: &[u8; 32],
    ) -> Result<Option<Identity>, StoreError>;

    /// The sealed national ID number, for the few places that must show or send it.
    async fn national_id_sealed(&self, id: Uuid) -> Result<Option<Vec<u8>>, StoreError>;

    /// Moves the identity from `from` to `to`; fails with `Conflict` if it is no longer in
    /// `from` (someone else changed it first).
    async fn set_state(
        &self,
        id: Uuid,
        from: IdentityState,
        to: IdentityState,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<(), StoreError>;

    async fn change_user_id(
        &self,
        change: &UserIdChange,
        audit: &AuditDraft,
    ) -> Result<(), StoreError>;

    async fn user_id_history(&self, id: Uuid) -> Result<Vec<UserIdHistoryEntry>, StoreError>;

    async fn count_identities(&self) -> Result<i64, StoreError>;
}

#[async_trait]
pub trait GrantStore: Send + Sync {
    async fn grant_by_code_hash(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<ActivationGrant>, StoreError>;

    async fn grants_of(&self, identity_id: Uuid) -> Result<Vec<ActivationGrant>, StoreError>;
}

/// A service provider as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderRecord {
    pub client_id: String,
    pub display_name: String,
    pub redirect_uris: Vec<String>,
    pub secret_hash: [u8; 32],
    pub allow_national_id: bool,
    pub require_par: bool,
    pub ciba: bool,
    /// The SP's public keys (JWKS JSON) for `private_key_jwt`.
    pub jwks: Option<String>,
    pub created_at: Timestamp,
}

#[async_trait]
pub trait ServiceProviderStore: Send + Sync {
    async fn add_service_provider(
        &self,
        sp: &ServiceProviderRecord,
        audit: &AuditDraft,
    ) -> Result<(), StoreError>;

    async fn service_provider(
        &self,
        client_id: &str,
    ) -> Result<Option<ServiceProviderRecord>, StoreError>;

    async fn service_providers(&self) -> Result<Vec<ServiceProviderRecord>, StoreError>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry that belongs to no other change (e.g. a failed operator action).
    async fn append_audit(
        &self,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<AuditEntry, StoreError>;

    /// Entries with `seq > after`, in order, at most `limit`.
    async fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError>;

    async fn audit_head(&self) -> Result<ChainHead, StoreError>;
}

#[async_trait]
pub trait MetaStore: Send + Sync {
    /// Stores `value` under `key` unless a value is there already; returns the stored value.
    async fn meta_get_or_init(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// Reads a value, if any.
    async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// A trivial query, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
}
