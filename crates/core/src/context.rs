//! The running system's parts, wired once: store, keys, clock and randomness.

use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::Arc;

use sesam_domain::{AuditKey, Clock, OsRandom, Random, SecretKeys, SystemClock};
use sesam_store::{Location, Store};

use crate::error::AppError;
use crate::limits::{PairingLimits, RequestLimits};
use crate::master_key::{self, KeySource};

/// What `Sesam::open` needs from the configuration.
pub struct OpenSettings<'a> {
    /// The data directory, when the database or the master key lives in it.
    pub create_data_dir: Option<&'a Path>,
    pub master_key: KeySource,
    pub database: &'a Location,
    /// PostgreSQL's timeouts (unused for SQLite).
    pub database_timeouts: sesam_store::postgres::Timeouts,
    pub public_url: &'a url::Url,
    pub request_limits: RequestLimits,
    pub pairing_limits: PairingLimits,
}

/// The application: cheap to clone (one shared pointer), because every HTTP request and
/// every spawned task takes its own handle.
#[derive(Clone)]
pub struct Sesam(Arc<SesamParts>);

impl std::ops::Deref for Sesam {
    type Target = SesamParts;
    fn deref(&self) -> &SesamParts {
        &self.0
    }
}

impl Sesam {
    /// The parts to change while the application is being set up (`with_…`); a handle
    /// cloned before keeps what it had.
    pub(crate) fn parts_mut(&mut self) -> &mut SesamParts {
        Arc::make_mut(&mut self.0)
    }
}

/// What [`Sesam`] holds.
#[doc(hidden)]
#[derive(Clone)]
pub struct SesamParts {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keys: Arc<SecretKeys>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) random: Arc<dyn Random>,
    /// Argon2id for passwords, on a bounded pool.
    pub(crate) passwords: Arc<crate::password_pool::PasswordPool>,
    /// The WebAuthn relying party for chips; `None` when the public URL has no host name.
    pub(crate) webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// The public URL, kept to build the relying party again with the app's origin.
    pub(crate) public_url: Option<Arc<url::Url>>,
    /// Wakes the outbox dispatcher after a flow wrote messages (here, or on any node
    /// through the change feed).
    pub(crate) outbox_wake: Arc<tokio::sync::Notify>,
    /// The OpenID Connect issuer: the public URL without a trailing slash.
    pub(crate) issuer: Arc<str>,
    /// Whether cookies get `Secure` (the public URL is https).
    pub(crate) secure_cookies: bool,
    /// The opened active token-signing key, kept until another key becomes active.
    pub(crate) signer_cache: Arc<std::sync::RwLock<Option<Arc<sesam_oidc::id_token::TokenSigner>>>>,
    pub(crate) request_limits: crate::limits::RequestLimits,
    pub(crate) pairing_limits: crate::limits::PairingLimits,
    /// How long finished messages are kept (the activity page and the app's inbox show
    /// them until then).
    pub(crate) messages_kept_days: i64,
    /// Short-lived copies of SP records and signing keys (`services/read_cache.rs`).
    pub(crate) read_cache: Arc<crate::services::read_cache::ReadCache>,
    /// Wakes the app long-polls of a person when something starts waiting for them.
    pub(crate) pending_signals: Arc<crate::services::app_requests::PendingSignals>,
    /// Which web push endpoints apps may register.
    pub(crate) push_policy: sesam_domain::web_push::EndpointPolicy,
    /// The opened VAPID key, once read (`services/push.rs`). It never changes once made,
    /// so it needs no signal.
    pub(crate) vapid_cache: Arc<std::sync::OnceLock<Arc<p256::ecdsa::SigningKey>>>,
    /// Resyncs of the change feed seen (`services/signals.rs`).
    pub(crate) resyncs: Arc<std::sync::atomic::AtomicU64>,
    /// The node was told to stop: `/readyz` says so (`services/upkeep.rs`).
    pub(crate) draining: Arc<std::sync::atomic::AtomicBool>,
    /// How often the outbox dispatcher looks without a wake-up.
    pub(crate) outbox_poll: std::time::Duration,
}

/// How many days finished messages are kept unless configured otherwise.
pub const DEFAULT_MESSAGES_KEPT_DAYS: i64 = 180;

/// The WebAuthn relying party: its ID the public URL's host name, its origins the public
/// URL and, when set, the web app's own.
fn relying_party(public: &url::Url, app: Option<&url::Url>) -> Option<Arc<webauthn_rs::Webauthn>> {
    let host = public.domain()?;
    let mut builder = webauthn_rs::WebauthnBuilder::new(host, public)
        .ok()?
        .rp_name("sesam")
        .allow_any_port(true);
    if let Some(app) = app {
        builder = builder.append_allowed_origin(app);
    }
    builder.build().ok().map(Arc::new)
}

impl Sesam {
    /// Opens the data the settings point at, creating a fresh data directory (0700) and
    /// master key on first use.
    pub async fn open(settings: OpenSettings<'_>) -> Result<Self, AppError> {
        if let Some(dir) = settings.create_data_dir
            && !dir.exists()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| AppError::Io {
                    what: format!("cannot create the data directory {}", dir.display()),
                    source,
                })?;
        }
        let loaded = master_key::load(settings.master_key)?;
        let store = sesam_store::open_with(
            settings.database,
            AuditKey::from(&loaded.keys()),
            settings.database_timeouts,
        )
        .await?;
        let keys = master_key::confirm(loaded, &*store).await?;
        let sesam = Self::assemble(store, keys, Arc::new(SystemClock), Arc::new(OsRandom))
            .with_public_url(settings.public_url);
        Ok(sesam.with_limits(settings.request_limits, settings.pairing_limits))
    }

    /// Sets up what depends on the public URL (the WebAuthn relying party: its ID is the
    /// URL's host name, its origin the URL).
    pub fn with_public_url(mut self, url: &url::Url) -> Self {
        let parts = self.parts_mut();
        parts.issuer = Arc::from(url.as_str().trim_end_matches('/'));
        parts.secure_cookies = url.scheme() == "https";
        parts.public_url = Some(Arc::new(url.clone()));
        parts.webauthn = relying_party(url, None);
        if self.webauthn.is_none() {
            tracing::warn!(public_url = %url, "the public URL has no host name: chips (security keys) cannot be used");
        }
        self
    }

    /// The web app's own origin (`app_public_url`): chips are registered there, so it is
    /// a WebAuthn origin too. The relying party ID stays the public URL's host name, so a
    /// chip registered in the app works on the login pages; the browser allows that only
    /// when the app's host is that name or below it (`app.login.example.dk` for
    /// `login.example.dk`), else registering a chip from the app is refused.
    pub fn with_app_url(mut self, app: Option<&url::Url>) -> Self {
        let Some(public) = self.public_url.clone() else {
            return self;
        };
        if let Some(app) = app {
            let (Some(rp), Some(host)) = (public.domain(), app.domain()) else {
                return self;
            };
            if host != rp && !host.ends_with(&format!(".{rp}")) {
                tracing::warn!(app_public_url = %app, public_url = %public, "the web app's host is not the public URL's host name or below it: chips cannot be registered from the web app");
            }
        }
        self.parts_mut().webauthn = relying_party(&public, app);
        self
    }

    /// How many login requests and pairings may be started per person and per address.
    pub fn with_limits(mut self, requests: RequestLimits, pairings: PairingLimits) -> Self {
        let parts = self.parts_mut();
        parts.request_limits = requests;
        parts.pairing_limits = pairings;
        self
    }

    /// How many days finished messages are kept before the sweep removes them.
    pub fn with_messages_kept_days(mut self, days: i64) -> Self {
        self.parts_mut().messages_kept_days = days;
        self
    }

    /// The OpenID Connect issuer: the public URL without a trailing slash.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether cookies get `Secure` (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }

    /// The clock every rule of this system reads (per-address limits share it).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    pub fn assemble(
        store: Arc<dyn Store>,
        keys: SecretKeys,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
        Self(Arc::new(SesamParts {
            store,
            keys: Arc::new(keys),
            clock,
            random,
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            passwords: Arc::new(crate::password_pool::PasswordPool::default_for_machine()),
            webauthn: None,
            public_url: None,
            issuer: Arc::from("http://localhost:8080"),
            secure_cookies: false,
            signer_cache: Arc::default(),
            request_limits: crate::limits::RequestLimits::default(),
            pairing_limits: crate::limits::PairingLimits::default(),
            messages_kept_days: DEFAULT_MESSAGES_KEPT_DAYS,
            read_cache: Arc::default(),
            pending_signals: Arc::default(),
            push_policy: sesam_domain::web_push::EndpointPolicy::default(),
            vapid_cache: Arc::default(),
            resyncs: Arc::default(),
            draining: Arc::default(),
            outbox_poll: sesam_notify::DEFAULT_POLL,
        }))
        .follow_signals()
    }
}
