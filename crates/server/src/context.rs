//! The running system's parts, wired once: store, keys, clock and randomness.

use std::os::unix::fs::DirBuilderExt;
use std::sync::Arc;

use sesam_domain::{AuditKey, Clock, OsRandom, Random, SecretKeys, SystemClock};
use sesam_store::Store;

use crate::config::Config;
use crate::error::AppError;
use crate::master_key;

#[derive(Clone)]
pub struct Sesam {
    pub store: Arc<dyn Store>,
    pub keys: Arc<SecretKeys>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    /// Argon2id for passwords, on a bounded pool.
    pub passwords: Arc<crate::password_pool::PasswordPool>,
    /// The WebAuthn relying party for chips; `None` when the public URL has no host name.
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// Wakes the outbox dispatcher after a flow wrote messages.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// The OpenID Connect issuer: the public URL without a trailing slash.
    pub issuer: Arc<str>,
    /// Whether cookies get `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// The opened active token-signing key, kept until another key becomes active.
    pub signer_cache: Arc<std::sync::RwLock<Option<Arc<sesam_oidc::id_token::TokenSigner>>>>,
    pub request_limits: crate::config::RequestLimits,
    pub pairing_limits: crate::config::PairingLimits,
    /// Short-lived copies of SP records and signing keys (`services/read_cache.rs`).
    pub read_cache: Arc<crate::services::read_cache::ReadCache>,
}

impl Sesam {
    /// Opens the data the configuration points at, creating a fresh data directory (0700)
    /// and master key on first use.
    pub async fn open(config: &Config) -> Result<Self, AppError> {
        if config.uses_data_dir() && !config.data_dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&config.data_dir)
                .map_err(|e| {
                    AppError::Io(format!(
                        "cannot create the data directory {}: {e}",
                        config.data_dir.display()
                    ))
                })?;
        }
        let loaded = master_key::load(config.master_key.clone())?;
        let store = sesam_store::open(&config.database, AuditKey::from(&loaded.keys())).await?;
        let keys = master_key::confirm(loaded, &*store).await?;
        let mut sesam = Self::assemble(store, keys, Arc::new(SystemClock), Arc::new(OsRandom))
            .with_public_url(&config.public_url);
        sesam.request_limits = config.request_limits;
        sesam.pairing_limits = config.pairing_limits;
        Ok(sesam)
    }

    /// Sets up what depends on the public URL (the WebAuthn relying party: its ID is the
    /// URL's host name, its origin the URL).
    pub fn with_public_url(mut self, url: &url::Url) -> Self {
        self.issuer = Arc::from(url.as_str().trim_end_matches('/'));
        self.secure_cookies = url.scheme() == "https";
        self.webauthn = url.domain().and_then(|host| {
            webauthn_rs::WebauthnBuilder::new(host, url)
                .ok()?
                .rp_name("sesam")
                .allow_any_port(true)
                .build()
                .ok()
                .map(Arc::new)
        });
        if self.webauthn.is_none() {
            tracing::warn!(public_url = %url, "the public URL has no host name: chips (security keys) cannot be used");
        }
        self
    }

    pub fn assemble(
        store: Arc<dyn Store>,
        keys: SecretKeys,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
        Self {
            store,
            keys: Arc::new(keys),
            clock,
            random,
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            passwords: Arc::new(crate::password_pool::PasswordPool::default_for_machine()),
            webauthn: None,
            issuer: Arc::from("http://localhost:8080"),
            secure_cookies: false,
            signer_cache: Arc::default(),
            request_limits: crate::config::RequestLimits::default(),
            pairing_limits: crate::config::PairingLimits::default(),
            read_cache: Arc::default(),
        }
    }
}
