//! The token endpoint: which grant is asked for, and the checks an authorization code must
//! pass before it is exchanged (client, redirect URI, PKCE, expiry, single use).

use sesam_domain::Timestamp;
use sesam_domain::authorization::AuthorizationGrant;

use crate::params::Params;
use crate::{OAuthError, pkce};

pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
/// OpenID Connect CIBA (poll mode).
pub const GRANT_CIBA: &str = "urn:openid:params:grant-type:ciba";

/// A parsed token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        scope: Option<String>,
    },
    Ciba {
        auth_req_id: String,
    },
}

pub fn parse(params: &Params) -> Result<TokenRequest, OAuthError> {
    match params.require("grant_type")? {
        GRANT_AUTHORIZATION_CODE => Ok(TokenRequest::AuthorizationCode {
            code: params.require("code")?.to_owned(),
            redirect_uri: params.get("redirect_uri").map(str::to_owned),
            code_verifier: params.get("code_verifier").map(str::to_owned),
        }),
        GRANT_REFRESH_TOKEN => Ok(TokenRequest::RefreshToken {
            refresh_token: params.require("refresh_token")?.to_owned(),
            scope: params.get("scope").map(str::to_owned),
        }),
        GRANT_CIBA => Ok(TokenRequest::Ciba {
            auth_req_id: params.require("auth_req_id")?.to_owned(),
        }),
        other => Err(OAuthError::UnsupportedGrantType(format!(
            "grant_type '{}' is not supported; use authorization_code, refresh_token or {GRANT_CIBA}",
            other.chars().take(60).collect::<String>()
        ))),
    }
}

fn check_not_expired(grant: &AuthorizationGrant, now: Timestamp) -> Result<(), OAuthError> {
    if now >= grant.code_expires_at {
        return Err(OAuthError::InvalidGrant(
            "the authorization code has expired".into(),
        ));
    }
    Ok(())
}

/// The code belongs to the client presenting it. Checked first, even before single use:
/// a code that leaked to another client must not let that client revoke the rightful
/// client's grant by replaying it.
pub fn check_same_client(grant: &AuthorizationGrant, client_id: &str) -> Result<(), OAuthError> {
    if grant.request.client_id != client_id {
        return Err(OAuthError::InvalidGrant(
            "the authorization code was issued to another client".into(),
        ));
    }
    Ok(())
}

fn check_same_redirect_uri(
    grant: &AuthorizationGrant,
    redirect_uri: Option<&str>,
) -> Result<(), OAuthError> {
    match redirect_uri {
        Some(u) if u == grant.request.redirect_uri => Ok(()),
        Some(_) => Err(OAuthError::InvalidGrant(
            "redirect_uri differs from the one in the authorization request".into(),
        )),
        None => Err(OAuthError::invalid_request("redirect_uri is required")),
    }
}

fn check_not_revoked(grant: &AuthorizationGrant) -> Result<(), OAuthError> {
    if grant.revoked_at.is_some() {
        return Err(OAuthError::InvalidGrant(
            "the authorization code was revoked".into(),
        ));
    }
    Ok(())
}

/// Every check of an unused code, in order. (A used code never gets here: the caller
/// refuses it and revokes what it issued.)
pub fn check_code(
    grant: &AuthorizationGrant,
    client_id: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: Timestamp,
) -> Result<(), OAuthError> {
    check_not_revoked(grant)?;
    check_not_expired(grant, now)?;
    check_same_client(grant, client_id)?;
    check_same_redirect_uri(grant, redirect_uri)?;
    pkce::verify(code_verifier, &grant.request.code_challenge)
}

/// A refresh request may narrow the scope, never widen it (RFC 6749 §6).
pub fn check_refresh_scope(
    granted: &[String],
    requested: Option<&str>,
) -> Result<Vec<String>, OAuthError> {
    let Some(requested) = requested else {
        return Ok(granted.to_vec());
    };
    let asked: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    if let Some(extra) = asked.iter().find(|s| !granted.iter().any(|g| g == *s)) {
        return Err(OAuthError::InvalidScope(format!(
            "scope '{}' was not granted",
            extra.chars().take(40).collect::<String>()
        )));
    }
    Ok(granted
        .iter()
        .filter(|g| asked.contains(&g.as_str()))
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use sesam_domain::Level;
    use sesam_domain::authorization::{Action, Authentication, AuthorizationRequest, LoginMethod};
    use uuid::Uuid;

    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const T: Timestamp = Timestamp::from_millis(1_000_000_000);

    fn grant() -> AuthorizationGrant {
        AuthorizationGrant {
            id: Uuid::nil(),
            code_hash: [0; 32],
            request: AuthorizationRequest {
                client_id: "sp_1".into(),
                redirect_uri: "https://sp.example/cb".into(),
                scope: vec!["openid".into(), "profile".into()],
                state: None,
                nonce: None,
                code_challenge: CHALLENGE.into(),
                force_login: false,
                no_prompt: false,
                max_age: None,
                min_level: None,
                ui_locale: None,
                login_hint: None,
                action: Action::LogOn,
                details: None,
                pushed: false,
            },
            authentication: Authentication {
                identity_id: Uuid::nil(),
                method: LoginMethod::CodeDisplay,
                level: Level::Substantial,
                auth_time: T,
                approval: None,
                approval_receipt: None,
            },
            created_at: T,
            code_expires_at: T.plus_seconds(60),
            code_used_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn a_good_exchange() {
        check_code(
            &grant(),
            "sp_1",
            Some("https://sp.example/cb"),
            Some(VERIFIER),
            T,
        )
        .unwrap();
    }

    #[test]
    fn each_check_refuses() {
        let g = grant();
        let uri = Some("https://sp.example/cb");
        assert_eq!(
            check_code(&g, "sp_2", uri, Some(VERIFIER), T)
                .unwrap_err()
                .code(),
            "invalid_grant"
        );
        assert_eq!(
            check_code(
                &g,
                "sp_1",
                Some("https://sp.example/other"),
                Some(VERIFIER),
                T
            )
            .unwrap_err()
            .code(),
            "invalid_grant"
        );
        assert_eq!(
            check_code(&g, "sp_1", None, Some(VERIFIER), T)
                .unwrap_err()
                .code(),
            "invalid_request"
        );
        assert_eq!(
            check_code(&g, "sp_1", uri, None, T).unwrap_err().code(),
            "invalid_grant"
        );
        assert_eq!(
            check_code(&g, "sp_1", uri, Some(&"a".repeat(43)), T)
                .unwrap_err()
                .code(),
            "invalid_grant"
        );
        assert!(
            check_code(&g, "sp_1", uri, Some(VERIFIER), T.plus_seconds(60))
                .unwrap_err()
                .to_string()
                .contains("expired")
        );
        let revoked = AuthorizationGrant {
            revoked_at: Some(T),
            ..grant()
        };
        assert!(check_code(&revoked, "sp_1", uri, Some(VERIFIER), T).is_err());
    }

    #[test]
    fn grant_types() {
        let p = Params::from_urlencoded("grant_type=password&username=a").unwrap();
        assert_eq!(parse(&p).unwrap_err().code(), "unsupported_grant_type");
        let p = Params::from_urlencoded("grant_type=authorization_code").unwrap();
        assert_eq!(parse(&p).unwrap_err().code(), "invalid_request");
        let p = Params::from_urlencoded("code=x").unwrap();
        assert_eq!(parse(&p).unwrap_err().code(), "invalid_request");
    }

    #[test]
    fn refresh_scope_can_only_narrow() {
        let granted = vec!["openid".to_owned(), "profile".to_owned()];
        assert_eq!(
            check_refresh_scope(&granted, Some("openid")).unwrap(),
            ["openid"]
        );
        assert_eq!(check_refresh_scope(&granted, None).unwrap(), granted);
        assert_eq!(
            check_refresh_scope(&granted, Some("openid national_id"))
                .unwrap_err()
                .code(),
            "invalid_scope"
        );
    }
}
