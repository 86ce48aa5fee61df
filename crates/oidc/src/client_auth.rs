//! Client authentication at the token endpoint: `client_secret_basic` (RFC 6749 §2.3.1,
//! with its form-urlencoding of id and secret) and `client_secret_post`. Exactly one method
//! per request; the secret is compared as a keyed hash, in constant time.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::OAuthError;

/// The credentials a request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedSecret {
    pub client_id: String,
    pub secret: String,
    pub method: &'static str,
}

fn form_decode(s: &str) -> Result<String, OAuthError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (
                    bytes.get(i + 1).and_then(|b| hex(*b)),
                    bytes.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => return Err(OAuthError::InvalidClient),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| OAuthError::InvalidClient)
}

/// Reads the client's credentials from the `Authorization` header and/or the form fields.
/// Both at once, or neither, is refused.
pub fn presented(
    authorization: Option<&str>,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<PresentedSecret, OAuthError> {
    match (authorization, form_secret) {
        (Some(_), Some(_)) => Err(OAuthError::InvalidRequest(
            "use one client authentication method, not both the Authorization header and client_secret".into(),
        )),
        (Some(header), None) => {
            let encoded = header
                .strip_prefix("Basic ")
                .ok_or(OAuthError::InvalidClient)?
                .trim();
            let decoded = STANDARD.decode(encoded).map_err(|_| OAuthError::InvalidClient)?;
            let text = String::from_utf8(decoded).map_err(|_| OAuthError::InvalidClient)?;
            let (id, secret) = text.split_once(':').ok_or(OAuthError::InvalidClient)?;
            let client_id = form_decode(id)?;
            if form_client_id.is_some_and(|f| f != client_id) {
                return Err(OAuthError::InvalidRequest("client_id in the form and in the Authorization header differ".into()));
            }
            Ok(PresentedSecret { client_id, secret: form_decode(secret)?, method: "client_secret_basic" })
        }
        (None, Some(secret)) => Ok(PresentedSecret {
            client_id: form_client_id
                .ok_or_else(|| OAuthError::InvalidRequest("client_id is required with client_secret".into()))?
                .to_owned(),
            secret: secret.to_owned(),
            method: "client_secret_post",
        }),
        (None, None) => Err(OAuthError::InvalidClient),
    }
}

/// Checks a presented secret against the stored keyed hash (`stored` is
/// `SecretKeys::client_secret_hash` of the registered secret; `presented_hash` the same of
/// the presented one).
pub fn check(presented_hash: &[u8; 32], stored: &[u8; 32]) -> Result<(), OAuthError> {
    if sesam_domain::secrets::ct_eq(presented_hash, stored) {
        Ok(())
    } else {
        Err(OAuthError::InvalidClient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_post() {
        let header = format!("Basic {}", STANDARD.encode("sp_1:s%3Acret%2B1"));
        let p = presented(Some(&header), None, None).unwrap();
        assert_eq!(
            (p.client_id.as_str(), p.secret.as_str(), p.method),
            ("sp_1", "s:cret+1", "client_secret_basic")
        );
        let p = presented(None, Some("sp_1"), Some("secret")).unwrap();
        assert_eq!(p.method, "client_secret_post");
    }

    #[test]
    fn ambiguous_or_missing_credentials_are_refused() {
        let header = format!("Basic {}", STANDARD.encode("sp_1:x"));
        assert_eq!(
            presented(Some(&header), Some("sp_1"), Some("x"))
                .unwrap_err()
                .code(),
            "invalid_request"
        );
        assert_eq!(
            presented(None, None, None).unwrap_err().code(),
            "invalid_client"
        );
        assert_eq!(
            presented(Some("Bearer abc"), None, None)
                .unwrap_err()
                .code(),
            "invalid_client"
        );
        assert_eq!(
            presented(Some("Basic !!!"), None, None).unwrap_err().code(),
            "invalid_client"
        );
        assert_eq!(
            presented(
                Some(&format!("Basic {}", STANDARD.encode("nocolon"))),
                None,
                None
            )
            .unwrap_err()
            .code(),
            "invalid_client"
        );
        assert_eq!(
            presented(
                Some(&format!("Basic {}", STANDARD.encode("a%zz:b"))),
                None,
                None
            )
            .unwrap_err()
            .code(),
            "invalid_client"
        );
        assert_eq!(
            presented(Some(&header), Some("sp_2"), None)
                .unwrap_err()
                .code(),
            "invalid_request"
        );
        assert_eq!(
            presented(None, None, Some("x")).unwrap_err().code(),
            "invalid_request"
        );
        assert!(check(&[1; 32], &[1; 32]).is_ok());
        assert_eq!(
            check(&[1; 32], &[2; 32]).unwrap_err().code(),
            "invalid_client"
        );
    }
}
