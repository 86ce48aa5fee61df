//! The login pages' steps: the user ID, then an authenticator (code display + password,
//! chip + password), then the code back to the service provider.
//!
//! No step tells whether a user ID exists: an unknown user ID is taken like a known one,
//! every factor check spends the same work (one Argon2 verification, a chip challenge of
//! the same shape), and every refusal reads the same. Lock states are told to the person
//! through their notification channels, not on the page.

use serde_json::{Value, json};
use sesam_domain::auth_request::AuthRequest;
use sesam_domain::authorization::{
    Authentication, AuthorizationGrant, AuthorizationRequest, BrowserSession, CODE_SECONDS,
    FlowStep, LoginFlow, LoginMethod, SESSION_SECONDS,
};
use sesam_domain::notification::Event;
use sesam_domain::{AuditDraft, DomainError, Identity, IdentityState, Level, UserId};
use sesam_oidc::OAuthError;
use sesam_store::{Effects, StoreError};
use uuid::Uuid;

use super::authorization::bearer_value;
use super::passwords::PasswordCheck;
use crate::context::Sesam;
use crate::error::AppError;

/// Every answer to a factor check takes at least this long, so the time it takes does not
/// tell a known user ID (database work) from an unknown one (none), or a right code from a
/// wrong one. Well above the few milliseconds that separate them; Argon2 runs inside it.
const FACTOR_ANSWER_FLOOR: std::time::Duration = std::time::Duration::from_millis(250);

/// The user-ID step and the chip challenge answer no sooner than this after they start.
/// A known user ID costs a little more work than an unknown one (a row to read and
/// decode; for the chip challenge, a ceremony to store): tens of microseconds, which
/// enough samples can tell apart. The floor is far above that work on a healthy server,
/// so both answer at the same moment; the wait is a timer, not work.
pub const LOOKUP_ANSWER_FLOOR: std::time::Duration = std::time::Duration::from_millis(50);

/// Runs `step` and returns its result no sooner than `floor` after it started.
pub(crate) async fn answer_no_sooner<T>(
    floor: std::time::Duration,
    step: impl std::future::Future<Output = T>,
) -> T {
    let started = tokio::time::Instant::now();
    let out = step.await;
    tokio::time::sleep_until(started + floor).await;
    out
}

fn counted(method: LoginMethod, result: &Result<(), LoginError>) {
    let outcome = match result {
        Ok(()) => "proven",
        Err(LoginError::Refused(_)) => "refused",
        Err(_) => "failed",
    };
    metrics::counter!("sesam_login_factor_checks_total", "method" => method.as_str(), "outcome" => outcome).increment(1);
}

/// Why a step was refused, as the person is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The text is not a valid user ID (said from its form alone, never from a lookup).
    InvalidUserId(sesam_domain::UserIdError),
    /// The code, password or key was not accepted (the same for an unknown user ID).
    NotAccepted,
    /// The chosen authenticator cannot give the level the service requires.
    BelowRequiredLevel { required: Level },
    /// The person proved who they are, but their identity is blocked.
    IdentityBlocked,
    /// The step does not fit where the login stands (e.g. a repeated form).
    WrongStep,
    /// Too many requests for this person from this address lately.
    TooManyRequests,
    /// The person reported a request from this browser as "this wasn't me".
    BrowserReported,
}

#[derive(Debug)]
pub enum LoginError {
    /// The login is unknown, expired, finished, or belongs to another browser.
    Gone,
    Refused(Refusal),
    Failed(AppError),
}

impl From<AppError> for LoginError {
    fn from(e: AppError) -> Self {
        Self::Failed(e)
    }
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        Self::Failed(e.into())
    }
}

/// A login as a page shows it.
#[derive(Debug, Clone)]
pub struct LoginView {
    pub flow: LoginFlow,
    /// The SP's registered display name (never anything from the request).
    pub sp_name: String,
}

/// A finished login: where to send the browser, and the new session's cookie value.
#[derive(Debug, Clone)]
pub struct LoginDone {
    pub redirect: String,
    pub session: Option<String>,
    pub method: Option<LoginMethod>,
}

/// Whether a method can give at least the level the request requires (its AAL; the
/// identity's IAL is applied after the person has proven who they are).
pub fn method_meets(method: LoginMethod, request: &AuthorizationRequest) -> bool {
    request.min_level.is_none_or(|min| method.aal() >= min)
}

/// A real chip challenge without the key's transports (`usb`, `nfc`, …): a made-up
/// challenge could not know them, so they would tell a real chip from none. Browsers
/// then simply offer every transport.
fn without_transports(mut options: Value) -> Value {
    if let Some(list) = options
        .pointer_mut("/publicKey/allowCredentials")
        .and_then(Value::as_array_mut)
    {
        for c in list.iter_mut().filter_map(Value::as_object_mut) {
            c.remove("transports");
        }
    }
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    options
}

/// The methods the browser pages offer.
pub const BROWSER_METHODS: [LoginMethod; 3] = [
    LoginMethod::App,
    LoginMethod::CodeDisplay,
    LoginMethod::Chip,
];

impl Sesam {
    /// The CSRF token of a login's forms: bound to the browser and the flow.
    pub fn csrf_token(&self, browser: &str, scope: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            self.keys
                .flow_token_hash("csrf", &[browser.as_bytes(), scope.as_bytes()]),
        )
    }

    pub fn csrf_ok(&self, browser: &str, scope: &str, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| {
            sesam_domain::secrets::ct_eq(p.as_bytes(), self.csrf_token(browser, scope).as_bytes())
        })
    }

    async fn own_flow(&self, flow_id: Uuid, browser: &str) -> Result<LoginFlow, LoginError> {
        let flow = self
            .store
            .login_flow(flow_id)
            .await?
            .ok_or(LoginError::Gone)?;
        let ours = sesam_domain::secrets::ct_eq(&flow.browser_hash, &self.browser_hash(browser));
        if !ours || flow.expired(self.clock.now()) {
            return Err(LoginError::Gone);
        }
        Ok(flow)
    }

    async fn sp_name(&self, client_id: &str) -> Result<String, LoginError> {
        self.registered_sp(client_id)
            .await?
            .map(|sp| sp.display_name)
            .ok_or(LoginError::Gone)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn login_view(&self, flow_id: Uuid, browser: &str) -> Result<LoginView, LoginError> {
        let flow = self.own_flow(flow_id, browser).await?;
        let sp_name = self.sp_name(&flow.request.client_id).await?;
        Ok(LoginView { flow, sp_name })
    }

    /// Step 1: the user ID. Known or not, the login moves on the same way, and answers
    /// at the same moment ([`LOOKUP_ANSWER_FLOOR`]).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn submit_user_id(
        &self,
        flow_id: Uuid,
        browser: &str,
        input: &str,
    ) -> Result<(), LoginError> {
        answer_no_sooner(
            LOOKUP_ANSWER_FLOOR,
            self.take_user_id(flow_id, browser, input),
        )
        .await
    }

    async fn take_user_id(
        &self,
        flow_id: Uuid,
        browser: &str,
        input: &str,
    ) -> Result<(), LoginError> {
        let mut flow = self.own_flow(flow_id, browser).await?;
        let typed: String = input.trim().chars().take(100).collect();
        let user_id =
            UserId::parse(&typed).map_err(|e| LoginError::Refused(Refusal::InvalidUserId(e)))?;
        let identity = self.store.identity_by_user_id(&user_id.key()).await?;
        flow.user_id_given(&user_id, identity.map(|i| i.id));
        self.store.save_login_flow(&flow).await?;
        Ok(())
    }

    /// "Not you?": back to the user ID.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn restart_login(&self, flow_id: Uuid, browser: &str) -> Result<(), LoginError> {
        let mut flow = self.own_flow(flow_id, browser).await?;
        flow.restart();
        self.store.save_login_flow(&flow).await?;
        Ok(())
    }

    /// The person cancels: back to the SP with `access_denied`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn cancel_login(&self, flow_id: Uuid, browser: &str) -> Result<String, LoginError> {
        let flow = self.own_flow(flow_id, browser).await?;
        let audit = AuditDraft::new("browser", "login.cancelled");
        self.end_flow(&flow, audit, json!({})).await?;
        Ok(self.redirect_error(
            &flow.request,
            &OAuthError::AccessDenied("the person cancelled the login".into()),
        ))
    }

    /// Where an expired login sends the browser back to, with the error.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn expired_login_redirect(&self, flow_id: Uuid, browser: &str) -> Option<String> {
        let flow = self.store.login_flow(flow_id).await.ok()??;
        if !sesam_domain::secrets::ct_eq(&flow.browser_hash, &self.browser_hash(browser)) {
            return None;
        }
        Some(self.redirect_error(
            &flow.request,
            &OAuthError::AccessDenied("the login took too long and expired".into()),
        ))
    }

    /// Ends a login without a code, audited with the client it was for.
    async fn end_flow(
        &self,
        flow: &LoginFlow,
        audit: AuditDraft,
        mut details: Value,
    ) -> Result<(), LoginError> {
        details["client_id"] = json!(flow.request.client_id);
        let effects = Effects {
            audit: vec![audit.details(details)],
            messages: vec![],
        };
        self.store.delete_login_flow(flow.id, effects).await?;
        Ok(())
    }

    fn redirect_error(&self, request: &AuthorizationRequest, error: &OAuthError) -> String {
        sesam_oidc::response::error(
            &request.redirect_uri,
            error,
            request.state.as_deref(),
            &self.issuer,
        )
    }

    pub(crate) fn flow_for_method(flow: &LoginFlow, method: LoginMethod) -> Result<(), LoginError> {
        if flow.step != FlowStep::Authenticate {
            return Err(LoginError::Refused(Refusal::WrongStep));
        }
        if !method_meets(method, &flow.request) {
            return Err(LoginError::Refused(Refusal::BelowRequiredLevel {
                required: flow.request.min_level.unwrap_or(Level::Low),
            }));
        }
        Ok(())
    }

    /// Code display + password.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn login_with_code_display(
        &self,
        flow_id: Uuid,
        browser: &str,
        code: &str,
        password: &str,
    ) -> Result<LoginDone, LoginError> {
        let started = tokio::time::Instant::now();
        let flow = self.own_flow(flow_id, browser).await?;
        Self::flow_for_method(&flow, LoginMethod::CodeDisplay)?;
        let result = self.code_display_factors(&flow, code, password).await;
        counted(LoginMethod::CodeDisplay, &result);
        tokio::time::sleep_until(started + FACTOR_ANSWER_FLOOR).await;
        result?;
        self.finish_login(flow, LoginMethod::CodeDisplay, None)
            .await
    }

    async fn code_display_factors(
        &self,
        flow: &LoginFlow,
        code: &str,
        password: &str,
    ) -> Result<(), LoginError> {
        // The password first; the code is counted only after a right password, so wrong
        // passwords (anyone who knows the user ID can type them) never touch the code
        // display's lockout. A wrong password is informed when the code was right.
        let id = flow.identity_id;
        let password = self
            .check_password(id, password, || async {
                match id {
                    Some(id) => self.code_display_code_right(id, code).await,
                    None => Ok(false),
                }
            })
            .await?;
        let code_ok = match (password, id) {
            (PasswordCheck::Right, Some(id)) => match self.check_code_display(id, code).await {
                Ok(()) => true,
                Err(AppError::Invalid(DomainError::CodeDisplay(_))) => false,
                Err(e) => return Err(e.into()),
            },
            _ => false,
        };
        if !code_ok {
            return Err(LoginError::Refused(Refusal::NotAccepted));
        }
        Ok(())
    }

    /// The challenge for the chip step. For a user ID without a chip (or an unknown one)
    /// the challenge has the same shape and a stable made-up credential, so the answer
    /// does not tell whether the person has a chip; and it answers at the same moment
    /// ([`LOOKUP_ANSWER_FLOOR`]: only a real chip costs a stored ceremony).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn chip_challenge(
        &self,
        flow_id: Uuid,
        browser: &str,
    ) -> Result<(Uuid, Value), LoginError> {
        answer_no_sooner(
            LOOKUP_ANSWER_FLOOR,
            self.chip_challenge_now(flow_id, browser),
        )
        .await
    }

    async fn chip_challenge_now(
        &self,
        flow_id: Uuid,
        browser: &str,
    ) -> Result<(Uuid, Value), LoginError> {
        let flow = self.own_flow(flow_id, browser).await?;
        Self::flow_for_method(&flow, LoginMethod::Chip)?;
        if let Some(id) = flow.identity_id {
            match self.start_chip_authentication(id).await {
                Ok((ceremony, options)) => return Ok((ceremony, without_transports(options))),
                Err(AppError::Invalid(DomainError::Chip(
                    sesam_domain::chip::ChipError::NoneActive,
                ))) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let options = self
            .made_up_chip_challenge(flow.user_id_input.as_deref().unwrap_or_default())
            .map_err(LoginError::Failed)?;
        Ok((Uuid::now_v7(), options))
    }

    fn made_up_chip_challenge(&self, user_id: &str) -> Result<Value, AppError> {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let rp_id = url::Url::parse(&self.issuer)
            .ok()
            .and_then(|u| u.domain().map(str::to_owned))
            .ok_or(AppError::Invalid(DomainError::Chip(
                sesam_domain::chip::ChipError::NotConfigured,
            )))?;
        let key = UserId::parse(user_id)
            .map(|u| u.key().as_str().to_owned())
            .unwrap_or_default();
        let a = self
            .keys
            .flow_token_hash("made-up-chip", &[key.as_bytes(), b"1"]);
        let b = self
            .keys
            .flow_token_hash("made-up-chip", &[key.as_bytes(), b"2"]);
        let credential: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        let challenge: [u8; 32] = sesam_domain::random::random_bytes(&*self.random);
        // The shape of webauthn-rs's security-key challenge (a test compares the two).
        Ok(json!({
            "publicKey": {
                "challenge": b64(&challenge),
                "timeout": sesam_domain::chip::CEREMONY_SECONDS * 1000,
                "rpId": rp_id,
                "allowCredentials": [{ "type": "public-key", "id": b64(&credential) }],
                "userVerification": "preferred",
                "hints": ["security-key"],
            },
        }))
    }

    /// Chip + password.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn login_with_chip(
        &self,
        flow_id: Uuid,
        browser: &str,
        ceremony_id: Option<Uuid>,
        credential: Option<&Value>,
        password: &str,
    ) -> Result<LoginDone, LoginError> {
        let started = tokio::time::Instant::now();
        let flow = self.own_flow(flow_id, browser).await?;
        Self::flow_for_method(&flow, LoginMethod::Chip)?;
        let result = self
            .chip_factors(&flow, ceremony_id, credential, password)
            .await;
        counted(LoginMethod::Chip, &result);
        tokio::time::sleep_until(started + FACTOR_ANSWER_FLOOR).await;
        result?;
        self.finish_login(flow, LoginMethod::Chip, None).await
    }

    async fn chip_factors(
        &self,
        flow: &LoginFlow,
        ceremony_id: Option<Uuid>,
        credential: Option<&Value>,
        password: &str,
    ) -> Result<(), LoginError> {
        // The chip has no lockout of its own (nothing to guess); its answer decides whether
        // a wrong password was informed.
        let key_ok = match (flow.identity_id, ceremony_id, credential) {
            (Some(id), Some(ceremony), Some(answer)) => {
                match self.finish_chip_authentication(ceremony, answer).await {
                    Ok(proven) => proven == id,
                    Err(AppError::Invalid(DomainError::Chip(e))) => {
                        tracing::debug!(error = %e, "a chip answer was not accepted");
                        false
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            _ => false,
        };
        let password = self
            .check_password(flow.identity_id, password, || async { Ok(key_ok) })
            .await?;
        if !(password == PasswordCheck::Right && key_ok) {
            return Err(LoginError::Refused(Refusal::NotAccepted));
        }
        Ok(())
    }

    /// The person proved who they are with `method`: check the identity and the level,
    /// then issue the code and a session.
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn finish_login(
        &self,
        flow: LoginFlow,
        method: LoginMethod,
        approval: Option<&AuthRequest>,
    ) -> Result<LoginDone, LoginError> {
        let id = flow
            .identity_id
            .ok_or(LoginError::Refused(Refusal::NotAccepted))?;
        let identity = self
            .store
            .identity(id)
            .await?
            .ok_or(StoreError::NotFound("identity"))?;
        if identity.state != IdentityState::Active {
            return Err(LoginError::Refused(Refusal::IdentityBlocked));
        }
        let now = self.clock.now();
        let level = method.level_for(identity.ial);
        if flow.request.min_level.is_some_and(|min| level < min) {
            let audit = AuditDraft::new(format!("person:{id}"), "login.level_unmet")
                .subject(id.to_string());
            self.end_flow(&flow, audit, json!({ "level": level.as_str() }))
                .await?;
            let error = OAuthError::UnmetAuthenticationRequirements(format!(
                "the person's identity allows at most level {level}, below what the request requires"
            ));
            return Ok(LoginDone {
                redirect: self.redirect_error(&flow.request, &error),
                session: None,
                method: Some(method),
            });
        }
        let mut authentication = Authentication {
            identity_id: id,
            method,
            level,
            auth_time: now,
            approval: approval.map(|a| a.id),
            approval_receipt: None,
        };
        if let Some(approved) = approval {
            authentication.approval_receipt = Some(
                self.approval_receipt(&flow.request.client_id, &authentication, approved)
                    .await?,
            );
        }
        let session_value = bearer_value(self);
        let session = BrowserSession {
            id_hash: self.session_hash(&session_value),
            authentication: authentication.for_session(),
            expires_at: now.plus_seconds(SESSION_SECONDS),
        };
        let redirect = self
            .issue_code(
                Some(flow.id),
                &flow.request,
                &authentication,
                &identity,
                Some(&session),
            )
            .await
            .map_err(|e| match e {
                AppError::Store(StoreError::NotFound(_)) => LoginError::Gone,
                e => LoginError::Failed(e),
            })?;
        Ok(LoginDone {
            redirect,
            session: Some(session_value),
            method: Some(method),
        })
    }

    /// Stores the grant behind a new authorization code (with the session, if new) and
    /// returns the redirect that carries the code.
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn issue_code(
        &self,
        flow_id: Option<Uuid>,
        request: &AuthorizationRequest,
        authentication: &Authentication,
        identity: &Identity,
        session: Option<&BrowserSession>,
    ) -> Result<String, AppError> {
        let now = self.clock.now();
        let code = bearer_value(self);
        let grant = AuthorizationGrant {
            id: Uuid::now_v7(),
            code_hash: self.keys.flow_token_hash("code", &[code.as_bytes()]),
            request: request.clone(),
            authentication: authentication.clone(),
            created_at: now,
            code_expires_at: now.plus_seconds(CODE_SECONDS),
            code_used_at: None,
            revoked_at: None,
        };
        let mut effects = Effects {
            audit: vec![
                AuditDraft::new(format!("person:{}", identity.id), "login.completed")
                    .subject(identity.id.to_string())
                    .details(json!({
                        "client_id": request.client_id,
                        "method": authentication.method.as_str(),
                        "level": authentication.level.as_str(),
                        "action": request.action.as_str(),
                        "from_session": session.is_none(),
                    })),
            ],
            messages: vec![],
        };
        if identity.notify_every_use {
            // Only people who opted in need the SP's name (it is not on the hot path).
            let sp_name = self
                .registered_sp(&request.client_id)
                .await?
                .map(|sp| sp.display_name)
                .unwrap_or_else(|| request.client_id.clone());
            effects.messages = self
                .messages(
                    &Event::IdentityUsed {
                        service_provider: sp_name,
                        action: request.action.as_str().to_owned(),
                        at: now,
                    },
                    identity,
                )
                .await?;
        }
        let notify = !effects.messages.is_empty();
        self.store
            .complete_login(flow_id, &grant, session, effects)
            .await?;
        if notify {
            self.wake_outbox();
        }
        Ok(sesam_oidc::response::code(
            &request.redirect_uri,
            &code,
            request.state.as_deref(),
            &self.issuer,
        ))
    }
}
