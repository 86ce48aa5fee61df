//! Requests waiting for the person's app, with their start limits.

use async_trait::async_trait;
use sesam_domain::Timestamp;
use sesam_domain::auth_request::AuthRequest;
use uuid::Uuid;

use super::Effects;
use crate::StoreError;

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
