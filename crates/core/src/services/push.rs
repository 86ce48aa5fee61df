//! Web push for the apps: the deployment's VAPID key, the devices' subscriptions, and the
//! pushes queued when something starts waiting for a person.

use std::sync::Arc;

use p256::ecdsa::SigningKey;
use serde_json::json;
use sesam_api as api;
use sesam_domain::device::Device;
use sesam_domain::notification::{Channel, Language, OutgoingMessage};
use sesam_domain::random::random_bytes;
use sesam_domain::web_push::{self, EndpointPolicy, PushSubscription};
use sesam_domain::{AuditDraft, DomainError};
use sesam_store::QueuedMessage;
use uuid::Uuid;
use zeroize::Zeroize;

use crate::context::Sesam;
use crate::error::AppError;

const SEAL_PURPOSE: &str = "web-push-vapid-key";
const META_KEY: &str = "web_push_vapid_key";

impl Sesam {
    /// Which push endpoints apps may register (and the sender may reach).
    pub fn with_push_policy(mut self, policy: EndpointPolicy) -> Self {
        self.parts_mut().push_policy = policy;
        self
    }

    pub fn push_policy(&self) -> EndpointPolicy {
        self.push_policy
    }

    /// The subscriptions, for the push sender (it reads them and forgets gone ones).
    pub fn push_store(&self) -> Arc<dyn sesam_store::PushStore> {
        self.store.clone()
    }

    /// The deployment's VAPID key (RFC 8292): created at the first call, kept sealed under
    /// the master key, the same on every node (the first node to store it wins).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn vapid_key(&self) -> Result<Arc<SigningKey>, AppError> {
        if let Some(k) = self.vapid_cache.get() {
            return Ok(k.clone());
        }
        let sealed = match self.store.meta_get(META_KEY).await? {
            Some(sealed) => sealed,
            None => {
                let fresh = loop {
                    let mut m: [u8; 32] = random_bytes(&*self.random);
                    let key = SigningKey::from_slice(&m);
                    m.zeroize();
                    if let Ok(k) = key {
                        break k;
                    }
                };
                let mut raw = fresh.to_bytes().to_vec();
                let sealed = self.keys.seal_data(SEAL_PURPOSE, &raw, &*self.random);
                raw.zeroize();
                let stored = self.store.meta_get_or_init(META_KEY, &sealed).await?;
                if stored == sealed {
                    tracing::info!("web push: a VAPID key was created for this deployment");
                }
                stored
            }
        };
        let mut raw = self
            .keys
            .open_data(SEAL_PURPOSE, &sealed)
            .map_err(DomainError::from)?;
        let key = SigningKey::from_slice(&raw)
            .map_err(|_| AppError::Config("the stored web push key is not a P-256 key".into()));
        raw.zeroize();
        let key = Arc::new(key?);
        Ok(self.vapid_cache.get_or_init(|| key).clone())
    }

    /// The VAPID public key apps subscribe with (`applicationServerKey`, base64url).
    pub async fn push_public_key(&self) -> Result<String, AppError> {
        Ok(web_push::vapid_public_key(&*self.vapid_key().await?))
    }

    /// Registers the push subscription of the device that signed the request, replacing
    /// the one it had.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn subscribe_push(
        &self,
        device: &Device,
        body: &api::PushSubscribe,
    ) -> Result<api::PushState, AppError> {
        let endpoint = self
            .push_policy
            .check(body.endpoint.trim())
            .map_err(DomainError::from)?;
        let (p256dh, auth) =
            web_push::parse_keys(&body.keys.p256dh, &body.keys.auth).map_err(DomainError::from)?;
        let subscription = PushSubscription {
            id: Uuid::now_v7(),
            device_id: device.id,
            identity_id: device.identity_id,
            endpoint: endpoint.to_string(),
            p256dh,
            auth,
            created_at: self.clock.now(),
        };
        // The push service's host only: the URL itself is the subscription's capability.
        let audit = AuditDraft::new(format!("device:{}", device.id), "push.subscribed")
            .subject(device.identity_id.to_string())
            .details(json!({ "device": device.id, "push_service": endpoint.host_str() }));
        self.store
            .save_push_subscription(&subscription, &audit.into())
            .await?;
        Ok(api::PushState { subscribed: true })
    }

    /// Removes the push subscription of the device that signed the request.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn unsubscribe_push(&self, device: &Device) -> Result<api::PushState, AppError> {
        let audit = AuditDraft::new(format!("device:{}", device.id), "push.unsubscribed")
            .subject(device.identity_id.to_string())
            .details(json!({ "device": device.id }));
        self.store
            .remove_push_subscriptions(device.id, self.clock.now(), &audit.into())
            .await?;
        Ok(api::PushState { subscribed: false })
    }

    /// One push per subscribed device of the person, to queue with whatever made a
    /// request or pairing wait for them. Says nothing but that something waits.
    pub(crate) async fn push_messages(
        &self,
        identity_id: Option<Uuid>,
    ) -> Result<Vec<QueuedMessage>, AppError> {
        let Some(identity_id) = identity_id else {
            return Ok(Vec::new());
        };
        let subscriptions = self.store.push_subscriptions_of(identity_id).await?;
        let now = self.clock.now();
        let message_id = Uuid::now_v7();
        Ok(subscriptions
            .iter()
            .enumerate()
            .map(|(i, s)| QueuedMessage {
                message: OutgoingMessage {
                    message_id,
                    identity_id: Some(identity_id),
                    event: web_push::EVENT,
                    channel: Channel::Push,
                    destination: s.id.to_string(),
                    text: web_push::PAYLOAD.into(),
                    language: Language::default(),
                    secret: false,
                    delivery: "all",
                    position: i32::try_from(i).unwrap_or(i32::MAX),
                    created_at: now,
                },
                sealed_text: None,
            })
            .collect())
    }
}
