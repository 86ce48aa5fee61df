//! OpenID Connect Client-Initiated Backchannel Authentication, poll mode: a bank asks
//! sesam to have the person approve a text in their app; there is no browser, so the app
//! shows the text (the binding message) instead of asking for a binding code. An unknown
//! user ID gets the same answer as a known one and simply never gets approved.

use serde_json::json;
use sesam_domain::auth_request::{
    AuthRequest, AuthRequestState, CIBA_INTERVAL_SECONDS, CibaState, REQUEST_SECONDS,
};
use sesam_domain::authorization::{
    Action, Authentication, AuthorizationGrant, AuthorizationRequest, CODE_SECONDS, Locale,
    LoginMethod,
};
use sesam_domain::authorization_details::AuthorizationDetail;
use sesam_domain::notification::Language;
use sesam_domain::transaction_text::TransactionText;
use sesam_domain::{AuditDraft, IdentityState, UserId};
use sesam_oidc::token::GRANT_CIBA;
use sesam_oidc::{OAuthError, Params};
use sesam_store::{Effects, ServiceProviderRecord, StartOutcome};
use uuid::Uuid;

use super::authorization::bearer_value;
use super::tokens::TokenResponse;
use crate::context::Sesam;
use crate::error::AppError;

pub use sesam_api::oauth::CibaStarted;

fn scopes(params: &Params, sp: &ServiceProviderRecord) -> Result<Vec<String>, OAuthError> {
    let asked: Vec<&str> = params
        .require("scope")?
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if !asked.contains(&"openid") {
        return Err(OAuthError::InvalidScope("scope must contain openid".into()));
    }
    if asked.contains(&"national_id") && !sp.allow_national_id {
        return Err(OAuthError::InvalidScope(
            "this client is not allowed the national_id scope".into(),
        ));
    }
    Ok(["openid", "profile", "national_id"]
        .iter()
        .filter(|s| asked.contains(s))
        .map(|s| (*s).to_owned())
        .collect())
}

impl Sesam {
    /// `POST /bc-authorize`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn backchannel_authenticate(
        &self,
        params: &Params,
        authorization: Option<&str>,
        source: &str,
    ) -> Result<CibaStarted, AppError> {
        let sp = self.authenticate_client(params, authorization).await?;
        if !sp.ciba {
            return Err(OAuthError::UnauthorizedClient(
                "this client is not registered for CIBA (sp add --ciba)".into(),
            )
            .into());
        }
        for unsupported in ["login_hint_token", "id_token_hint", "user_code", "request"] {
            if params.contains(unsupported) {
                return Err(OAuthError::invalid_request(format!("{unsupported} is not supported; identify the person with login_hint (their user ID)")).into());
            }
        }
        let scope = scopes(params, &sp)?;
        let hint = params.require("login_hint")?;
        let user_id = UserId::parse(hint).map_err(|e| {
            OAuthError::invalid_request(format!("login_hint is not a user ID: {e}"))
        })?;
        let details = params
            .get("authorization_details")
            .map(AuthorizationDetail::parse)
            .transpose()
            .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
        let message = params
            .get("binding_message")
            .map(TransactionText::parse)
            .transpose()
            .map_err(|e| OAuthError::invalid_request(format!("binding_message: {e}")))?;
        let identity = self
            .store
            .identity_by_user_id(&user_id.key())
            .await?
            .filter(|i| i.state == IdentityState::Active);
        let locale = match identity.as_ref().map(|i| i.language) {
            Some(Language::En) => Locale::En,
            _ => Locale::Da,
        };
        let text = match (&details, message) {
            (Some(d), _) => d
                .text(locale)
                .map_err(|e| OAuthError::invalid_request(e.to_string()))?,
            (None, Some(m)) => m,
            (None, None) => {
                return Err(OAuthError::invalid_request("binding_message (the text the person approves) or authorization_details is required").into());
            }
        };
        let handle = bearer_value(self);
        let now = self.clock.now();
        let subject = match &identity {
            Some(i) => i.id.to_string(),
            None => format!(
                "unknown:{}",
                hex(&self
                    .keys
                    .flow_token_hash("unknown-user", &[user_id.key().as_str().as_bytes()]))
            ),
        };
        let request = AuthRequest {
            id: Uuid::now_v7(),
            identity_id: identity.as_ref().map(|i| i.id),
            client_id: sp.client_id.clone(),
            sp_name: sp.display_name.clone(),
            action: details
                .as_ref()
                .map_or(Action::Approve, AuthorizationDetail::action),
            text,
            binding_code: None,
            flow_id: None,
            source_hash: self.keys.flow_token_hash("source", &[source.as_bytes()]),
            browser_hash: None,
            state: AuthRequestState::Pending,
            created_at: now,
            expires_at: now.plus_seconds(REQUEST_SECONDS),
            decided_at: None,
            device_id: None,
            signature: None,
            not_me: false,
            binding_failures: 0,
            signed_bytes: None,
            details,
            ciba: Some(CibaState {
                handle_hash: self.keys.flow_token_hash("ciba", &[handle.as_bytes()]),
                scope,
                last_polled_at: None,
                redeemed_at: None,
            }),
        };
        let limits = self.request_limits.start_limits(now);
        let pushes = self.push_messages(request.identity_id).await?;
        let woken = !pushes.is_empty();
        let audit = AuditDraft::new(format!("client:{}", sp.client_id), "approval.requested")
            .subject(subject.clone())
            .details(
                json!({ "request": request.id, "ciba": true, "action": request.action.as_str() }),
            );
        match self
            .store
            .start_auth_request(
                &request,
                &subject,
                limits,
                Effects {
                    audit: vec![audit],
                    messages: pushes,
                },
            )
            .await?
        {
            StartOutcome::Started { .. } => {
                self.signal_pending(request.identity_id);
                if woken {
                    self.wake_outbox();
                }
                Ok(CibaStarted {
                    auth_req_id: handle,
                    expires_in: REQUEST_SECONDS,
                    interval: CIBA_INTERVAL_SECONDS,
                })
            }
            StartOutcome::TooMany | StartOutcome::BrowserReported => {
                Err(OAuthError::invalid_request(
                    "too many requests were started for this person lately; try again later",
                )
                .into())
            }
        }
    }

    /// The token endpoint's CIBA grant: polled until the person answers.
    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn ciba_token(
        &self,
        sp: &ServiceProviderRecord,
        auth_req_id: &str,
    ) -> Result<TokenResponse, AppError> {
        let hash = self.keys.flow_token_hash("ciba", &[auth_req_id.as_bytes()]);
        let request = self
            .store
            .auth_request_by_ciba(&hash)
            .await?
            .filter(|r| r.client_id == sp.client_id)
            .ok_or_else(|| OAuthError::InvalidGrant("auth_req_id is unknown".into()))?;
        let now = self.clock.now();
        let previous = self.store.ciba_polled(request.id, now).await?;
        match request.status(now) {
            "pending" => {
                let too_soon = previous
                    .is_some_and(|p| now.millis() - p.millis() < CIBA_INTERVAL_SECONDS * 1000);
                return Err(if too_soon {
                    OAuthError::SlowDown
                } else {
                    OAuthError::AuthorizationPending
                }
                .into());
            }
            "rejected" => {
                return Err(
                    OAuthError::AccessDenied("the person declined the request".into()).into(),
                );
            }
            "approved" => {}
            _ => {
                return Err(OAuthError::ExpiredToken(
                    "the request expired before the person answered".into(),
                )
                .into());
            }
        }
        if !self.store.redeem_ciba(request.id, now).await? {
            return Err(OAuthError::InvalidGrant(
                "the tokens for this auth_req_id were already issued".into(),
            )
            .into());
        }
        let identity_id = request
            .identity_id
            .ok_or_else(|| OAuthError::InvalidGrant("auth_req_id is unknown".into()))?;
        let identity = self
            .store
            .identity(identity_id)
            .await?
            .ok_or(sesam_store::StoreError::NotFound("identity"))?;
        let scope = request
            .ciba
            .as_ref()
            .map(|c| c.scope.clone())
            .unwrap_or_default();
        let mut authentication = Authentication {
            identity_id,
            method: LoginMethod::App,
            level: LoginMethod::App.level_for(identity.ial),
            auth_time: request.decided_at.unwrap_or(now),
            approval: Some(request.id),
            approval_receipt: None,
        };
        authentication.approval_receipt = Some(
            self.approval_receipt(&sp.client_id, &authentication, &request)
                .await?,
        );
        let grant = AuthorizationGrant {
            id: Uuid::now_v7(),
            code_hash: self
                .keys
                .flow_token_hash("code", &[bearer_value(self).as_bytes()]),
            request: AuthorizationRequest {
                client_id: sp.client_id.clone(),
                redirect_uri: String::new(),
                scope: scope.clone(),
                state: None,
                nonce: None,
                code_challenge: String::new(),
                force_login: false,
                no_prompt: false,
                max_age: None,
                min_level: None,
                ui_locale: None,
                login_hint: None,
                action: request.action,
                details: request.details.clone(),
                pushed: false,
            },
            authentication,
            created_at: now,
            code_expires_at: now.plus_seconds(CODE_SECONDS),
            code_used_at: Some(now),
            revoked_at: None,
        };
        let audit = AuditDraft::new(format!("client:{}", sp.client_id), "login.completed")
            .subject(identity_id.to_string())
            .details(json!({ "client_id": sp.client_id, "method": "app", "ciba": true, "request": request.id }));
        self.store
            .complete_login(
                None,
                &grant,
                None,
                Effects {
                    audit: vec![audit],
                    messages: vec![],
                },
            )
            .await?;
        self.tokens_for(&grant, &scope, None, GRANT_CIBA).await
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
