//! The provider's metadata (OpenID Connect Discovery 1.0, RFC 8414, RFC 9126, RFC 9207).

use serde_json::{Value, json};

use crate::authorize::{ACR_VALUES, SUPPORTED_SCOPES};

/// Endpoint paths below the issuer.
pub mod paths {
    pub const AUTHORIZE: &str = "/authorize";
    pub const PAR: &str = "/par";
    pub const TOKEN: &str = "/token";
    pub const USERINFO: &str = "/userinfo";
    pub const JWKS: &str = "/jwks.json";
    pub const END_SESSION: &str = "/logout";
    pub const BACKCHANNEL: &str = "/bc-authorize";
}

pub fn metadata(issuer: &str) -> Value {
    let at = |p: &str| format!("{issuer}{p}");
    json!({
        "issuer": issuer,
        "authorization_endpoint": at(paths::AUTHORIZE),
        "pushed_authorization_request_endpoint": at(paths::PAR),
        "token_endpoint": at(paths::TOKEN),
        "userinfo_endpoint": at(paths::USERINFO),
        "jwks_uri": at(paths::JWKS),
        "end_session_endpoint": at(paths::END_SESSION),
        "scopes_supported": SUPPORTED_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", crate::token::GRANT_CIBA],
        "backchannel_authentication_endpoint": at(paths::BACKCHANNEL),
        "backchannel_token_delivery_modes_supported": ["poll"],
        "backchannel_user_code_parameter_supported": false,
        "authorization_details_types_supported": ["sesam_transaction", "payment_initiation"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "EdDSA"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": ACR_VALUES.iter().map(|(uri, _)| *uri).collect::<Vec<_>>(),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "name", "given_name", "family_name", "birthdate", "national_id"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        // request_uri is accepted only for requests pushed to PAR, not for request objects.
        "request_uri_parameter_supported": false,
        "require_pushed_authorization_requests": false,
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["da", "en"],
        "claims_locales_supported": ["da", "en"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
    })
}
