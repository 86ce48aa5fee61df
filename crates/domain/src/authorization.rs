//! OpenID Connect flow state as sesam keeps it between requests: the validated
//! authorization request (what PAR stores and the login pages carry), the grant an
//! authorization code stands for, refresh tokens and browser sessions. Every value here is
//! short-lived and single-use where the protocol says so; the protocol checks that build
//! them live in the `oidc` crate.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::action::Action;
use crate::clock::Timestamp;
use crate::level::Level;
pub use crate::locale::Locale;
use crate::user_id::UserId;

/// A pushed authorization request lives 90 seconds (RFC 9126 suggests a short lifetime).
pub const PAR_SECONDS: i64 = 90;
/// An authorization code is valid for one minute.
pub const CODE_SECONDS: i64 = 60;
/// A login (the pages between `/authorize` and the redirect back) may take 10 minutes.
pub const LOGIN_FLOW_SECONDS: i64 = 10 * 60;
/// Access tokens (for userinfo) live 5 minutes, like ID tokens.
pub const ACCESS_TOKEN_SECONDS: i64 = 5 * 60;
/// A refresh token can be used for 8 hours after the login, rotated at every use.
pub const REFRESH_SECONDS: i64 = 8 * 3600;
/// A browser session (for `prompt=none` and `max_age`) lasts 30 minutes.
pub const SESSION_SECONDS: i64 = 30 * 60;

/// An authorization request after every protocol check: only valid requests are stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Space-separated scopes as granted (always containing `openid`).
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// `prompt=login`: authenticate again even with a session.
    pub force_login: bool,
    /// `prompt=none`: never show a page; answer `login_required` without a session.
    pub no_prompt: bool,
    pub max_age: Option<i64>,
    /// The lowest level the SP accepts (from `acr_values`); `None` accepts any level.
    pub min_level: Option<Level>,
    /// The page language the SP asked for (`ui_locales`).
    pub ui_locale: Option<Locale>,
    /// A user ID the SP already knows (pre-fills the first page).
    pub login_hint: Option<String>,
    pub action: Action,
    /// What the SP asks the person to approve (RFC 9396), if more than a login.
    #[serde(default)]
    pub details: Option<crate::authorization_details::AuthorizationDetail>,
    /// Whether the request came through PAR.
    pub pushed: bool,
}

impl AuthorizationRequest {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.iter().any(|s| s == scope)
    }
}

/// The ways to log in on the browser pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginMethod {
    /// The sesam app (approval with the app PIN).
    App,
    /// A code display (6-digit code) with the password.
    CodeDisplay,
    /// A chip (FIDO2 security key) with the password.
    Chip,
}

impl LoginMethod {
    pub const ALL: [Self; 3] = [Self::App, Self::CodeDisplay, Self::Chip];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::CodeDisplay => "code_display",
            Self::Chip => "chip",
        }
    }

    /// The authenticator assurance level the method gives (DESIGN §3). A chip gives
    /// `high` (capped by the identity's IAL later); the app with PIN gives `substantial`.
    pub fn aal(self) -> Level {
        match self {
            Self::App | Self::CodeDisplay => Level::Substantial,
            Self::Chip => Level::High,
        }
    }

    /// The level a login with this method gives the identity: min(IAL, AAL).
    pub fn level_for(self, ial: Level) -> Level {
        ial.min(self.aal())
    }

    /// RFC 8176 authentication method references.
    pub fn amr(self) -> Vec<String> {
        let v: &[&str] = match self {
            Self::App => &["swk", "pin", "mfa"],
            Self::CodeDisplay => &["otp", "pwd", "mfa"],
            Self::Chip => &["hwk", "pwd", "mfa"],
        };
        v.iter().map(|s| (*s).to_owned()).collect()
    }
}

/// The highest level any login method can reach for an identity proofed at `ial`.
pub fn best_possible(ial: Level) -> Level {
    LoginMethod::ALL
        .into_iter()
        .map(|m| m.level_for(ial))
        .max()
        .unwrap_or(Level::Low)
}

/// Where a login stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowStep {
    /// Waiting for the user ID.
    UserId,
    /// User ID given; choosing or using an authenticator.
    Authenticate,
}

impl FlowStep {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserId => "user_id",
            Self::Authenticate => "authenticate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user_id" => Some(Self::UserId),
            "authenticate" => Some(Self::Authenticate),
            _ => None,
        }
    }
}

/// One login in progress in one browser. The flow is bound to the browser that started it
/// (a keyed hash of its browser cookie), so a leaked flow link is useless elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFlow {
    pub id: Uuid,
    pub browser_hash: [u8; 32],
    pub request: AuthorizationRequest,
    pub step: FlowStep,
    /// The user ID as the person typed it (shown back to them).
    pub user_id_input: Option<String>,
    /// The identity behind the user ID; `None` also when the user ID is unknown, which the
    /// pages never reveal.
    pub identity_id: Option<Uuid>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl LoginFlow {
    pub fn expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    /// The person gave a user ID: on to the authenticators. `identity_id` is `None` for
    /// an unknown user ID, and the flow goes on the same way (no existence oracle).
    pub fn user_id_given(&mut self, user_id: &UserId, identity_id: Option<Uuid>) {
        self.step = FlowStep::Authenticate;
        self.user_id_input = Some(user_id.as_str().to_owned());
        self.identity_id = identity_id;
    }

    /// "Not you?": back to the user ID (what was typed stays, to be shown again).
    pub fn restart(&mut self) {
        self.step = FlowStep::UserId;
        self.identity_id = None;
    }
}

/// What a completed login proves: who, how, when and at what level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    pub identity_id: Uuid,
    pub method: LoginMethod,
    pub level: Level,
    pub auth_time: Timestamp,
    /// The app approval (request id) behind this login.
    #[serde(default)]
    pub approval: Option<Uuid>,
    /// The signed approval receipt (a JWS for the SP that asked), made once when the
    /// login finished; never carried into a browser session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_receipt: Option<String>,
}

impl Authentication {
    /// What a browser session keeps of a login: who, how and when, not the approval
    /// (a session logs in to other SPs, and an approval was given to one SP only).
    pub fn for_session(&self) -> Self {
        Self {
            approval: None,
            approval_receipt: None,
            ..self.clone()
        }
    }
}

/// The grant an authorization code stands for; tokens issued from it name it, so a
/// replayed code can revoke everything the grant gave out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationGrant {
    pub id: Uuid,
    pub code_hash: [u8; 32],
    pub request: AuthorizationRequest,
    pub authentication: Authentication,
    pub created_at: Timestamp,
    pub code_expires_at: Timestamp,
    pub code_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// One refresh token (stored as a keyed hash). Using it marks it used and issues the next;
/// using a used one again revokes the grant (a stolen token was replayed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub hash: [u8; 32],
    pub grant_id: Uuid,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

/// A browser's login session with sesam (for `prompt=none`, `max_age` and logout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    pub id_hash: [u8; 32],
    pub authentication: Authentication,
    pub expires_at: Timestamp,
}

impl BrowserSession {
    /// Whether the session may answer a request without a new login. A session only logs
    /// in: a request to approve, confirm, accept or sign something (a payment, a text)
    /// always needs the person's own approval of that text.
    pub fn satisfies(&self, request: &AuthorizationRequest, now: Timestamp) -> bool {
        if now >= self.expires_at
            || request.force_login
            || request.details.is_some()
            || request.action != Action::LogOn
        {
            return false;
        }
        if let Some(max_age) = request.max_age {
            let age_ms = now.millis() - self.authentication.auth_time.millis();
            if age_ms > max_age.saturating_mul(1000) {
                return false;
            }
        }
        request
            .min_level
            .is_none_or(|min| self.authentication.level >= min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: "sp_1".into(),
            redirect_uri: "https://sp.example/cb".into(),
            scope: vec!["openid".into()],
            state: None,
            nonce: None,
            code_challenge: "x".repeat(43),
            force_login: false,
            no_prompt: false,
            max_age: None,
            min_level: None,
            ui_locale: None,
            login_hint: None,
            action: Action::LogOn,
            details: None,
            pushed: false,
        }
    }

    #[test]
    fn a_flow_goes_to_the_authenticators_and_back() {
        let t = Timestamp::from_millis(1_000_000_000);
        let mut flow = LoginFlow {
            id: Uuid::from_u128(1),
            browser_hash: [7; 32],
            request: request(),
            step: FlowStep::UserId,
            user_id_input: None,
            identity_id: None,
            created_at: t,
            expires_at: t.plus_seconds(LOGIN_FLOW_SECONDS),
        };
        let anna = Uuid::from_u128(2);
        flow.user_id_given(&UserId::parse("annahansen").unwrap(), Some(anna));
        assert_eq!(flow.step, FlowStep::Authenticate);
        assert_eq!(flow.user_id_input.as_deref(), Some("annahansen"));
        assert_eq!(flow.identity_id, Some(anna));
        flow.restart();
        assert_eq!(flow.step, FlowStep::UserId);
        assert_eq!(flow.identity_id, None);
        // An unknown user ID moves on all the same.
        flow.user_id_given(&UserId::parse("nobody99").unwrap(), None);
        assert_eq!(flow.step, FlowStep::Authenticate);
        assert_eq!(flow.identity_id, None);
    }

    #[test]
    fn levels_are_min_of_ial_and_aal() {
        assert_eq!(LoginMethod::Chip.level_for(Level::High), Level::High);
        assert_eq!(
            LoginMethod::Chip.level_for(Level::Substantial),
            Level::Substantial
        );
        assert_eq!(
            LoginMethod::CodeDisplay.level_for(Level::High),
            Level::Substantial
        );
        assert_eq!(LoginMethod::App.level_for(Level::Low), Level::Low);
        assert_eq!(best_possible(Level::High), Level::High);
        assert_eq!(best_possible(Level::Substantial), Level::Substantial);
    }

    #[test]
    fn amr_values_are_rfc_8176() {
        assert_eq!(LoginMethod::CodeDisplay.amr(), ["otp", "pwd", "mfa"]);
        assert_eq!(LoginMethod::Chip.amr(), ["hwk", "pwd", "mfa"]);
    }

    #[test]
    fn sessions_answer_only_what_they_can() {
        let t = Timestamp::from_millis(1_000_000_000);
        let s = BrowserSession {
            id_hash: [0; 32],
            authentication: Authentication {
                identity_id: Uuid::nil(),
                method: LoginMethod::CodeDisplay,
                level: Level::Substantial,
                auth_time: t,
                approval: None,
                approval_receipt: None,
            },
            expires_at: t.plus_seconds(SESSION_SECONDS),
        };
        let now = t.plus_seconds(120);
        assert!(s.satisfies(&request(), now));
        assert!(!s.satisfies(
            &AuthorizationRequest {
                force_login: true,
                ..request()
            },
            now
        ));
        assert!(!s.satisfies(
            &AuthorizationRequest {
                max_age: Some(60),
                ..request()
            },
            now
        ));
        assert!(s.satisfies(
            &AuthorizationRequest {
                max_age: Some(600),
                ..request()
            },
            now
        ));
        assert!(!s.satisfies(
            &AuthorizationRequest {
                min_level: Some(Level::High),
                ..request()
            },
            now
        ));
        assert!(!s.satisfies(&request(), t.plus_seconds(SESSION_SECONDS)));
        let payment = crate::authorization_details::AuthorizationDetail::parse(
            r#"[{"type":"payment_initiation","instructedAmount":{"currency":"DKK","amount":"10.00"},"creditorName":"Jens Hansen","creditorAccount":{"iban":"DK5000400440116243"}}]"#,
        )
        .unwrap();
        assert!(!s.satisfies(
            &AuthorizationRequest {
                details: Some(payment),
                ..request()
            },
            now
        ));
        assert!(!s.satisfies(
            &AuthorizationRequest {
                action: Action::Sign,
                ..request()
            },
            now
        ));
    }
}
