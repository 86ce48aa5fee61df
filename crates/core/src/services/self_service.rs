//! Self-service ("Min sesam"): a person without the app manages their identity in a
//! browser. The site is an ordinary service provider of sesam itself, registered on first
//! use like the demo (its secret sealed in `meta`): it sends the browser through the normal
//! authorization request (`prompt=login`, so every visit is a fresh login with the same
//! pages, lockouts and levels as any SP's) and redeems the code here, server-side, with the
//! token endpoint's own checks (client secret, redirect URI, PKCE, single use). The result
//! is a session of its own, stored server-side with an idle and an absolute timeout.
//!
//! Every change is identity-centric (no device acts): the audit actor is
//! `person:<identity id>`, and each change needs the level the domain says
//! (`SelfServiceAction`); every change notifies as the message catalogue says.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sesam_domain::authorization::Authentication;
use sesam_domain::channels::ChannelChoice;
use sesam_domain::chip::Chip;
use sesam_domain::code_display::CodeDisplay;
use sesam_domain::device::{Device, DeviceState};
use sesam_domain::locale::Locale;
use sesam_domain::lockout::{Failure, Locked};
use sesam_domain::notification::Event;
use sesam_domain::password::Password;
use sesam_domain::password_guard::Refusal as GuardRefusal;
use sesam_domain::self_service::{SelfServiceAction, SelfServiceSession};
use sesam_domain::{AuditDraft, DomainError, Identity, IdentityState, Level};
use sesam_oidc::Params;
use sesam_store::{Effects, StoreError};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Actor;
use super::authorization::bearer_value;
use super::passwords::PasswordCheck;
use super::service_providers::AddServiceProvider;
use crate::context::Sesam;
use crate::error::AppError;

const META_KEY: &str = "self_service.client";
/// What the site's stored client secret is sealed for.
const SEAL: &str = "self-service-client";
/// What a started login's state in the browser is sealed for (apart from the secret, so
/// neither can be presented as the other).
const LOGIN_SEAL: &str = "self-service-login";
/// The path the site lives under.
pub const BASE_PATH: &str = "/min-sesam";
/// How long a started login may take before its state in the browser is refused.
pub const LOGIN_STATE_SECONDS: i64 = 10 * 60;
/// How many uses, requests and messages the activity page lists.
const ACTIVITY_LIMIT: i64 = 200;

/// Why a self-service step did not happen, as the person is told.
#[derive(Debug)]
pub enum SelfServiceError {
    /// No session: none, ended, idle too long or past its absolute end.
    NoSession,
    /// The identity is not active (blocked or revoked): the site is closed to it.
    Blocked,
    /// The login came back without a usable answer (cancelled, another browser's, stale).
    LoginFailed(String),
    /// The login behind the session is below what this needs.
    LevelTooLow { required: Level },
    /// The current password was not right (counted toward the password's lockout).
    WrongPassword,
    /// The password is locked: nothing is checked until the lock ends.
    PasswordLocked,
    /// The person has no password to change.
    NoPassword,
    /// An authenticator or channel that is not this person's (or not active).
    Unknown,
    /// Anything else: a rule of the domain (said in its own words) or a failure.
    Failed(AppError),
}

impl From<AppError> for SelfServiceError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Store(StoreError::NotFound(_))
            | AppError::Invalid(DomainError::Channel(
                sesam_domain::channels::ChannelError::Unknown,
            )) => Self::Unknown,
            other => Self::Failed(other),
        }
    }
}

impl From<StoreError> for SelfServiceError {
    fn from(e: StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl From<DomainError> for SelfServiceError {
    fn from(e: DomainError) -> Self {
        Self::Failed(e.into())
    }
}

/// The site's registration as a service provider.
struct SelfServiceClient {
    client_id: String,
    secret: String,
    redirect_uri: String,
}

#[derive(Serialize, Deserialize)]
struct StoredClient {
    client_id: String,
    secret_sealed: String,
    redirect_uri: String,
}

/// What a started login keeps in the browser (sealed): the PKCE verifier, the `state`,
/// and when it started.
#[derive(Serialize, Deserialize)]
struct PendingLogin {
    verifier: String,
    state: String,
    started_ms: i64,
}

/// A started login: where to send the browser, and the sealed value to keep in its cookie
/// until the login comes back.
#[derive(Debug, Clone)]
pub struct StartedLogin {
    pub location: String,
    pub cookie: String,
}

/// A live session with the person it belongs to.
#[derive(Debug, Clone)]
pub struct SelfService {
    pub session: SelfServiceSession,
    pub identity: Identity,
    /// The CSRF token of this session's forms.
    pub csrf: String,
}

impl SelfService {
    fn actor(&self) -> String {
        Actor::Person(self.identity.id).audit_name()
    }

    fn allow(&self, what: SelfServiceAction) -> Result<(), SelfServiceError> {
        self.session
            .allows(what)
            .map_err(|e| SelfServiceError::LevelTooLow {
                required: e.required,
            })
    }
}

/// One use of the identity: a login (or approval) at a service.
#[derive(Debug, Clone)]
pub struct Use {
    pub at: sesam_domain::Timestamp,
    pub sp_name: String,
    pub action: String,
    pub method: String,
    pub level: String,
}

/// Everything the activity page shows.
#[derive(Debug, Clone)]
pub struct SelfServiceActivity {
    /// Every completed login at a service, newest first.
    pub uses: Vec<Use>,
    /// Requests sent to the app (with the text approved and the result), and every message
    /// with its delivery status.
    pub app: sesam_api::Activity,
}

/// The person's authenticators.
#[derive(Debug, Clone)]
pub struct OwnAuthenticators {
    pub apps: Vec<Device>,
    pub code_displays: Vec<CodeDisplay>,
    pub chips: Vec<Chip>,
}

/// An authenticator the person names to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnAuthenticator {
    App(Uuid),
    CodeDisplay(String),
    Chip(Uuid),
}

impl OwnAuthenticator {
    /// From the form's `kind` and `id`.
    pub fn parse(kind: &str, id: &str) -> Option<Self> {
        match kind {
            "app" => Uuid::parse_str(id).ok().map(Self::App),
            "code_display" if !id.is_empty() && id.len() <= 64 => {
                Some(Self::CodeDisplay(id.to_owned()))
            }
            "chip" => Uuid::parse_str(id).ok().map(Self::Chip),
            _ => None,
        }
    }
}

impl Sesam {
    /// The site's service-provider registration, made on first use (and again if the
    /// public URL changed).
    async fn self_service_client(&self) -> Result<SelfServiceClient, AppError> {
        let redirect_uri = format!("{}{BASE_PATH}/callback", self.issuer);
        if let Some(bytes) = self.store.meta_get(META_KEY).await?
            && let Ok(stored) = serde_json::from_slice::<StoredClient>(&bytes)
            && stored.redirect_uri == redirect_uri
            && let Ok(sealed) = STANDARD.decode(&stored.secret_sealed)
            && let Ok(secret) = self.keys.open_data(SEAL, &sealed)
            && self
                .store
                .service_provider(&stored.client_id)
                .await?
                .is_some()
        {
            return Ok(SelfServiceClient {
                client_id: stored.client_id,
                secret: String::from_utf8_lossy(&secret).into_owned(),
                redirect_uri,
            });
        }
        let added = self
            .add_service_provider(
                &Actor::operator("system:self-service")?,
                &AddServiceProvider {
                    name: "Min sesam".into(),
                    redirect_uris: vec![redirect_uri.clone()],
                    ..Default::default()
                },
            )
            .await?;
        let secret = added.client_secret.expose().to_owned();
        let stored = StoredClient {
            client_id: added.record.client_id.clone(),
            secret_sealed: STANDARD.encode(self.keys.seal_data(
                SEAL,
                secret.as_bytes(),
                &*self.random,
            )),
            redirect_uri: redirect_uri.clone(),
        };
        let bytes = serde_json::to_vec(&stored).map_err(|source| AppError::Encoding {
            what: "the self-service registration",
            source,
        })?;
        self.store.meta_set(META_KEY, &bytes).await?;
        Ok(SelfServiceClient {
            client_id: stored.client_id,
            secret,
            redirect_uri,
        })
    }

    fn session_value_hash(&self, value: &str) -> [u8; 32] {
        self.keys
            .flow_token_hash("self-service-session", &[value.as_bytes()])
    }

    /// Starts a login to the site: a normal authorization request with PKCE and `state`,
    /// `prompt=login` (a fresh login, never a session made for another service), in the
    /// page's language.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn start_self_service_login(&self, locale: Locale) -> Result<StartedLogin, AppError> {
        let client = self.self_service_client().await?;
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let pending = PendingLogin {
            verifier: b64(&self.random_bytes::<32>()),
            state: b64(&self.random_bytes::<16>()),
            started_ms: self.clock.now().millis(),
        };
        let challenge = b64(&Sha256::digest(pending.verifier.as_bytes()));
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", &client.redirect_uri)
            .append_pair("scope", "openid")
            .append_pair("state", &pending.state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("prompt", "login")
            .append_pair("ui_locales", locale.as_str());
        let json = serde_json::to_vec(&pending).map_err(|source| AppError::Encoding {
            what: "the self-service login state",
            source,
        })?;
        Ok(StartedLogin {
            location: format!("/authorize?{}", q.finish()),
            cookie: b64(&self.seal_for_browser(LOGIN_SEAL, &json)),
        })
    }

    /// The login came back (`query` of the callback, `cookie` the sealed state kept since
    /// the start): checks `state` and `iss`, redeems the code, and starts a session whose
    /// cookie value is returned.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn finish_self_service_login(
        &self,
        cookie: Option<&str>,
        query: &str,
    ) -> Result<String, SelfServiceError> {
        let failed = |why: &str| SelfServiceError::LoginFailed(why.to_owned());
        let params = Params::from_urlencoded(query).map_err(|e| failed(&e.to_string()))?;
        if let Some(error) = params.get("error") {
            return Err(failed(error));
        }
        let pending: PendingLogin = cookie
            .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
            .and_then(|b| self.open_from_browser(LOGIN_SEAL, &b))
            .and_then(|j| serde_json::from_slice(&j).ok())
            .ok_or_else(|| failed("no login was started in this browser"))?;
        let now = self.clock.now();
        if now.millis() - pending.started_ms > LOGIN_STATE_SECONDS * 1000 {
            return Err(failed("the login took too long"));
        }
        let state_ok = params
            .get("state")
            .is_some_and(|s| sesam_domain::secrets::ct_eq(s.as_bytes(), pending.state.as_bytes()));
        if !state_ok {
            return Err(failed("the answer belongs to another login"));
        }
        if params.get("iss") != Some(&*self.issuer) {
            return Err(failed("the answer does not name this server"));
        }
        let code = params.get("code").ok_or_else(|| failed("no code"))?;
        let client = self.self_service_client().await?;
        let basic = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", client.client_id, client.secret))
        );
        let sp = self
            .authenticate_client(&Params::default(), Some(&basic))
            .await?;
        let (grant, _) = self
            .redeem_authorization_code(
                &sp,
                code,
                Some(&client.redirect_uri),
                Some(&pending.verifier),
                "self_service.code_redeemed",
            )
            .await
            .map_err(|e| match e {
                AppError::Protocol(p) => failed(&p.to_string()),
                other => other.into(),
            })?;
        let authentication: Authentication = grant.authentication.for_session();
        let identity = self
            .store
            .identity(authentication.identity_id)
            .await?
            .ok_or(StoreError::NotFound("identity"))?;
        if identity.state != IdentityState::Active {
            return Err(SelfServiceError::Blocked);
        }
        let value = bearer_value(self);
        let session =
            SelfServiceSession::start(self.session_value_hash(&value), authentication, now);
        let audit = AuditDraft::new(
            Actor::Person(identity.id).audit_name(),
            "self_service.login",
        )
        .subject(identity.id.to_string())
        .details(json!({
            "method": session.authentication.method.as_str(),
            "level": session.authentication.level.as_str(),
        }));
        self.store
            .create_self_service_session(
                &session,
                Effects {
                    audit: vec![audit],
                    messages: vec![],
                },
            )
            .await?;
        Ok(value)
    }

    /// The live session behind a cookie value, with its person; its idle timeout starts
    /// again. An idle session is ended here; a blocked identity's is refused.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn self_service(&self, value: Option<&str>) -> Result<SelfService, SelfServiceError> {
        let value = value.ok_or(SelfServiceError::NoSession)?;
        let hash = self.session_value_hash(value);
        let now = self.clock.now();
        let session = self
            .store
            .self_service_session(&hash, now)
            .await?
            .ok_or(SelfServiceError::NoSession)?;
        if !session.live(now) {
            let audit = AuditDraft::new("system", "self_service.session_expired")
                .subject(session.identity_id().to_string());
            self.store
                .end_self_service_session(
                    &hash,
                    now,
                    Effects {
                        audit: vec![audit],
                        messages: vec![],
                    },
                )
                .await?;
            return Err(SelfServiceError::NoSession);
        }
        let identity = self
            .store
            .identity(session.identity_id())
            .await?
            .ok_or(SelfServiceError::NoSession)?;
        if identity.state != IdentityState::Active {
            return Err(SelfServiceError::Blocked);
        }
        self.store.touch_self_service_session(&hash, now).await?;
        Ok(SelfService {
            csrf: self.csrf_token(value, "self-service"),
            session,
            identity,
        })
    }

    /// Whether a form of the session with cookie `value` carries its CSRF token.
    pub fn self_service_csrf_ok(&self, value: Option<&str>, presented: Option<&str>) -> bool {
        value.is_some_and(|v| self.csrf_ok(v, "self-service", presented))
    }

    /// Logs out of the site (the session is deleted; sesam's own login session, if any,
    /// is not touched).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn end_self_service(&self, me: &SelfService) -> Result<(), AppError> {
        let audit =
            AuditDraft::new(me.actor(), "self_service.logout").subject(me.identity.id.to_string());
        self.store
            .end_self_service_session(
                &me.session.id_hash,
                self.clock.now(),
                Effects {
                    audit: vec![audit],
                    messages: vec![],
                },
            )
            .await?;
        Ok(())
    }

    /// Every use of the identity (logins at services, from the audit log, with the
    /// service's registered name), every request sent to the app, every message sent and
    /// how its delivery went.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn self_service_activity(
        &self,
        me: &SelfService,
    ) -> Result<SelfServiceActivity, SelfServiceError> {
        me.allow(SelfServiceAction::View)?;
        let entries = self
            .store
            .audit_entries_of(&me.identity.id.to_string(), ACTIVITY_LIMIT)
            .await?;
        let mut uses = Vec::new();
        for e in entries.iter().filter(|e| e.action == "login.completed") {
            let details: serde_json::Value = serde_json::from_str(&e.details).unwrap_or_default();
            let text = |k: &str| details[k].as_str().unwrap_or_default().to_owned();
            let client_id = text("client_id");
            let sp_name = self
                .registered_sp(&client_id)
                .await?
                .map(|sp| sp.display_name)
                .unwrap_or(client_id);
            uses.push(Use {
                at: e.at,
                sp_name,
                action: text("action"),
                method: text("method"),
                level: text("level"),
            });
        }
        Ok(SelfServiceActivity {
            uses,
            app: self.activity(me.identity.id).await?,
        })
    }

    /// The person's apps, code displays and chips (every state).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn own_authenticators(
        &self,
        me: &SelfService,
    ) -> Result<OwnAuthenticators, SelfServiceError> {
        me.allow(SelfServiceAction::View)?;
        let id = me.identity.id;
        Ok(OwnAuthenticators {
            apps: self.store.devices_of(id).await?,
            code_displays: self.store.code_displays_of(id).await?,
            chips: self.store.chips_of(id).await?,
        })
    }

    /// Revokes one of the person's own active authenticators; an id of anyone else's is
    /// `Unknown` (the store changes only rows of this identity). Returns a warning when
    /// no working authenticator is left. Notified on every channel.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn revoke_own_authenticator(
        &self,
        me: &SelfService,
        target: &OwnAuthenticator,
    ) -> Result<Option<String>, SelfServiceError> {
        me.allow(SelfServiceAction::Change)?;
        let id = me.identity.id;
        let now = self.clock.now();
        let (action, details, event) = match target {
            OwnAuthenticator::App(device) => {
                let name = self
                    .store
                    .device(*device)
                    .await?
                    .filter(|d| d.identity_id == id && d.state == DeviceState::Active)
                    .map(|d| d.name.as_str().to_owned())
                    .ok_or(SelfServiceError::Unknown)?;
                (
                    "authenticator.app_revoked",
                    json!({ "device": device, "name": name }),
                    Event::AppRevoked {
                        device_name: name,
                        at: now,
                    },
                )
            }
            OwnAuthenticator::CodeDisplay(serial) => {
                // Named as the person knows it: a code display or an audio code reader.
                let kind = self
                    .store
                    .code_display(serial)
                    .await?
                    .filter(|d| d.identity_id == Some(id))
                    .map(|d| d.kind)
                    .unwrap_or_default();
                (
                    "authenticator.code_display_revoked",
                    json!({ "target": format!("code_display:{serial}") }),
                    Event::AuthenticatorRevoked {
                        code_display: Some((kind, serial.clone())),
                        at: now,
                    },
                )
            }
            OwnAuthenticator::Chip(chip) => (
                "authenticator.chip_revoked",
                json!({ "target": format!("chip:{chip}") }),
                Event::AuthenticatorRevoked {
                    code_display: None,
                    at: now,
                },
            ),
        };
        let effects = Effects {
            audit: vec![
                AuditDraft::new(me.actor(), action)
                    .subject(id.to_string())
                    .details(details),
            ],
            messages: self.messages(&event, &me.identity).await?,
        };
        match target {
            OwnAuthenticator::App(device) => {
                self.store
                    .revoke_device_of(id, *device, now, effects)
                    .await?
            }
            OwnAuthenticator::CodeDisplay(serial) => {
                self.store
                    .revoke_code_display(serial, id, now, effects)
                    .await?
            }
            OwnAuthenticator::Chip(chip) => self.store.revoke_chip(*chip, id, now, effects).await?,
        }
        self.wake_outbox();
        Ok(self.last_authenticator_warning(id).await?)
    }

    /// The person's channels in their order.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn own_channels(
        &self,
        me: &SelfService,
    ) -> Result<Vec<ChannelChoice>, SelfServiceError> {
        me.allow(SelfServiceAction::View)?;
        Ok(self.store.channel_choices(me.identity.id).await?)
    }

    /// Adds a phone number (`sms`) or e-mail address; a code is sent to it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn add_own_channel(
        &self,
        me: &SelfService,
        kind: &str,
        address: &str,
    ) -> Result<ChannelChoice, SelfServiceError> {
        me.allow(SelfServiceAction::Change)?;
        Ok(self
            .add_channel_for(&me.identity, me.actor(), kind, address)
            .await?)
    }

    /// Confirms a new channel with the code sent to it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn confirm_own_channel(
        &self,
        me: &SelfService,
        channel: Uuid,
        code: &str,
    ) -> Result<(), SelfServiceError> {
        me.allow(SelfServiceAction::Change)?;
        Ok(self
            .confirm_channel_for(&me.identity, me.actor(), channel, code)
            .await?)
    }

    /// Removes a channel (never the last confirmed one).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn remove_own_channel(
        &self,
        me: &SelfService,
        channel: Uuid,
    ) -> Result<(), SelfServiceError> {
        me.allow(SelfServiceAction::Change)?;
        Ok(self
            .remove_channel_of(&me.identity, channel, me.actor(), None)
            .await?)
    }

    /// Moves a channel one place up in the order messages fail over along.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn move_own_channel_up(
        &self,
        me: &SelfService,
        channel: Uuid,
    ) -> Result<(), SelfServiceError> {
        me.allow(SelfServiceAction::Change)?;
        let mut order: Vec<Uuid> = self
            .store
            .channel_choices(me.identity.id)
            .await?
            .iter()
            .map(|c| c.id)
            .collect();
        let at = order
            .iter()
            .position(|c| *c == channel)
            .ok_or(SelfServiceError::Unknown)?;
        if at == 0 {
            return Ok(());
        }
        order.swap(at - 1, at);
        Ok(self
            .reorder_channels_for(&me.identity, me.actor(), &order)
            .await?)
    }

    /// Opts in or out of a message on every use.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn set_own_notify_every_use(
        &self,
        me: &SelfService,
        enabled: bool,
    ) -> Result<(), SelfServiceError> {
        me.allow(SelfServiceAction::Change)?;
        Ok(self
            .set_notify_every_use_for(&me.identity, me.actor(), enabled)
            .await?)
    }

    /// Changes the password: needs a two-factor login at level substantial and the
    /// current password again. A wrong current password counts toward the password's
    /// lockout (three lock it for 15 minutes) but never toward the lock that needs a new
    /// letter: whoever holds a forgotten session must not be able to cause that.
    /// Notified on every channel.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn change_own_password(
        &self,
        me: &SelfService,
        current: &str,
        new: &str,
    ) -> Result<(), SelfServiceError> {
        me.allow(SelfServiceAction::Change)?;
        if !me
            .session
            .authentication
            .method
            .amr()
            .iter()
            .any(|a| a == "mfa")
        {
            return Err(SelfServiceError::LevelTooLow {
                required: Level::Substantial,
            });
        }
        let id = me.identity.id;
        // The new password's rules first: a refusal there costs no try.
        let new = Password::parse(new, me.identity.user_id.as_ref()).map_err(DomainError::from)?;
        match self
            .check_password(Some(id), current, || async { Ok(false) })
            .await?
        {
            PasswordCheck::Right => {}
            PasswordCheck::NoPassword => return Err(SelfServiceError::NoPassword),
            PasswordCheck::Wrong(Failure::Wrong { .. }) => {
                return Err(SelfServiceError::WrongPassword);
            }
            PasswordCheck::Wrong(_)
            | PasswordCheck::Refused(GuardRefusal::Locked(
                Locked::Until(_) | Locked::UntilReactivated,
            ))
            | PasswordCheck::Refused(GuardRefusal::Busy) => {
                return Err(SelfServiceError::PasswordLocked);
            }
        }
        let phc = self.passwords.hash(new, self.random.clone()).await?;
        let now = self.clock.now();
        let unit = self
            .store
            .lock_password(id)
            .await?
            .ok_or(SelfServiceError::NoPassword)?;
        let effects = Effects {
            audit: vec![
                AuditDraft::new(me.actor(), "authenticator.password_changed")
                    .subject(id.to_string()),
            ],
            messages: self
                .messages(
                    &Event::PasswordChanged {
                        at: now,
                        first: false,
                    },
                    &me.identity,
                )
                .await?,
        };
        unit.replace(&phc, now, effects).await?;
        self.wake_outbox();
        Ok(())
    }

    /// "Block my ID": suspends the identity at once (the session ends with it); reopening
    /// needs the operator or a fresh two-channel activation. Notified on every channel.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn block_own_identity(&self, me: &SelfService) -> Result<(), SelfServiceError> {
        me.allow(SelfServiceAction::Block)?;
        let identity = &me.identity;
        let to = identity.state.suspend().map_err(DomainError::from)?;
        let now = self.clock.now();
        let effects = Effects {
            audit: vec![
                AuditDraft::new(me.actor(), "identity.suspended")
                    .subject(identity.id.to_string())
                    .reason(Some("blocked by the person in self-service".into()))
                    .details(json!({ "from": identity.state, "to": to })),
            ],
            messages: self
                .messages(&Event::IdentitySuspended { at: now }, identity)
                .await?,
        };
        self.store
            .set_state(identity.id, identity.state, to, now, &effects)
            .await?;
        self.wake_outbox();
        self.store
            .end_self_service_session(&me.session.id_hash, now, Effects::default())
            .await?;
        Ok(())
    }

    /// Changes the person's own user ID from self-service (a login at level substantial).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn change_own_user_id_in_self_service(
        &self,
        me: &SelfService,
        new: &str,
    ) -> Result<Identity, SelfServiceError> {
        me.allow(SelfServiceAction::Change)?;
        Ok(self.change_own_user_id(me.identity.id, new).await?)
    }

    /// The person changes their own user ID: the operator's `change_user_id` rules
    /// (quarantine of the old ID, personal-data checks, notified on every channel) with
    /// the person as the actor. The caller has checked how the person logged in.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn change_own_user_id(
        &self,
        identity_id: Uuid,
        new: &str,
    ) -> Result<Identity, AppError> {
        let identity = self
            .store
            .identity(identity_id)
            .await?
            .ok_or(StoreError::NotFound("identity"))?;
        let current = identity
            .user_id
            .ok_or_else(|| AppError::BadInput("this identity has no user ID yet".into()))?;
        self.change_user_id(&Actor::Person(identity_id), current.as_str(), new, None)
            .await
    }
}
