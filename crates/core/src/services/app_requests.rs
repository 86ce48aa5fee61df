//! What waits for the person in their app (logins, approvals, pairings), the long-poll that
//! waits for it, and the app's answer to one of them, whichever kind it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sesam_api as api;
use sesam_domain::app_protocol::b64;
use sesam_domain::auth_request::Decision;
use sesam_domain::authorization::LoginMethod;
use sesam_domain::device::Device;
use uuid::Uuid;

use super::device_requests::json_body as body;
use crate::context::Sesam;
use crate::error::AppError;

/// How often a long-poll looks again without a wake-up. A request started on any node
/// wakes it through the change feed (`services/signals.rs`: LISTEN/NOTIFY on
/// PostgreSQL), so this re-check is only the fallback for a lost signal.
pub const DEFAULT_RECHECK: Duration = Duration::from_secs(10);

/// Wake-ups for the long-polls of each person's apps, kept only while someone waits: an
/// entry is removed when its last waiter leaves, so the map holds at most one entry per
/// person with a long-poll open.
#[derive(Debug)]
pub struct PendingSignals {
    waiting: Mutex<HashMap<Uuid, Arc<tokio::sync::Notify>>>,
    /// How often a long-poll looks again without a wake-up (the fallback).
    recheck: Mutex<Duration>,
    /// The node is shutting down: long-polls answer at once, so the apps poll again (on
    /// another node).
    draining: std::sync::atomic::AtomicBool,
}

impl Default for PendingSignals {
    fn default() -> Self {
        Self {
            waiting: Mutex::default(),
            recheck: Mutex::new(DEFAULT_RECHECK),
            draining: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// One long-poll's hold on its person's wake-up; leaving removes the entry if it was the
/// last.
struct Waiter<'a> {
    signals: &'a PendingSignals,
    identity_id: Uuid,
    notify: Arc<tokio::sync::Notify>,
}

impl PendingSignals {
    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<tokio::sync::Notify>>> {
        // The map holds no invariant a panic elsewhere could break.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_for(&self, identity_id: Uuid) -> Waiter<'_> {
        let notify = self.waiting().entry(identity_id).or_default().clone();
        Waiter {
            signals: self,
            identity_id,
            notify,
        }
    }

    /// Wakes every long-poll of the person's apps on this node.
    pub fn signal(&self, identity_id: Uuid) {
        if let Some(notify) = self.waiting().get(&identity_id) {
            notify.notify_waiters();
        }
    }

    /// Wakes every long-poll on this node (signals may have been missed).
    pub fn signal_all(&self) {
        for notify in self.waiting().values() {
            notify.notify_waiters();
        }
    }

    /// Answers every open long-poll now and every later one at once.
    pub fn drain(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.signal_all();
    }

    fn draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn recheck(&self) -> Duration {
        *self.recheck.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many people have a long-poll open (for tests of the bound).
    pub fn len(&self) -> usize {
        self.waiting().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut waiting = self.signals.waiting();
        // Under the lock no one can take a new hold: the map's and this one are the last.
        if Arc::strong_count(&self.notify) <= 2 {
            waiting.remove(&self.identity_id);
        }
    }
}

impl Sesam {
    /// Everything waiting for the decision of the person `device` belongs to: their
    /// logins and approvals (with the level an approval in this app gives: the identity's
    /// IAL capped by app with PIN), then the pairings of new apps.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn pending_for_device(&self, device: &Device) -> Result<api::PendingList, AppError> {
        let identity = self.store.identity(device.identity_id).await?;
        let pairings = self
            .pending_pairings_for(device, identity.as_ref().map(|i| i.language))
            .await?;
        let level = identity.map(|i| LoginMethod::App.level_for(i.ial).as_str().to_owned());
        let mut requests: Vec<api::Pending> = self
            .pending_requests(device.identity_id)
            .await?
            .into_iter()
            .map(|r| {
                api::Pending::Login(api::PendingLogin {
                    id: r.id,
                    kind: "approval".into(),
                    client_id: r.client_id,
                    sp_name: r.sp_name,
                    action: r.action.as_str().to_owned(),
                    text: r.text.as_str().to_owned(),
                    binding_required: r.binding_code.is_some(),
                    expires_at: r.expires_at.to_rfc3339(),
                    level: level.clone(),
                })
            })
            .collect();
        requests.extend(pairings.into_iter().map(|a| {
            api::Pending::Pairing(api::PendingPairing {
                id: a.id,
                kind: a.kind.to_owned(),
                text: a.text,
                device_name: a.device_name,
                expires_at: a.expires_at.to_rfc3339(),
                pairing_code_required: true,
                new_device_key: a.new_device_key.as_deref().map(b64),
            })
        }));
        Ok(api::PendingList { requests })
    }

    /// How many people have an app long-poll open on this node (the wake-up registry's
    /// size: it holds no one who does not wait).
    pub fn waiting_long_polls(&self) -> usize {
        self.pending_signals.len()
    }

    /// Sets how often a long-poll looks again without a wake-up (the fallback for a lost
    /// signal; [`DEFAULT_RECHECK`] unless set).
    pub fn with_long_poll_recheck(self, every: Duration) -> Self {
        *self
            .pending_signals
            .recheck
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = every;
        self
    }

    /// The node is shutting down: open long-polls answer now (with what waits, often
    /// nothing: the app polls again, on another node), and later ones do not wait.
    pub fn drain_long_polls(&self) {
        self.pending_signals.drain();
    }

    /// Wakes the long-polls of the person's apps: something new waits for them.
    pub(crate) fn signal_pending(&self, identity_id: Option<Uuid>) {
        if let Some(id) = identity_id {
            self.pending_signals.signal(id);
        }
    }

    /// [`Self::pending_for_device`], held up to `wait` while the list is empty (long-poll):
    /// looked at again when a request or pairing for the person starts on any node (the
    /// change feed), and at the re-check ([`DEFAULT_RECHECK`]) for a lost signal. Answers
    /// at once when something waits, and with the (empty) list when the time is up.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn wait_for_pending(
        &self,
        device: &Device,
        wait: Duration,
    ) -> Result<api::PendingList, AppError> {
        let waiter = self.pending_signals.wait_for(device.identity_id);
        let recheck = self.pending_signals.recheck();
        let deadline = tokio::time::sleep(wait);
        tokio::pin!(deadline);
        loop {
            // Made before reading, so a signal during the read is not missed.
            let woken = waiter.notify.notified();
            let list = self.pending_for_device(device).await?;
            if !list.requests.is_empty()
                || wait.is_zero()
                || deadline.is_elapsed()
                || self.pending_signals.draining()
            {
                return Ok(list);
            }
            tokio::select! {
                () = &mut deadline => {}
                () = woken => {}
                () = tokio::time::sleep(recheck) => {}
            }
        }
    }

    /// The app approves request `id`: a login or approval with a signed answer, or a
    /// pairing with the PIN proof and the code the new app shows. `body` is read as the
    /// kind `id` names.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn approve_from_app(
        &self,
        device_id: Uuid,
        id: Uuid,
        answer: &[u8],
    ) -> Result<api::Approved, AppError> {
        if let Some(r) = self
            .answer_if_login_request(device_id, id, Decision::Approve, answer)
            .await?
        {
            return Ok(api::Approved::Login(api::LoginApproved {
                approved: id,
                client_id: r.client_id,
                sp_name: r.sp_name,
            }));
        }
        let answer: api::PairingApproval = body(answer)?;
        let d = self
            .approve_pairing(
                device_id,
                id,
                answer.pairing_code.as_deref(),
                &answer.pin_proof,
            )
            .await?;
        Ok(api::Approved::Pairing(api::PairingApproved {
            approved: id,
            device_id: d.id,
            device_name: d.name.as_str().to_owned(),
        }))
    }

    /// The app declines request `id`: a login or approval with a signed answer (`not_me`
    /// adds advice to block the identity), or a pairing (no body needed).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn reject_from_app(
        &self,
        device_id: Uuid,
        id: Uuid,
        answer: &[u8],
    ) -> Result<api::Rejected, AppError> {
        if let Some(r) = self
            .answer_if_login_request(device_id, id, Decision::Reject, answer)
            .await?
        {
            return Ok(api::Rejected::Login(api::LoginRejected {
                rejected: id,
                not_me: r.not_me,
                advice: r.not_me.then(|| {
                    "If you did not start this, block your sesam now: in the app (with the PIN), on My sesam (/min-sesam) or through sesam support".to_owned()
                }),
            }));
        }
        self.reject_pairing(device_id, id).await?;
        Ok(api::Rejected::Pairing(api::PairingRejected {
            rejected: id,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signal_wakes_the_waiters_and_the_entry_leaves_with_the_last() {
        let signals = PendingSignals::default();
        let anna = Uuid::now_v7();
        let first = signals.wait_for(anna);
        let second = signals.wait_for(anna);
        let other = signals.wait_for(Uuid::now_v7());
        assert_eq!(signals.len(), 2);
        let woken = first.notify.notified();
        signals.signal(anna);
        tokio::time::timeout(Duration::from_secs(5), woken)
            .await
            .expect("the signal wakes a waiter made before it");
        drop(first);
        assert_eq!(
            signals.len(),
            2,
            "the second waiter still holds anna's entry"
        );
        drop(second);
        assert_eq!(signals.len(), 1);
        drop(other);
        assert!(signals.is_empty());
        // A signal for someone without a waiter is dropped and leaves nothing behind.
        signals.signal(anna);
        assert!(signals.is_empty());
    }
}
