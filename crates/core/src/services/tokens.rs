//! The token endpoint (code exchange and refresh), userinfo and logout.

use serde_json::{Map, Value, json};
use sesam_domain::auth_request::AuthRequest;
use sesam_domain::authorization::{
    ACCESS_TOKEN_SECONDS, Authentication, AuthorizationGrant, REFRESH_SECONDS, RefreshToken,
};
use sesam_domain::{AuditDraft, Timestamp};
use sesam_oidc::access_token::{self, AccessTokenClaims};
use sesam_oidc::discovery::paths;
use sesam_oidc::id_token::{self, IdTokenClaims, TokenSigner};
use sesam_oidc::token::{self, TokenRequest};
use sesam_oidc::{OAuthError, Params};
use sesam_store::{Effects, RefreshOutcome, ServiceProviderRecord};
use uuid::Uuid;

use super::authorization::bearer_value;
use crate::context::Sesam;
use crate::error::AppError;

pub use sesam_api::oauth::TokenResponse;

/// The JWS `typ` of approval receipts.
pub use sesam_oidc::receipt::RECEIPT_TYP;

fn seconds(t: Timestamp) -> i64 {
    t.millis().div_euclid(1000)
}

impl Sesam {
    /// The key that signs now. The signing keys come from the read cache (a rotation by
    /// another process takes effect within seconds, by this one at once); the active key
    /// is opened from its sealed record only when it changed.
    async fn active_signer(&self) -> Result<std::sync::Arc<TokenSigner>, AppError> {
        let mut keys = self.current_signing_keys().await?;
        if keys.is_empty() {
            self.ensure_signing_keys().await?;
            keys = self.current_signing_keys().await?;
        }
        let active = keys
            .iter()
            .find(|k| k.state == sesam_domain::signing_keys::KeyState::Active)
            .ok_or_else(|| OAuthError::ServerError("no signing key is active".into()))?;
        let cached = self.signer_cache.read().ok().and_then(|c| c.clone());
        if let Some(signer) = cached.filter(|s| s.kid() == active.kid) {
            return Ok(signer);
        }
        let scalar = zeroize::Zeroizing::new(
            self.keys
                .open_data("token-signing-key", &active.private_sealed)
                .map_err(|_| OAuthError::ServerError("the signing key cannot be opened".into()))?,
        );
        let signer = std::sync::Arc::new(TokenSigner::from_scalar(&active.kid, &scalar)?);
        if let Ok(mut cache) = self.signer_cache.write() {
            *cache = Some(signer.clone());
        }
        Ok(signer)
    }

    fn refresh_hash(&self, token: &str) -> [u8; 32] {
        self.keys.flow_token_hash("refresh", &[token.as_bytes()])
    }

    /// The token endpoint.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn token(
        &self,
        params: &Params,
        authorization: Option<&str>,
    ) -> Result<TokenResponse, AppError> {
        let sp = self.authenticate_client(params, authorization).await?;
        match token::parse(params)? {
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.exchange_code(
                    &sp,
                    &code,
                    redirect_uri.as_deref(),
                    code_verifier.as_deref(),
                )
                .await
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
            } => self.refresh(&sp, &refresh_token, scope.as_deref()).await,
            TokenRequest::Ciba { auth_req_id } => self.ciba_token(&sp, &auth_req_id).await,
        }
    }

    async fn exchange_code(
        &self,
        sp: &ServiceProviderRecord,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<TokenResponse, AppError> {
        let (grant, refresh) = self
            .redeem_authorization_code(sp, code, redirect_uri, verifier, "token.issued")
            .await?;
        self.tokens_for(
            &grant,
            &grant.request.scope,
            refresh,
            token::GRANT_AUTHORIZATION_CODE,
        )
        .await
    }

    /// The code checks of the token endpoint (client, redirect URI, PKCE, expiry, single
    /// use: a replay revokes the grant) and the code's redemption, audited as `action`;
    /// the grant and its new refresh token, if the request asked for one. sesam's own
    /// self-service site redeems its codes here too, without minting tokens it would not use.
    pub(crate) async fn redeem_authorization_code(
        &self,
        sp: &ServiceProviderRecord,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        action: &str,
    ) -> Result<(AuthorizationGrant, Option<String>), AppError> {
        let now = self.clock.now();
        let grant = self
            .store
            .grant_by_code(&self.keys.flow_token_hash("code", &[code.as_bytes()]))
            .await?
            .ok_or_else(|| OAuthError::InvalidGrant("the authorization code is unknown".into()))?;
        // Another client's replay is refused without touching the rightful client's grant.
        token::check_same_client(&grant, &sp.client_id)?;
        if grant.code_used_at.is_some() {
            return Err(self.revoke_replayed(&grant, "code").await);
        }
        token::check_code(&grant, &sp.client_id, redirect_uri, verifier, now)?;
        let refresh = grant
            .request
            .has_scope("offline_access")
            .then(|| bearer_value(self));
        let stored = refresh.as_ref().map(|r| RefreshToken {
            hash: self.refresh_hash(r),
            grant_id: grant.id,
            expires_at: grant.authentication.auth_time.plus_seconds(REFRESH_SECONDS),
            used_at: None,
        });
        let audit = AuditDraft::new(format!("client:{}", sp.client_id), action)
            .subject(grant.authentication.identity_id.to_string())
            .details(json!({ "grant": grant.id, "refresh_token": refresh.is_some() }));
        let fresh = self
            .store
            .redeem_code(
                grant.id,
                now,
                stored.as_ref(),
                Effects {
                    audit: vec![audit],
                    messages: vec![],
                },
            )
            .await?;
        if !fresh {
            return Err(self.revoke_replayed(&grant, "code").await);
        }
        Ok((grant, refresh))
    }

    /// A code or refresh token was used twice: someone holds a copy. Everything the grant
    /// issued stops working.
    async fn revoke_replayed(&self, grant: &AuthorizationGrant, what: &str) -> AppError {
        let audit = AuditDraft::new("system", "grant.revoked")
            .subject(grant.authentication.identity_id.to_string())
            .details(json!({ "grant": grant.id, "reason": format!("{what} used twice") }));
        if let Err(e) = self
            .store
            .revoke_grant(
                grant.id,
                self.clock.now(),
                Effects {
                    audit: vec![audit],
                    messages: vec![],
                },
            )
            .await
        {
            return e.into();
        }
        OAuthError::InvalidGrant(format!(
            "the {what} was used already; the tokens issued from it are revoked"
        ))
        .into()
    }

    async fn refresh(
        &self,
        sp: &ServiceProviderRecord,
        presented: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, AppError> {
        let now = self.clock.now();
        let hash = self.refresh_hash(presented);
        let probe = self.store.grant_of_refresh(&hash).await?;
        let Some(grant) = probe else {
            return Err(
                OAuthError::InvalidGrant("the refresh token is unknown or expired".into()).into(),
            );
        };
        if grant.request.client_id != sp.client_id {
            return Err(OAuthError::InvalidGrant(
                "the refresh token was issued to another client".into(),
            )
            .into());
        }
        let scopes = token::check_refresh_scope(&grant.request.scope, scope)?;
        let next = bearer_value(self);
        let stored = RefreshToken {
            hash: self.refresh_hash(&next),
            grant_id: grant.id,
            expires_at: grant.authentication.auth_time.plus_seconds(REFRESH_SECONDS),
            used_at: None,
        };
        match self.store.use_refresh_token(&hash, &stored, now).await? {
            RefreshOutcome::Rotated(grant) => {
                self.tokens_for(&grant, &scopes, Some(next), token::GRANT_REFRESH_TOKEN)
                    .await
            }
            RefreshOutcome::AlreadyUsed(_) => {
                Err(self.revoke_replayed(&grant, "refresh token").await)
            }
            RefreshOutcome::Invalid => Err(OAuthError::InvalidGrant(
                "the refresh token is unknown, expired or revoked".into(),
            )
            .into()),
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub(crate) async fn tokens_for(
        &self,
        grant: &AuthorizationGrant,
        scopes: &[String],
        refresh_token: Option<String>,
        grant_type: &'static str,
    ) -> Result<TokenResponse, AppError> {
        let now = seconds(self.clock.now());
        let signer = self.active_signer().await?;
        let sub = self
            .keys
            .pairwise_subject(&grant.request.client_id, grant.authentication.identity_id);
        let claims = IdTokenClaims {
            iss: self.issuer.to_string(),
            sub: sub.clone(),
            aud: grant.request.client_id.clone(),
            exp: now + id_token::LIFETIME_SECONDS,
            iat: now,
            auth_time: seconds(grant.authentication.auth_time),
            nonce: if grant_type == token::GRANT_AUTHORIZATION_CODE {
                grant.request.nonce.clone()
            } else {
                None
            },
            acr: grant.authentication.level.acr().to_owned(),
            amr: grant.authentication.method.amr(),
            authorization_details: grant.request.details.as_ref().map(|d| d.to_json()),
            sid: None,
        };
        let id_token = signer.sign(&claims)?;
        metrics::counter!("sesam_tokens_issued_total", "grant_type" => grant_type).increment(1);
        let access = AccessTokenClaims {
            iss: self.issuer.to_string(),
            sub,
            aud: self.endpoint(paths::USERINFO),
            client_id: grant.request.client_id.clone(),
            scope: scopes.join(" "),
            exp: now + ACCESS_TOKEN_SECONDS,
            iat: now,
            jti: Uuid::now_v7().to_string(),
            grant: grant.id,
        };
        Ok(TokenResponse {
            access_token: access_token::sign(&signer, &access)?,
            token_type: "Bearer".into(),
            expires_in: ACCESS_TOKEN_SECONDS,
            id_token,
            refresh_token,
            scope: scopes.join(" "),
            approval_receipt: self.receipt(&signer, grant).await?,
        })
    }

    /// The approval receipt of `grant`: the one signed when the login finished, or for a
    /// grant from before receipts were kept with it, one signed now.
    async fn receipt(
        &self,
        signer: &TokenSigner,
        grant: &AuthorizationGrant,
    ) -> Result<Option<String>, AppError> {
        if let Some(receipt) = &grant.authentication.approval_receipt {
            return Ok(Some(receipt.clone()));
        }
        let Some(id) = grant.authentication.approval else {
            return Ok(None);
        };
        let r = self
            .store
            .auth_request(id)
            .await?
            .ok_or(sesam_store::StoreError::NotFound("approval"))?;
        Ok(Some(
            self.sign_receipt(signer, &grant.request.client_id, &grant.authentication, &r)
                .await?,
        ))
    }

    /// The signed approval receipt of a login approved in the app, made once when the
    /// login finishes and kept with the grant: a JWS by this server that embeds the text,
    /// its hash, the approved details, the device's public key, its signature and the
    /// exact bytes it signed, so the SP can keep verifiable evidence (PSD2 dynamic
    /// linking) and check it offline with the JWKS.
    pub(crate) async fn approval_receipt(
        &self,
        client_id: &str,
        authentication: &Authentication,
        approved: &AuthRequest,
    ) -> Result<String, AppError> {
        let signer = self.active_signer().await?;
        self.sign_receipt(&signer, client_id, authentication, approved)
            .await
    }

    async fn sign_receipt(
        &self,
        signer: &TokenSigner,
        client_id: &str,
        authentication: &Authentication,
        r: &AuthRequest,
    ) -> Result<String, AppError> {
        use sesam_domain::app_protocol::b64;
        let (Some(device_id), Some(signature), Some(signed_bytes)) =
            (r.device_id, &r.signature, &r.signed_bytes)
        else {
            return Err(
                OAuthError::ServerError("the approval has no device signature".into()).into(),
            );
        };
        let device = self
            .store
            .device(device_id)
            .await?
            .ok_or(sesam_store::StoreError::NotFound("device"))?;
        let sec1 = device.public_key.to_sec1();
        let claims = json!({
            "iss": self.issuer.to_string(),
            "aud": client_id,
            "sub": self.keys.pairwise_subject(client_id, authentication.identity_id),
            "iat": seconds(self.clock.now()),
            "jti": r.id,
            "request_id": r.id,
            "sp_name": r.sp_name,
            "action": r.action.as_str(),
            "text": r.text.as_str(),
            "text_sha256": b64(&r.text.sha256()),
            "authorization_details": r.details.as_ref().map(|d| d.to_json()),
            "approved_at": r.decided_at.map(seconds),
            "acr": authentication.level.acr(),
            "device": {
                "public_key": { "kty": "EC", "crv": "P-256", "x": b64(&sec1[1..33]), "y": b64(&sec1[33..65]) },
                "signature": b64(signature),
                "signed_bytes": b64(signed_bytes),
                "alg": "ES256",
            },
        });
        Ok(signer.sign_typed(&claims, Some(RECEIPT_TYP))?)
    }

    /// The userinfo endpoint: the claims the access token's scopes allow.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn userinfo(&self, authorization: Option<&str>) -> Result<Value, AppError> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                OAuthError::InvalidToken(
                    "an access token is required (Authorization: Bearer ...)".into(),
                )
            })?;
        // The published keys from the read cache, as they are (no JWKS made and read back).
        let now = self.clock.now();
        let signing_keys = self.current_signing_keys().await?;
        let keys: Vec<access_token::PublishedKey<'_>> = signing_keys
            .iter()
            .filter(|k| k.published(now))
            .map(|k| access_token::PublishedKey {
                kid: &k.kid,
                public_sec1: &k.public_sec1,
            })
            .collect();
        let claims = access_token::verify(
            token,
            &keys,
            &self.issuer,
            &self.endpoint(paths::USERINFO),
            seconds(now),
        )?;
        let grant = self
            .store
            .grant(claims.grant)
            .await?
            .filter(|g| g.revoked_at.is_none())
            .ok_or_else(|| OAuthError::InvalidToken("the access token was revoked".into()))?;
        let identity = self
            .store
            .identity(grant.authentication.identity_id)
            .await?
            .filter(|i| i.state == sesam_domain::IdentityState::Active)
            .ok_or_else(|| OAuthError::InvalidToken("the identity can no longer be used".into()))?;
        let scopes: Vec<&str> = claims.scope.split(' ').collect();
        let mut out = Map::new();
        out.insert("sub".into(), json!(claims.sub));
        if grant.authentication.approval_receipt.is_some()
            || grant.authentication.approval.is_some()
        {
            let signer = self.active_signer().await?;
            if let Some(receipt) = self.receipt(&signer, &grant).await? {
                out.insert("approval_receipt".into(), json!(receipt));
            }
        }
        if scopes.contains(&"profile") {
            let name = identity.name.as_str();
            let (given, family) = match name.rsplit_once(' ') {
                Some((g, f)) => (g, f),
                None => (name, ""),
            };
            out.insert("name".into(), json!(name));
            out.insert("given_name".into(), json!(given));
            if !family.is_empty() {
                out.insert("family_name".into(), json!(family));
            }
            out.insert("birthdate".into(), json!(identity.birthdate.to_string()));
        }
        if scopes.contains(&"national_id") {
            let allowed = self
                .registered_sp(&claims.client_id)
                .await?
                .is_some_and(|sp| sp.allow_national_id);
            if allowed {
                let sealed = self
                    .store
                    .national_id_sealed(identity.id)
                    .await?
                    .ok_or_else(|| {
                        OAuthError::ServerError("the national ID number is missing".into())
                    })?;
                let nid = self
                    .keys
                    .open_national_id(&sealed, identity.id)
                    .map_err(|_| {
                        OAuthError::ServerError("the national ID number cannot be opened".into())
                    })?;
                out.insert("national_id".into(), json!(nid.expose_digits()));
                let audit = AuditDraft::new(
                    format!("client:{}", claims.client_id),
                    "national_id.released",
                )
                .subject(identity.id.to_string())
                .details(json!({ "grant": grant.id }));
                self.store.append_audit(self.clock.now(), &audit).await?;
            }
        }
        Ok(Value::Object(out))
    }

    /// RP-initiated logout. Ends the browser's session; returns where to send the browser
    /// (the client's `post_logout_redirect_uri`, which must be one of its registered
    /// redirect URIs, with `state`), or `None` for sesam's own "logged out" page.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn logout(
        &self,
        params: &Params,
        session: Option<&str>,
    ) -> Result<Option<String>, AppError> {
        let client_id = match params.get("id_token_hint") {
            Some(hint) => Some(self.id_token_hint(hint).await?.aud),
            None => params.get("client_id").map(str::to_owned),
        };
        if let (Some(hinted), Some(given)) = (&client_id, params.get("client_id"))
            && hinted != given
        {
            return Err(
                OAuthError::invalid_request("client_id does not match id_token_hint").into(),
            );
        }
        let redirect = match params.get("post_logout_redirect_uri") {
            None => None,
            Some(uri) => {
                let client_id = client_id.as_deref().ok_or_else(|| {
                    OAuthError::invalid_request(
                        "post_logout_redirect_uri needs id_token_hint or client_id",
                    )
                })?;
                let sp = self.registered_sp(client_id).await?.ok_or_else(|| {
                    OAuthError::invalid_request("client_id is not a registered client")
                })?;
                if !sp.redirect_uris.iter().any(|r| r == uri) {
                    return Err(OAuthError::invalid_request(
                        "post_logout_redirect_uri is not one of the client's registered redirect URIs",
                    ).into());
                }
                let mut q = form_urlencoded::Serializer::new(String::new());
                if let Some(state) = params.get("state") {
                    q.append_pair("state", state);
                }
                let query = q.finish();
                Some(if query.is_empty() {
                    uri.to_owned()
                } else {
                    format!("{uri}{}{query}", if uri.contains('?') { '&' } else { '?' })
                })
            }
        };
        if let Some(s) = session {
            let audit = AuditDraft::new("browser", "session.ended")
                .details(json!({ "client_id": client_id }));
            self.store
                .end_browser_session(
                    &self.session_hash(s),
                    self.clock.now(),
                    Effects {
                        audit: vec![audit],
                        messages: vec![],
                    },
                )
                .await?;
        }
        Ok(redirect)
    }

    /// Whether a logout may end this browser's session without asking the person. Only
    /// when the `id_token_hint` names the session's own person for its client (the pairwise
    /// `sub` of the session's identity at that client), or there is no live session to end.
    /// Any other sesam-signed hint (another person's, from any SP) could be put in a link
    /// by anyone, so it gets the confirmation page like a logout without a hint. Expired
    /// hints count when they match: logout comes long after an ID token's 5 minutes.
    /// A hint sesam did not sign is an error.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn logout_without_asking(
        &self,
        hint: &str,
        session: Option<&str>,
    ) -> Result<bool, AppError> {
        let claims = self.id_token_hint(hint).await?;
        let live = match session {
            Some(s) => {
                self.store
                    .browser_session(&self.session_hash(s), self.clock.now())
                    .await?
            }
            None => None,
        };
        let Some(live) = live else {
            return Ok(true);
        };
        let own = self
            .keys
            .pairwise_subject(&claims.aud, live.authentication.identity_id);
        Ok(sesam_domain::secrets::ct_eq(
            own.as_bytes(),
            claims.sub.as_bytes(),
        ))
    }

    /// The claims of an ID token this server signed (expired ones too: logout comes
    /// after the 5 minutes an ID token lives).
    async fn id_token_hint(&self, token: &str) -> Result<IdTokenClaims, AppError> {
        let jwks = self.cached_jwks().await?;
        let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
        let header = id_token::kid_of(token)?;
        let jwk = keys
            .iter()
            .find(|k| k.get("kid").and_then(Value::as_str) == header.as_deref())
            .ok_or_else(|| {
                OAuthError::invalid_request("id_token_hint was not signed by a published key")
            })?;
        Ok(id_token::hint_of_expired(token, jwk, &self.issuer)?)
    }
}
