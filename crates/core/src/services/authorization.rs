//! The front of every login: the authorization endpoint (with or without PAR), pushed
//! requests, and client authentication at the back-channel endpoints. The protocol checks
//! themselves are the `oidc` crate's pipelines; this file adds what needs storage (the
//! client's registration, pushed requests, sessions, assertion ids).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sesam_domain::authorization::{
    AuthorizationRequest, BrowserSession, FlowStep, LOGIN_FLOW_SECONDS, LoginFlow, PAR_SECONDS,
};
use sesam_domain::random::random_bytes;
use sesam_oidc::authorize::{self, AuthorizeError, Client, REQUEST_URI_PREFIX, Via};
use sesam_oidc::discovery::paths;
use sesam_oidc::{OAuthError, Params, client_auth, private_key_jwt};
use sesam_store::ServiceProviderRecord;
use uuid::Uuid;

use crate::context::Sesam;
use crate::error::AppError;

/// What a protocol endpoint answers for an application error: its own OAuth error, or
/// (for storage and other system failures, which are logged) `temporarily_unavailable`.
pub fn protocol_error(e: AppError) -> OAuthError {
    match e {
        AppError::Protocol(e) => e,
        other => {
            tracing::error!(error = %other, "protocol request failed");
            OAuthError::TemporarilyUnavailable
        }
    }
}

fn shown(e: impl Into<AppError>) -> AuthorizeError {
    AuthorizeError::Show(protocol_error(e.into()))
}

/// Where an authorization request leads.
#[derive(Debug)]
pub enum Authorized {
    /// Back to the client right away (a code from the session, or an error).
    Redirect(String),
    /// To the login pages of a new flow.
    Login(Uuid),
}

fn client_of(sp: &ServiceProviderRecord) -> Client {
    Client {
        client_id: sp.client_id.clone(),
        redirect_uris: sp.redirect_uris.clone(),
        require_par: sp.require_par,
        allow_national_id: sp.allow_national_id,
    }
}

/// 256 random bits, base64url: codes, tokens, handles, cookie values.
pub(crate) fn bearer_value(sesam: &Sesam) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>(&*sesam.random))
}

impl Sesam {
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    pub(crate) fn browser_hash(&self, browser: &str) -> [u8; 32] {
        self.keys.flow_token_hash("browser", &[browser.as_bytes()])
    }

    pub(crate) fn session_hash(&self, session: &str) -> [u8; 32] {
        self.keys.flow_token_hash("session", &[session.as_bytes()])
    }

    /// The stored key of a pushed request: its handle bound to the client that pushed it.
    fn pushed_request_hash(&self, client_id: &str, handle: &str) -> [u8; 32] {
        self.keys
            .flow_token_hash("par", &[client_id.as_bytes(), handle.as_bytes()])
    }

    async fn registered_client(
        &self,
        client_id: &str,
    ) -> Result<Option<ServiceProviderRecord>, AppError> {
        if client_id.len() > 64 {
            return Ok(None);
        }
        Ok(self.registered_sp(client_id).await?)
    }

    /// The authorization endpoint. `browser` is the browser's cookie value (the caller
    /// sets one first if there is none), `session` the session cookie, if any.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn authorize(
        &self,
        params: &Params,
        browser: &str,
        session: Option<&str>,
    ) -> Result<Authorized, AuthorizeError> {
        let request = self.authorization_request(params).await?;
        let now = self.clock.now();
        let redirect_error = |error: OAuthError| {
            sesam_oidc::response::error(
                &request.redirect_uri,
                &error,
                request.state.as_deref(),
                &self.issuer,
            )
        };
        let existing = match session {
            Some(s) => self
                .store
                .browser_session(&self.session_hash(s), now)
                .await
                .map_err(shown)?,
            None => None,
        };
        if let Some(s) = existing.filter(|s| s.satisfies(&request, now)) {
            match self.login_from_session(&request, &s).await {
                Ok(Some(url)) => return Ok(Authorized::Redirect(url)),
                Ok(None) => {}
                Err(e) => return Err(shown(e)),
            }
        }
        if request.no_prompt {
            return Ok(Authorized::Redirect(redirect_error(
                OAuthError::LoginRequired,
            )));
        }
        let flow = LoginFlow {
            id: Uuid::now_v7(),
            browser_hash: self.browser_hash(browser),
            step: FlowStep::UserId,
            user_id_input: request.login_hint.clone(),
            identity_id: None,
            request,
            created_at: now,
            expires_at: now.plus_seconds(LOGIN_FLOW_SECONDS),
        };
        self.store.create_login_flow(&flow).await.map_err(shown)?;
        Ok(Authorized::Login(flow.id))
    }

    /// The validated request: from PAR (`request_uri`) or from the parameters.
    async fn authorization_request(
        &self,
        params: &Params,
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        let client_id = authorize::client_id(params)?;
        let sp = self
            .registered_client(client_id)
            .await
            .map_err(shown)?
            .ok_or_else(|| {
                AuthorizeError::Show(OAuthError::invalid_request(
                    "client_id is not a registered client",
                ))
            })?;
        if let Some(handle) = authorize::pushed_reference(params)? {
            // Looked up under the presented client: another client's `client_id` finds
            // nothing, so it cannot use up the rightful client's request.
            let hash = self.pushed_request_hash(&sp.client_id, handle);
            let request = self
                .store
                .take_pushed_request(&hash, self.clock.now())
                .await
                .map_err(shown)?
                .ok_or_else(|| {
                    AuthorizeError::Show(OAuthError::InvalidRequestUri(
                        "request_uri is unknown, used, expired, or pushed by another client (they are single-use and live 90 seconds)".into(),
                    ))
                })?;
            if request.client_id != sp.client_id {
                return Err(AuthorizeError::Show(OAuthError::InvalidRequestUri(
                    "request_uri was pushed by another client".into(),
                )));
            }
            return Ok(request);
        }
        authorize::validate(params, &client_of(&sp), Via::Front)
    }

    /// A code straight from a valid session (no pages). `None` when the identity can no
    /// longer log in (then the person goes through the pages and sees why).
    async fn login_from_session(
        &self,
        request: &AuthorizationRequest,
        session: &BrowserSession,
    ) -> Result<Option<String>, AppError> {
        let Some(identity) = self
            .store
            .identity(session.authentication.identity_id)
            .await?
        else {
            return Ok(None);
        };
        if identity.state != sesam_domain::IdentityState::Active {
            return Ok(None);
        }
        let code = self
            .issue_code(
                None,
                request,
                &session.authentication.for_session(),
                &identity,
                None,
            )
            .await?;
        Ok(Some(code))
    }

    /// The PAR endpoint (RFC 9126): authenticates the client, checks the request as the
    /// authorization endpoint would, stores it, and answers with its handle.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn push_authorization_request(
        &self,
        params: &Params,
        authorization: Option<&str>,
    ) -> Result<(String, i64), AppError> {
        let sp = self.authenticate_client(params, authorization).await?;
        if params.get("client_id").is_some_and(|c| c != sp.client_id) {
            return Err(OAuthError::invalid_request(
                "client_id differs from the authenticated client",
            )
            .into());
        }
        authorize::check_pushable(params)?;
        let request = authorize::validate(params, &client_of(&sp), Via::Pushed)
            .map_err(|e| e.error().clone())?;
        let handle = bearer_value(self);
        let now = self.clock.now();
        self.store
            .push_request(
                &self.pushed_request_hash(&sp.client_id, &handle),
                &request,
                now.plus_seconds(PAR_SECONDS),
            )
            .await?;
        Ok((format!("{REQUEST_URI_PREFIX}{handle}"), PAR_SECONDS))
    }

    /// Client authentication at the token and PAR endpoints: `private_key_jwt` for clients
    /// that registered keys, `client_secret_basic` or `client_secret_post` for the others.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn authenticate_client(
        &self,
        params: &Params,
        authorization: Option<&str>,
    ) -> Result<ServiceProviderRecord, AppError> {
        if let Some(assertion) = private_key_jwt::presented(params)? {
            if authorization.is_some() || params.contains("client_secret") {
                return Err(
                    OAuthError::invalid_request("use one client authentication method").into(),
                );
            }
            let claimed = private_key_jwt::claimed_client(assertion.assertion)?;
            if assertion.client_id.is_some_and(|c| c != claimed) {
                return Err(OAuthError::InvalidClient.into());
            }
            let sp = self
                .registered_client(&claimed)
                .await?
                .ok_or(OAuthError::InvalidClient)?;
            let jwks = sp.jwks.as_deref().ok_or(OAuthError::InvalidClient)?;
            let now = self.clock.now();
            let token_endpoint = self.endpoint(paths::TOKEN);
            let par_endpoint = self.endpoint(paths::PAR);
            let verified = private_key_jwt::verify(
                assertion.assertion,
                &sp.client_id,
                jwks,
                &[&self.issuer, &token_endpoint, &par_endpoint],
                now.millis() / 1000,
            )?;
            let fresh = self
                .store
                .register_assertion_id(
                    &sp.client_id,
                    &verified.jti,
                    sesam_domain::Timestamp::from_millis(verified.exp.saturating_mul(1000)),
                )
                .await?;
            if !fresh {
                return Err(OAuthError::InvalidClient.into());
            }
            return Ok(sp);
        }
        let presented = client_auth::presented(
            authorization,
            params.get("client_id"),
            params.get("client_secret"),
        )?;
        let presented_hash = self
            .keys
            .client_secret_hash(&presented.client_id, &presented.secret);
        let Some(sp) = self.registered_client(&presented.client_id).await? else {
            return Err(OAuthError::InvalidClient.into());
        };
        if sp.jwks.is_some() {
            // A client that registered keys proves itself with them, never with a secret.
            return Err(OAuthError::InvalidClient.into());
        }
        client_auth::check(&presented_hash, &sp.secret_hash)?;
        Ok(sp)
    }
}
