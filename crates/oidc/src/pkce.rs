//! PKCE (RFC 7636), S256 only: `plain` gives no protection against a stolen code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::OAuthError;

fn unreserved(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks a `code_challenge` at the authorization endpoint: 43 base64url characters, the
/// length of a SHA-256 hash.
pub fn check_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<String, OAuthError> {
    let challenge = challenge
        .ok_or_else(|| OAuthError::InvalidRequest("code_challenge is required (PKCE)".into()))?;
    match method {
        Some("S256") => {}
        Some("plain") => {
            return Err(OAuthError::InvalidRequest(
                "code_challenge_method plain is not allowed; use S256".into(),
            ));
        }
        Some(_) => {
            return Err(OAuthError::InvalidRequest(
                "code_challenge_method must be S256".into(),
            ));
        }
        None => {
            return Err(OAuthError::InvalidRequest(
                "code_challenge_method=S256 is required".into(),
            ));
        }
    }
    if challenge.len() != 43 || !unreserved(challenge) || challenge.contains(['.', '~']) {
        return Err(OAuthError::InvalidRequest(
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters)".into(),
        ));
    }
    Ok(challenge.to_owned())
}

/// Checks a `code_verifier` at the token endpoint against the stored challenge.
pub fn verify(verifier: Option<&str>, challenge: &str) -> Result<(), OAuthError> {
    let verifier =
        verifier.ok_or_else(|| OAuthError::InvalidGrant("code_verifier is required".into()))?;
    if !(43..=128).contains(&verifier.len()) || !unreserved(verifier) {
        return Err(OAuthError::InvalidGrant(
            "code_verifier must be 43 to 128 unreserved characters".into(),
        ));
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !sesam_domain::secrets::ct_eq(computed.as_bytes(), challenge.as_bytes()) {
        return Err(OAuthError::InvalidGrant(
            "code_verifier does not match the code_challenge".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_appendix_b() {
        let c = check_challenge(Some(CHALLENGE), Some("S256")).unwrap();
        verify(Some(VERIFIER), &c).unwrap();
    }

    #[test]
    fn refusals_are_specific() {
        assert!(
            check_challenge(None, Some("S256"))
                .unwrap_err()
                .to_string()
                .contains("required")
        );
        assert!(
            check_challenge(Some(CHALLENGE), Some("plain"))
                .unwrap_err()
                .to_string()
                .contains("plain")
        );
        assert!(check_challenge(Some(CHALLENGE), None).is_err());
        assert!(check_challenge(Some("short"), Some("S256")).is_err());
        assert_eq!(
            verify(Some(&"a".repeat(43)), CHALLENGE).unwrap_err().code(),
            "invalid_grant"
        );
        assert!(verify(None, CHALLENGE).is_err());
        assert!(
            verify(
                Some("with space and more than forty-three characters"),
                CHALLENGE
            )
            .is_err()
        );
    }
}
