//! The storage ports. Each method is one atomic operation: state changes take the audit
//! event they cause and append it in the same transaction, so an unaudited change cannot
//! be committed and an audit entry cannot describe a change that was rolled back.

use async_trait::async_trait;
use sesam_domain::auth_request::AuthRequest;
use sesam_domain::authorization::{
    AuthorizationGrant, AuthorizationRequest, BrowserSession, LoginFlow, RefreshToken,
};
use sesam_domain::channels::ChannelChoice;
use sesam_domain::chip::{Ceremony, Chip};
use sesam_domain::code_display::CodeDisplay;
use sesam_domain::device::{Device, DeviceName};
use sesam_domain::notification::{Channel, OutgoingMessage};
use sesam_domain::pairing::Pairing;
use sesam_domain::password_guard::PasswordGuard;
use sesam_domain::signing_keys::SigningKey;
use sesam_domain::{
    ActivationGrant, AuditDraft, AuditEntry, ChainHead, Identity, IdentityState, Timestamp, UserId,
    UserIdKey, identity::Enrolment,
};
use uuid::Uuid;

use crate::StoreError;

/// Everything a server or operator command needs, as one object.
pub trait Store:
    IdentityStore
    + GrantStore
    + ActivationStore
    + DeviceStore
    + PairingStore
    + CodeDisplayStore
    + ChipStore
    + ChannelStore
    + SigningKeyStore
    + OidcStore
    + AuthRequestStore
    + PasswordStore
    + OutboxStore
    + ServiceProviderStore
    + AuditStore
    + MetaStore
    + BulkStore
    + SweepStore
    + Send
    + Sync
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

/// One person of a bulk import: what [`IdentityStore::enrol`] writes for one enrolment.
#[derive(Debug)]
pub struct BulkEnrolment {
    pub identity: NewIdentity,
    pub grant: ActivationGrant,
    pub audit: AuditDraft,
}

/// What became of one [`BulkEnrolment`].
#[derive(Debug)]
pub enum BulkOutcome {
    Enrolled,
    /// Someone with this national ID is enrolled already (an earlier run of the import).
    AlreadyEnrolled,
    /// Nothing was written for this person.
    Refused(StoreError),
}

/// An app activated in bulk (benchmark and test populations): the consumed grant, the
/// device, the identity made active and the audit entry, as one activation would write.
#[derive(Debug, Clone)]
pub struct BulkAppActivation {
    pub grant: ActivationGrant,
    pub device: Device,
    pub audit: AuditDraft,
}

/// Many enrolments or activations per transaction: one write transaction and a handful of
/// multi-row statements per batch instead of several round trips per person, which is
/// what makes a national population importable in minutes.
#[async_trait]
pub trait BulkStore: Send + Sync {
    /// Enrols each person that is not enrolled yet, in one transaction; the outcome of
    /// each item in order. Two concurrent imports of one file enrol everyone once.
    async fn enrol_many(&self, items: &[BulkEnrolment]) -> Result<Vec<BulkOutcome>, StoreError>;

    /// Activates every item or none: each grant must still be unused and each identity
    /// still pending, else `Conflict`.
    async fn activate_apps_many(&self, items: &[BulkAppActivation]) -> Result<(), StoreError>;
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Writes the identity, its user ID claim (if chosen), its first activation grant and
    /// the effects (audit entry, the letter's announcement), or nothing.
    async fn enrol(
        &self,
        identity: &NewIdentity,
        grant: &ActivationGrant,
        effects: &Effects,
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
    /// `from` (someone else changed it first). The effects are written with it.
    async fn set_state(
        &self,
        id: Uuid,
        from: IdentityState,
        to: IdentityState,
        at: Timestamp,
        effects: &Effects,
    ) -> Result<(), StoreError>;

    /// Changes the user ID (the old one quarantined), with the effects.
    async fn change_user_id(
        &self,
        change: &UserIdChange,
        effects: &Effects,
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

    /// Issues a new grant (a new activation letter); the identity's open grants are voided.
    async fn issue_grant(
        &self,
        grant: &ActivationGrant,
        effects: Effects,
    ) -> Result<(), StoreError>;
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

/// Removes what has expired: PAR objects, login flows, browser sessions, app nonces,
/// client-assertion ids, chip ceremonies, request counts of past windows. Reads check
/// expiry themselves, so sweeping is housekeeping, done now and then by one background
/// task instead of a `DELETE` in every request's transaction.
#[async_trait]
pub trait SweepStore: Send + Sync {
    /// Deletes rows that expired before `now` and request counts of windows that started
    /// before `counts_before`; returns how many rows went.
    async fn sweep_expired(
        &self,
        now: Timestamp,
        counts_before: Timestamp,
    ) -> Result<u64, StoreError>;
}

#[async_trait]
pub trait MetaStore: Send + Sync {
    /// Stores `value` under `key` unless a value is there already; returns the stored value.
    async fn meta_get_or_init(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// Stores `value` under `key`, replacing what was there.
    async fn meta_set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;

    /// Reads a value, if any.
    async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// A trivial query, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// What a change causes besides itself: audit entries and outgoing messages, written in
/// the same transaction.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    pub audit: Vec<AuditDraft>,
    pub messages: Vec<QueuedMessage>,
}

impl From<AuditDraft> for Effects {
    /// A change that is only audited.
    fn from(audit: AuditDraft) -> Self {
        Self {
            audit: vec![audit],
            messages: vec![],
        }
    }
}

/// A message ready for the outbox. A secret text (a temporary PIN) is stored sealed under
/// the master key, with a description in its place.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub message: OutgoingMessage,
    pub sealed_text: Option<Vec<u8>>,
}

/// An activation grant loaded for change: its row (and its identity's row) stay locked
/// until the unit is saved or dropped, so attempts are evaluated one at a time.
#[async_trait]
pub trait GrantUnit: Send {
    fn grant(&self) -> &ActivationGrant;
    fn identity(&self) -> &Identity;

    /// The identity's active devices, read inside the unit.
    async fn active_devices(&mut self) -> Result<Vec<Device>, StoreError>;

    /// Whether the identity could claim user ID `key` now: `UserIdTaken` or
    /// `UserIdReserved` if not (checked inside the unit, so a refusal can be counted on
    /// the grant before anything else is written).
    async fn user_id_free(&mut self, key: &UserIdKey, at: Timestamp) -> Result<(), StoreError>;

    /// Writes the grant's new state and the effects, and commits.
    async fn save(
        self: Box<Self>,
        grant: &ActivationGrant,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// A code display, locked inside this unit, with its sealed seed.
    async fn lock_code_display(
        &mut self,
        serial: &str,
    ) -> Result<Option<(CodeDisplay, Vec<u8>)>, StoreError>;

    /// The identity's active code displays, read inside the unit.
    async fn active_code_displays(&mut self) -> Result<Vec<CodeDisplay>, StoreError>;

    /// Completes an activation with a code display instead of an app: the consumed grant,
    /// the assigned display, the password, the user ID, the identity made active.
    async fn activate_code_display(
        self: Box<Self>,
        grant: &ActivationGrant,
        display: &CodeDisplay,
        password_phc: Option<&str>,
        user_id: Option<&UserIdChange>,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// Completes an activation: the consumed grant, the new device, the user ID (if the
    /// person chose one now), the identity made active, and the effects; then commits.
    async fn activate(
        self: Box<Self>,
        grant: &ActivationGrant,
        device: &Device,
        user_id: Option<&UserIdChange>,
        effects: Effects,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait ActivationStore: Send + Sync {
    async fn lock_grant_by_code_hash(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<Box<dyn GrantUnit>>, StoreError>;

    async fn lock_grant(&self, id: Uuid) -> Result<Option<Box<dyn GrantUnit>>, StoreError>;
}

#[async_trait]
pub trait DeviceStore: Send + Sync {
    async fn device(&self, id: Uuid) -> Result<Option<Device>, StoreError>;

    async fn devices_of(&self, identity_id: Uuid) -> Result<Vec<Device>, StoreError>;

    /// Registers a request nonce; `false` if the device used it before (a replay).
    /// Nonces past their expiry are forgotten.
    async fn register_nonce(
        &self,
        device_id: Uuid,
        nonce: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// One stored outgoing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: Uuid,
    pub message_id: Uuid,
    pub identity_id: Option<Uuid>,
    pub event: String,
    pub channel: Channel,
    pub destination: String,
    /// The text; for secret messages a description, the text itself being in `sealed`.
    pub body: String,
    pub sealed: Option<Vec<u8>>,
    pub language: sesam_domain::notification::Language,
    pub delivery: String,
    pub position: i32,
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Sent,
    /// Worth trying again at `retry_at`; `None` when the retries are used up.
    Temporary {
        error: String,
        retry_at: Option<Timestamp>,
    },
    /// Trying this channel again will not help.
    Permanent {
        error: String,
    },
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub message_id: Uuid,
    pub channel: Channel,
    pub at: Timestamp,
    pub outcome: String,
    pub error: Option<String>,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims due messages for sending until `lease_until`: pending ones whose time has
    /// come, and ones whose earlier claim ran out (a dispatcher died mid-send). On
    /// PostgreSQL rows claimed by another dispatcher are skipped (`SKIP LOCKED`).
    async fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Records an attempt and moves the message on: sent (a secret text is scrubbed, the
    /// other channels of a first-working message are skipped), retried later, or failed
    /// (a first-working message fails over to its next channel). Returns `true` when the
    /// message has now failed on every channel (undeliverable).
    async fn record_attempt(
        &self,
        entry: &OutboxEntry,
        at: Timestamp,
        outcome: &AttemptOutcome,
    ) -> Result<bool, StoreError>;

    /// The newest messages, for the development outbox page and activity views.
    async fn recent_messages(
        &self,
        identity_id: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Every attempt to deliver a message, oldest first.
    async fn attempts_of(&self, message_id: Uuid) -> Result<Vec<DeliveryAttempt>, StoreError>;
}

/// An active device loaded for change, with its identity: the device's row stays locked
/// until the unit is saved or dropped, so PIN attempts are evaluated one at a time.
#[async_trait]
pub trait DeviceUnit: Send {
    fn device(&self) -> &Device;
    fn identity(&self) -> &Identity;

    async fn active_devices(&mut self) -> Result<Vec<Device>, StoreError>;

    /// A pairing of this identity, locked for change.
    async fn lock_pairing(&mut self, id: Uuid) -> Result<Option<Pairing>, StoreError>;

    /// Saves the device's counters (lockout, last use) and the effects, and commits.
    async fn save(self: Box<Self>, device: &Device, effects: Effects) -> Result<(), StoreError>;

    /// Approves a pairing: saves the approving device, registers the new one, and commits.
    async fn approve_pairing(
        self: Box<Self>,
        device: &Device,
        pairing: &Pairing,
        new_device: &Device,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// Saves a pairing of this identity as the domain changed it (a wrong code counted, or
    /// the pairing voided) with the approving device and the effects; commits.
    async fn save_pairing(
        self: Box<Self>,
        device: &Device,
        pairing: &Pairing,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// One of this identity's requests, locked for change inside the unit (so wrong
    /// binding codes are counted one at a time).
    async fn lock_auth_request(&mut self, id: Uuid) -> Result<Option<AuthRequest>, StoreError>;

    /// Saves a wrong binding code: the request's count (and, at the limit, its rejection)
    /// with the device and the effects; commits.
    async fn record_binding_failure(
        self: Box<Self>,
        device: &Device,
        request: &AuthRequest,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// Declines a pending pairing of this identity.
    async fn reject_pairing(
        self: Box<Self>,
        device: &Device,
        pairing: Uuid,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// Revokes one of the identity's devices (possibly this one).
    async fn revoke_device(
        self: Box<Self>,
        device: &Device,
        target: Uuid,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// Renames one of the identity's devices.
    async fn rename_device(
        self: Box<Self>,
        device: &Device,
        target: Uuid,
        name: &DeviceName,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// Answers one of this identity's pending requests (approve or reject), saving the
    /// device and the effects in the same transaction; `false` if the request is no longer
    /// pending (answered, evicted or expired).
    async fn answer_auth_request(
        self: Box<Self>,
        device: &Device,
        answer: &AuthAnswer,
        effects: Effects,
    ) -> Result<bool, StoreError>;

    /// Suspends the whole identity ("block my ID").
    async fn suspend_identity(
        self: Box<Self>,
        device: &Device,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;
}

/// The limits a new pairing is checked against (the numbers are the domain's or the
/// configuration's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairingLimits {
    /// Pairings that may wait for one subject at once (older ones are evicted).
    pub max_pending: i64,
    /// Pairings started for one subject, from any address, per window.
    pub max_per_subject: i64,
    /// Pairings started from one address, for anyone, per window.
    pub max_per_source: i64,
    /// The counting window's length (fixed windows, as for requests).
    pub window_seconds: i64,
}

/// How starting a pairing went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairingStart {
    /// Stored; these older pending pairings of the subject were evicted (they expire now).
    Started { evicted: Vec<Uuid> },
    /// A start limit was reached: nothing was stored or counted.
    TooMany,
}

#[async_trait]
pub trait PairingStore: Send + Sync {
    /// Stores a new pairing under `subject`, in one transaction with its limits and its
    /// effects: more than `max_per_subject` for the subject or `max_per_source` from
    /// `source_hash` in the current window are refused (and not counted); pending
    /// pairings of the subject beyond `max_pending - 1` are evicted, oldest first. The
    /// domain decides (`rate_limit::{RateWindow, WindowLimit, PendingCap}`); the store
    /// applies its rules to the rows it locks.
    async fn start_pairing(
        &self,
        pairing: &Pairing,
        subject: &str,
        source_hash: &[u8; 32],
        limits: PairingLimits,
        effects: Effects,
    ) -> Result<PairingStart, StoreError>;

    async fn pairing(&self, id: Uuid) -> Result<Option<Pairing>, StoreError>;

    async fn pending_pairings(
        &self,
        identity_id: Uuid,
        now: Timestamp,
    ) -> Result<Vec<Pairing>, StoreError>;

    async fn lock_device(&self, id: Uuid) -> Result<Option<Box<dyn DeviceUnit>>, StoreError>;
}

/// A code display as the import writes it.
#[derive(Debug, Clone)]
pub struct ImportedCodeDisplay {
    pub serial: String,
    pub seed_sealed: Vec<u8>,
    pub seed_check: [u8; 32],
    pub imported_at: Timestamp,
}

/// What became of one imported token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported,
    /// The same serial with the same seed was imported before (imports are idempotent).
    AlreadyPresent,
    /// The serial exists with another seed: refused.
    SerialConflict,
}

/// A code display loaded for change (row-locked).
#[async_trait]
pub trait CodeDisplayUnit: Send {
    fn code_display(&self) -> &CodeDisplay;
    fn seed_sealed(&self) -> &[u8];

    /// Active code displays of an identity, read inside the unit.
    async fn active_of(&mut self, identity_id: Uuid) -> Result<Vec<CodeDisplay>, StoreError>;

    /// Saves the display (state, TOTP state, lockout), optionally the identity's password
    /// hash (a new password starts with a clean lockout), and the effects; commits.
    async fn save(
        self: Box<Self>,
        display: &CodeDisplay,
        password: Option<(Uuid, &str)>,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait CodeDisplayStore: Send + Sync {
    /// Imports a batch in one transaction with its audit entry; idempotent per serial.
    async fn import_code_displays(
        &self,
        batch: &[ImportedCodeDisplay],
        audit: &AuditDraft,
    ) -> Result<Vec<ImportOutcome>, StoreError>;

    async fn code_display(&self, serial: &str) -> Result<Option<CodeDisplay>, StoreError>;

    async fn code_displays_of(&self, identity_id: Uuid) -> Result<Vec<CodeDisplay>, StoreError>;

    async fn lock_code_display(
        &self,
        serial: &str,
    ) -> Result<Option<Box<dyn CodeDisplayUnit>>, StoreError>;

    /// The identity's active code display, locked.
    async fn lock_active_code_display_of(
        &self,
        identity_id: Uuid,
    ) -> Result<Option<Box<dyn CodeDisplayUnit>>, StoreError>;

    /// Revokes the identity's code display; `NotFound` if it is not theirs or not active.
    async fn revoke_code_display(
        &self,
        serial: &str,
        identity_id: Uuid,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// The identity's password hash (PHC string), if one is set.
    async fn password_of(&self, identity_id: Uuid) -> Result<Option<String>, StoreError>;
}

#[async_trait]
pub trait ChipStore: Send + Sync {
    /// Stores a WebAuthn ceremony in progress.
    async fn save_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError>;

    /// Takes a ceremony out (single use): a second take finds nothing.
    async fn take_ceremony(&self, id: Uuid) -> Result<Option<Ceremony>, StoreError>;

    /// Registers a chip (and the password set with it, which starts with a clean
    /// lockout); refused with `Conflict("chip")` if the identity already has an active chip.
    async fn add_chip(
        &self,
        chip: &Chip,
        password_phc: Option<&str>,
        effects: Effects,
    ) -> Result<(), StoreError>;

    async fn chips_of(&self, identity_id: Uuid) -> Result<Vec<Chip>, StoreError>;

    /// Stores a chip's updated credential (signature counter) after a use.
    async fn chip_used(&self, id: Uuid, credential: &str, at: Timestamp) -> Result<(), StoreError>;

    /// Revokes one of the identity's chips; `NotFound` if it is not theirs or not active.
    async fn revoke_chip(
        &self,
        id: Uuid,
        identity_id: Uuid,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;
}

/// One notification channel loaded for change (row-locked).
#[async_trait]
pub trait ChannelUnit: Send {
    fn choice(&self) -> &ChannelChoice;

    /// The identity's other channels, read inside the unit.
    async fn others(&mut self) -> Result<Vec<ChannelChoice>, StoreError>;

    /// Saves the channel (confirmation state) and the effects; commits.
    async fn save(
        self: Box<Self>,
        choice: &ChannelChoice,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;

    /// Removes the channel and writes the effects; commits.
    async fn remove(self: Box<Self>, at: Timestamp, effects: Effects) -> Result<(), StoreError>;
}

#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// The identity's channels in their order.
    async fn channel_choices(&self, identity_id: Uuid) -> Result<Vec<ChannelChoice>, StoreError>;

    /// Adds a channel (unconfirmed, with its confirmation code) and the effects (the
    /// message carrying the code); `Conflict("channel")` if it is already registered.
    async fn add_channel(&self, choice: &ChannelChoice, effects: Effects)
    -> Result<(), StoreError>;

    async fn lock_channel(&self, id: Uuid) -> Result<Option<Box<dyn ChannelUnit>>, StoreError>;

    /// Puts the identity's channels in the given order (every id exactly once).
    async fn reorder_channels(
        &self,
        identity_id: Uuid,
        order: &[Uuid],
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;

    async fn set_notify_every_use(
        &self,
        identity_id: Uuid,
        enabled: bool,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError>;

    /// Replaces the key set (keys not in `keys` are deleted), with its audit entry.
    async fn replace_signing_keys(
        &self,
        keys: &[SigningKey],
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<(), StoreError>;
}

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

/// An identity's password loaded for change (row-locked only for the short transaction:
/// Argon2 runs between two units, see `PasswordGuard`).
#[async_trait]
pub trait PasswordUnit: Send {
    fn guard(&self) -> &PasswordGuard;
    fn phc(&self) -> &str;

    /// Saves the lockout state and the effects; commits.
    async fn save(
        self: Box<Self>,
        guard: &PasswordGuard,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait PasswordStore: Send + Sync {
    /// The identity's password with its lockout state, locked; `None` without a password.
    async fn lock_password(
        &self,
        identity_id: Uuid,
    ) -> Result<Option<Box<dyn PasswordUnit>>, StoreError>;
}

/// A person's answer to a request, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAnswer {
    pub request_id: Uuid,
    pub state: sesam_domain::auth_request::AuthRequestState,
    pub signature: Vec<u8>,
    pub signed_bytes: Vec<u8>,
    pub not_me: bool,
    pub at: Timestamp,
}

/// How starting a request went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// Stored; these older pending requests of the person were evicted to make room.
    Started { evicted: Vec<Uuid> },
    /// The subject already started the most requests allowed from this source, or the
    /// source the most requests for anyone.
    TooMany,
    /// This browser asked this subject before and was reported with "this wasn't me".
    BrowserReported,
}

/// The limits a start is checked against (the numbers are the domain's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartLimits {
    pub max_pending: i64,
    pub max_started: i64,
    /// Requests from one source for anyone.
    pub max_per_source: i64,
    /// The counting window's length: requests are counted per fixed window (a counter
    /// per source and window), so checking a limit costs the same however busy a source is.
    pub window_seconds: i64,
    /// Reports of "this wasn't me" since then block the reported browser.
    pub reported_since: Timestamp,
}

#[async_trait]
pub trait AuthRequestStore: Send + Sync {
    /// Stores a new request under `subject`, in one transaction with the limits: more than
    /// `max_started` for the subject from this source, or `max_per_source` from it, in the
    /// current window are refused (and not counted); pending requests of
    /// the subject beyond `max_pending - 1` are evicted, oldest first. The domain decides
    /// (`rate_limit::{RateWindow, WindowLimit, PendingCap}`); the store applies its rules
    /// to the rows it locks.
    async fn start_auth_request(
        &self,
        request: &AuthRequest,
        subject: &str,
        limits: StartLimits,
        effects: Effects,
    ) -> Result<StartOutcome, StoreError>;

    async fn auth_request(&self, id: Uuid) -> Result<Option<AuthRequest>, StoreError>;

    /// A back-channel request by the keyed hash of its `auth_req_id`.
    async fn auth_request_by_ciba(
        &self,
        handle_hash: &[u8; 32],
    ) -> Result<Option<AuthRequest>, StoreError>;

    /// Records a poll; returns the previous poll's time (for `slow_down`).
    async fn ciba_polled(&self, id: Uuid, now: Timestamp) -> Result<Option<Timestamp>, StoreError>;

    /// Marks an approved back-channel request's tokens collected; `false` if they were.
    async fn redeem_ciba(&self, id: Uuid, now: Timestamp) -> Result<bool, StoreError>;

    /// The identity's newest requests, any state, newest first (the activity log).
    async fn auth_requests_of(
        &self,
        identity_id: Uuid,
        limit: i64,
    ) -> Result<Vec<AuthRequest>, StoreError>;

    /// The identity's requests that still wait for an answer, oldest first.
    async fn pending_auth_requests(
        &self,
        identity_id: Uuid,
        now: Timestamp,
    ) -> Result<Vec<AuthRequest>, StoreError>;
}
