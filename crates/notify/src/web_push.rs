//! Web push (RFC 8030) to the apps' push services: each message encrypted to the
//! subscription's keys (RFC 8291, `aes128gcm`) and signed for with the deployment's VAPID
//! key (RFC 8292). The endpoint is whatever URL the browser gave, so the sender refuses to
//! connect to internal addresses (checked again after name resolution) unless local
//! endpoints are allowed, follows no redirect and gives up after its timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use p256::SecretKey;
use p256::ecdsa::SigningKey;
use sesam_domain::random::random_bytes;
use sesam_domain::web_push::{self, EndpointPolicy, TTL_SECONDS, VAPID_LIFETIME_SECONDS};
use sesam_domain::{OsRandom, Timestamp};
use sesam_store::PushStore;
use uuid::Uuid;

use crate::sms::SendError;

/// Sends pushes for the outbox.
#[derive(Clone)]
pub struct WebPush {
    client: reqwest::Client,
    key: Arc<SigningKey>,
    contact: String,
    policy: EndpointPolicy,
    store: Arc<dyn PushStore>,
}

impl std::fmt::Debug for WebPush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebPush")
            .field("contact", &self.contact)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Resolves host names and keeps only the addresses the policy allows, so a push service
/// host name cannot lead the server to an internal address.
struct FilteringResolver {
    policy: EndpointPolicy,
}

impl reqwest::dns::Resolve for FilteringResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.allows_address(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(
                    format!("the push service's host name has no public address ({host})").into(),
                );
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

impl WebPush {
    pub fn new(
        key: SigningKey,
        contact: String,
        policy: EndpointPolicy,
        timeout: Duration,
        store: Arc<dyn PushStore>,
    ) -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(FilteringResolver { policy }))
            .build()
            .map_err(|e| format!("cannot build the web push client: {e}"))?;
        Ok(Self {
            client,
            key: Arc::new(key),
            contact,
            policy,
            store,
        })
    }

    /// The public key apps subscribe with (`applicationServerKey`).
    pub fn public_key(&self) -> String {
        web_push::vapid_public_key(&self.key)
    }

    /// Sends `payload` to the subscription with id `destination`. A subscription that is
    /// gone (its device revoked, or the push service answered 404/410 before) ends the
    /// message; a 404/410 now removes it.
    pub async fn send(
        &self,
        destination: &str,
        payload: &[u8],
        now: Timestamp,
    ) -> Result<(), SendError> {
        let id = Uuid::parse_str(destination)
            .map_err(|_| SendError::Permanent("not a push subscription id".into()))?;
        let subscription = self
            .store
            .push_subscription(id)
            .await
            .map_err(|e| SendError::Temporary(format!("cannot read the subscription: {e}")))?
            .ok_or_else(|| SendError::Permanent("the subscription was removed".into()))?;
        let endpoint = self.policy.check(&subscription.endpoint).map_err(|e| {
            SendError::Permanent(format!("the subscription's endpoint is refused: {e}"))
        })?;
        let body = encrypt(payload, &subscription.p256dh, &subscription.auth)?;
        let authorization = web_push::vapid_authorization(
            &self.key,
            &endpoint,
            now.plus_seconds(VAPID_LIFETIME_SECONDS),
            &self.contact,
        );
        let response = self
            .client
            .post(endpoint)
            .header("authorization", authorization)
            .header("ttl", TTL_SECONDS.to_string())
            .header("urgency", "high")
            .header("topic", "sesam-pending")
            .header("content-encoding", "aes128gcm")
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    SendError::Temporary("the push service did not answer in time".into())
                } else {
                    // Never the URL: the endpoint is the subscription's capability.
                    SendError::Temporary(format!(
                        "cannot reach the push service: {}",
                        without_url(&e)
                    ))
                }
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let reason = format!("the push service answered {status}");
        match status.as_u16() {
            404 | 410 => {
                let removed = self.store.forget_push_subscription(id).await;
                tracing::info!(subscription = %id, status = status.as_u16(), removed = ?removed, "web push: the push service no longer knows the subscription; removed");
                Err(SendError::Permanent(format!(
                    "{reason}: the subscription is gone and was removed"
                )))
            }
            429 => Err(SendError::Temporary(reason)),
            _ if status.is_server_error() => Err(SendError::Temporary(reason)),
            _ => Err(SendError::Permanent(reason)),
        }
    }
}

/// Encrypts with a fresh key pair and salt.
fn encrypt(payload: &[u8], p256dh: &[u8], auth: &[u8]) -> Result<Vec<u8>, SendError> {
    let ephemeral = loop {
        let bytes: [u8; 32] = random_bytes(&OsRandom);
        if let Ok(k) = SecretKey::from_slice(&bytes) {
            break k;
        }
    };
    let salt: [u8; 16] = random_bytes(&OsRandom);
    web_push::encrypt(payload, p256dh, auth, &ephemeral, &salt)
        .map_err(|e| SendError::Permanent(format!("cannot encrypt the push: {e}")))
}

fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<endpoint>");
    }
    s
}
