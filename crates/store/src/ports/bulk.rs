//! Bulk enrolment and activation (imports, benchmark and test populations).

use async_trait::async_trait;
use sesam_domain::device::Device;
use sesam_domain::{ActivationGrant, AuditDraft};

use super::NewIdentity;
use crate::StoreError;

/// One person of a bulk import: what [`IdentityStore::enrol`](crate::IdentityStore::enrol)
/// writes for one enrolment.
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

    /// People per [`BulkStore::enrol_many`] call that suit the backend best.
    fn enrol_batch_size(&self) -> usize {
        10_000
    }

    /// [`BulkStore::enrol_many`] calls one import may run at once. Calls at once that hold
    /// the same person (two imports of one file) are safe: the store's unique indexes and
    /// its retry make one of them enrol that person and the other see them enrolled.
    fn enrol_batches_at_once(&self) -> usize {
        1
    }

    /// Activates every item or none: each grant must still be unused and each identity
    /// still pending, else `Conflict`.
    async fn activate_apps_many(&self, items: &[BulkAppActivation]) -> Result<(), StoreError>;
}
