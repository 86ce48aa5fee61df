//! The authorization request, checked as a pipeline of named steps (the shape of
//! node-oidc-provider's `lib/actions/authorization/`). The same pipeline serves the
//! front channel (`/authorize`) and PAR (`/par`); what differs is who may be told about
//! an error: until the client and its redirect URI are known to be right, an error is
//! shown to the person and never sent anywhere.

use sesam_domain::Level;
use sesam_domain::authorization::{Action, AuthorizationRequest, Locale};
use sesam_domain::authorization_details::AuthorizationDetail;
use sesam_domain::text::first_hidden;

use crate::params::Params;
use crate::{OAuthError, pkce};

/// The scopes sesam knows; others are ignored, as OpenID Connect asks.
pub const SUPPORTED_SCOPES: [&str; 4] = ["openid", "profile", "national_id", "offline_access"];

/// The `acr` values sesam issues, lowest first.
pub const ACR_VALUES: [(&str, Level); 3] = [
    ("http://eidas.europa.eu/LoA/low", Level::Low),
    ("http://eidas.europa.eu/LoA/substantial", Level::Substantial),
    ("http://eidas.europa.eu/LoA/high", Level::High),
];

/// What the pipeline needs to know of the registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    pub require_par: bool,
    pub allow_national_id: bool,
}

/// How the request arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// In the browser's query string.
    Front,
    /// Pushed by the client, authenticated (RFC 9126).
    Pushed,
}

/// A refused authorization request, and where the refusal may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or redirect URI is wrong: show an error page, never redirect.
    Show(OAuthError),
    /// Send the error to the client's (verified) redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

impl AuthorizeError {
    pub fn error(&self) -> &OAuthError {
        match self {
            Self::Show(e) | Self::Redirect { error: e, .. } => e,
        }
    }
}

/// Step 1: which client is asking (the caller looks it up).
pub fn client_id(params: &Params) -> Result<&str, AuthorizeError> {
    params.require("client_id").map_err(AuthorizeError::Show)
}

/// Step 2: the redirect URI is required and must be one of the client's, exactly.
pub fn check_redirect_uri<'a>(
    params: &'a Params,
    client: &Client,
) -> Result<&'a str, AuthorizeError> {
    let uri = params
        .require("redirect_uri")
        .map_err(AuthorizeError::Show)?;
    if !client.redirect_uris.iter().any(|r| r == uri) {
        return Err(AuthorizeError::Show(OAuthError::invalid_request(
            "redirect_uri is not registered for this client (it must match exactly)",
        )));
    }
    Ok(uri)
}

fn check_no_request_object(params: &Params) -> Result<(), OAuthError> {
    if params.contains("request") {
        return Err(OAuthError::RequestNotSupported);
    }
    Ok(())
}

fn check_par_required(client: &Client, via: Via) -> Result<(), OAuthError> {
    if client.require_par && via == Via::Front {
        return Err(OAuthError::invalid_request(
            "this client must push its authorization requests (PAR) and send only request_uri",
        ));
    }
    Ok(())
}

fn check_response_type(params: &Params) -> Result<(), OAuthError> {
    match params.require("response_type")? {
        "code" => Ok(()),
        _ => Err(OAuthError::UnsupportedResponseType),
    }
}

fn check_response_mode(params: &Params) -> Result<(), OAuthError> {
    match params.get("response_mode") {
        None | Some("query") => Ok(()),
        Some(_) => Err(OAuthError::invalid_request("response_mode must be query")),
    }
}

fn check_scope(params: &Params, client: &Client) -> Result<Vec<String>, OAuthError> {
    let scope = params.require("scope")?;
    let requested: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if !requested.contains(&"openid") {
        return Err(OAuthError::InvalidScope("scope must contain openid".into()));
    }
    if requested.contains(&"national_id") && !client.allow_national_id {
        return Err(OAuthError::InvalidScope(
            "this client is not allowed the national_id scope".into(),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for s in SUPPORTED_SCOPES {
        if requested.contains(&s) {
            out.push(s.to_owned());
        }
    }
    Ok(out)
}

fn visible_value(
    params: &Params,
    name: &str,
    max_chars: usize,
) -> Result<Option<String>, OAuthError> {
    let Some(v) = params.get(name) else {
        return Ok(None);
    };
    if v.chars().count() > max_chars {
        return Err(OAuthError::invalid_request(format!(
            "{name} may have at most {max_chars} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(OAuthError::invalid_request(format!(
            "{name} contains a control character"
        )));
    }
    Ok(Some(v.to_owned()))
}

struct Prompt {
    login: bool,
    none: bool,
}

fn check_prompt(params: &Params) -> Result<Prompt, OAuthError> {
    let mut p = Prompt {
        login: false,
        none: false,
    };
    let Some(value) = params.get("prompt") else {
        return Ok(p);
    };
    let values: Vec<&str> = value.split(' ').filter(|s| !s.is_empty()).collect();
    for v in &values {
        match *v {
            "none" => p.none = true,
            "login" => p.login = true,
            // sesam asks no consent and has one account per person: nothing to do.
            "consent" | "select_account" => {}
            other => {
                return Err(OAuthError::invalid_request(format!(
                    "unknown prompt value '{}'",
                    other.chars().take(20).collect::<String>()
                )));
            }
        }
    }
    if p.none && values.len() > 1 {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other prompt values",
        ));
    }
    Ok(p)
}

fn check_max_age(params: &Params) -> Result<Option<i64>, OAuthError> {
    let Some(v) = params.get("max_age") else {
        return Ok(None);
    };
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(OAuthError::invalid_request(
            "max_age must be a non-negative whole number of seconds",
        ));
    }
    v.parse()
        .map(Some)
        .map_err(|_| OAuthError::invalid_request("max_age is out of range"))
}

/// The lowest of the requested `acr` values: the SP accepts any of them.
fn check_acr_values(params: &Params) -> Result<Option<Level>, OAuthError> {
    let Some(v) = params.get("acr_values") else {
        return Ok(None);
    };
    let mut min: Option<Level> = None;
    for value in v.split(' ').filter(|s| !s.is_empty()) {
        let level = ACR_VALUES
            .iter()
            .find(|(uri, _)| *uri == value)
            .map(|(_, l)| *l)
            .ok_or_else(|| {
                OAuthError::invalid_request(format!(
                    "unknown acr value '{}'; use http://eidas.europa.eu/LoA/low, substantial or high",
                    value.chars().take(60).collect::<String>()
                ))
            })?;
        min = Some(min.map_or(level, |m| m.min(level)));
    }
    Ok(min)
}

fn check_ui_locales(params: &Params) -> Option<Locale> {
    params
        .get("ui_locales")
        .and_then(|v| Locale::first_supported(v.split(' ')))
}

fn check_login_hint(params: &Params) -> Result<Option<String>, OAuthError> {
    let hint = visible_value(params, "login_hint", 64)?;
    if let Some(h) = &hint
        && first_hidden(h).is_some()
    {
        return Err(OAuthError::invalid_request(
            "login_hint contains an invisible or direction-changing character",
        ));
    }
    Ok(hint)
}

/// RFC 9396 `authorization_details` (`sesam_transaction` or `payment_initiation`): what
/// the person will be asked to approve, and the action shown in the header.
fn check_authorization_details(params: &Params) -> Result<Option<AuthorizationDetail>, OAuthError> {
    params
        .get("authorization_details")
        .map(AuthorizationDetail::parse)
        .transpose()
        .map_err(|e| OAuthError::invalid_request(e.to_string()))
}

/// Steps 3 onwards: everything else, with errors that may be redirected to the client.
pub fn validate(
    params: &Params,
    client: &Client,
    via: Via,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let redirect_uri = check_redirect_uri(params, client)?.to_owned();
    let state = visible_value(params, "state", 2048).map_err(AuthorizeError::Show)?;
    let redirect = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
    };
    check_no_request_object(params).map_err(redirect)?;
    check_par_required(client, via).map_err(redirect)?;
    check_response_type(params).map_err(redirect)?;
    check_response_mode(params).map_err(redirect)?;
    let scope = check_scope(params, client).map_err(redirect)?;
    let code_challenge = pkce::check_challenge(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    )
    .map_err(redirect)?;
    let nonce = visible_value(params, "nonce", 512).map_err(redirect)?;
    let prompt = check_prompt(params).map_err(redirect)?;
    let max_age = check_max_age(params).map_err(redirect)?;
    let min_level = check_acr_values(params).map_err(redirect)?;
    let login_hint = check_login_hint(params).map_err(redirect)?;
    let details = check_authorization_details(params).map_err(redirect)?;
    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        scope,
        state,
        nonce,
        code_challenge,
        force_login: prompt.login || max_age == Some(0),
        no_prompt: prompt.none,
        max_age,
        min_level,
        ui_locale: check_ui_locales(params),
        login_hint,
        action: details
            .as_ref()
            .map_or(Action::LogOn, AuthorizationDetail::action),
        details,
        pushed: via == Via::Pushed,
    })
}

/// The prefix of PAR request URIs (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// At `/authorize` with a `request_uri`: the pushed request's handle, and the client
/// that must match it. Other parameters are ignored (RFC 9126 §4).
pub fn pushed_reference(params: &Params) -> Result<Option<&str>, AuthorizeError> {
    let Some(uri) = params.get("request_uri") else {
        return Ok(None);
    };
    uri.strip_prefix(REQUEST_URI_PREFIX)
        .filter(|h| !h.is_empty() && h.len() <= 128)
        .map(Some)
        .ok_or_else(|| {
            AuthorizeError::Show(OAuthError::InvalidRequestUri(
                "request_uri is not one this server issued".into(),
            ))
        })
}

/// At `/par`: a pushed request may not itself refer to a pushed request.
pub fn check_pushable(params: &Params) -> Result<(), OAuthError> {
    if params.contains("request_uri") {
        return Err(OAuthError::invalid_request(
            "request_uri may not be pushed; push the parameters themselves",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> Client {
        Client {
            client_id: "sp_1".into(),
            redirect_uris: vec!["https://sp.example/cb".into()],
            require_par: false,
            allow_national_id: false,
        }
    }

    fn params(extra: &[(&str, &str)], without: &[&str]) -> Params {
        let mut base = vec![
            ("client_id", "sp_1"),
            ("redirect_uri", "https://sp.example/cb"),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "s1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        base.retain(|(k, _)| !without.contains(k) && !extra.iter().any(|(e, _)| e == k));
        base.extend_from_slice(extra);
        Params::from_pairs(base.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned()))).unwrap()
    }

    fn redirected(p: Params) -> OAuthError {
        match validate(&p, &client(), Via::Front).unwrap_err() {
            AuthorizeError::Redirect { error, state, .. } => {
                assert_eq!(state.as_deref(), Some("s1"));
                error
            }
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request() {
        let r = validate(
            &params(
                &[
                    (
                        "acr_values",
                        "http://eidas.europa.eu/LoA/high http://eidas.europa.eu/LoA/substantial",
                    ),
                    ("ui_locales", "fr en"),
                    ("max_age", "300"),
                    ("scope", "openid profile email"),
                ],
                &[],
            ),
            &client(),
            Via::Front,
        )
        .unwrap();
        assert_eq!(r.scope, ["openid", "profile"]);
        assert_eq!(r.min_level, Some(Level::Substantial));
        assert_eq!(r.ui_locale, Some(Locale::En));
        assert_eq!(r.max_age, Some(300));
        assert!(!r.force_login && !r.pushed);
    }

    #[test]
    fn wrong_client_data_is_shown_not_redirected() {
        for p in [
            params(&[("redirect_uri", "https://evil.example/cb")], &[]),
            params(&[("redirect_uri", "https://sp.example/cb/")], &[]),
            params(&[], &["redirect_uri"]),
        ] {
            assert!(matches!(
                validate(&p, &client(), Via::Front),
                Err(AuthorizeError::Show(_))
            ));
        }
    }

    #[test]
    fn refusals_are_redirected_with_their_codes() {
        let cases: Vec<(Params, &str)> = vec![
            (
                params(&[("response_type", "token")], &[]),
                "unsupported_response_type",
            ),
            (params(&[], &["response_type"]), "invalid_request"),
            (params(&[("scope", "profile")], &[]), "invalid_scope"),
            (
                params(&[("scope", "openid national_id")], &[]),
                "invalid_scope",
            ),
            (params(&[], &["code_challenge"]), "invalid_request"),
            (
                params(&[("code_challenge_method", "plain")], &[]),
                "invalid_request",
            ),
            (params(&[("prompt", "none login")], &[]), "invalid_request"),
            (params(&[("prompt", "bogus")], &[]), "invalid_request"),
            (params(&[("max_age", "-1")], &[]), "invalid_request"),
            (params(&[("max_age", "1e3")], &[]), "invalid_request"),
            (
                params(&[("acr_values", "urn:other")], &[]),
                "invalid_request",
            ),
            (
                params(&[("request", "eyJ...")], &[]),
                "request_not_supported",
            ),
            (
                params(&[("response_mode", "fragment")], &[]),
                "invalid_request",
            ),
            (
                params(&[("login_hint", "anna\u{202E}")], &[]),
                "invalid_request",
            ),
            (
                params(&[("authorization_details", "[]")], &[]),
                "invalid_request",
            ),
        ];
        for (p, code) in cases {
            assert_eq!(redirected(p.clone()).code(), code, "{p:?}");
        }
    }

    #[test]
    fn authorization_details_set_the_action() {
        let d =
            r#"[{"type":"sesam_transaction","action":"SIGN","text":"Underskriv lejekontrakt"}]"#;
        let r = validate(
            &params(&[("authorization_details", d)], &[]),
            &client(),
            Via::Front,
        )
        .unwrap();
        assert_eq!(r.action, Action::Sign);
        assert!(r.details.is_some());
        let e = redirected(params(
            &[(
                "authorization_details",
                r#"[{"type":"payment_initiation"}]"#,
            )],
            &[],
        ));
        assert!(e.to_string().contains("instructedAmount"), "{e}");
    }

    #[test]
    fn par_can_be_required() {
        let c = Client {
            require_par: true,
            ..client()
        };
        let p = params(&[], &[]);
        assert!(matches!(
            validate(&p, &c, Via::Front),
            Err(AuthorizeError::Redirect { .. })
        ));
        assert!(validate(&p, &c, Via::Pushed).unwrap().pushed);
    }

    #[test]
    fn prompt_and_max_age_zero_force_a_login() {
        assert!(
            validate(&params(&[("prompt", "login")], &[]), &client(), Via::Front)
                .unwrap()
                .force_login
        );
        assert!(
            validate(&params(&[("max_age", "0")], &[]), &client(), Via::Front)
                .unwrap()
                .force_login
        );
        assert!(
            validate(&params(&[("prompt", "none")], &[]), &client(), Via::Front)
                .unwrap()
                .no_prompt
        );
    }

    #[test]
    fn request_uris() {
        let p = Params::from_pairs([("request_uri", format!("{REQUEST_URI_PREFIX}abc"))]).unwrap();
        assert_eq!(pushed_reference(&p).unwrap(), Some("abc"));
        let p = Params::from_pairs([("request_uri", "https://elsewhere.example/r")]).unwrap();
        assert!(pushed_reference(&p).is_err());
    }
}
