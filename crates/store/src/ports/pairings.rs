//! An active app loaded for change, and pairings of further apps.

use async_trait::async_trait;
use sesam_domain::auth_request::AuthRequest;
use sesam_domain::device::{Device, DeviceName};
use sesam_domain::pairing::Pairing;
use sesam_domain::{Identity, Timestamp};
use uuid::Uuid;

use super::{AuthAnswer, Effects};
use crate::StoreError;

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
