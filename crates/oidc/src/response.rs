//! The authorization response: where the browser is sent back, with the code or the
//! error, the `state`, and the issuer (RFC 9207, so a client talking to several providers
//! can tell which one answered).

use crate::OAuthError;

fn with_query(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{}", q.finish())
}

pub fn code(redirect_uri: &str, code: &str, state: Option<&str>, issuer: &str) -> String {
    let mut p = vec![("code", code)];
    if let Some(s) = state {
        p.push(("state", s));
    }
    p.push(("iss", issuer));
    with_query(redirect_uri, &p)
}

pub fn error(redirect_uri: &str, error: &OAuthError, state: Option<&str>, issuer: &str) -> String {
    let description = error.to_string();
    let mut p = vec![
        ("error", error.code()),
        ("error_description", description.as_str()),
    ];
    if let Some(s) = state {
        p.push(("state", s));
    }
    p.push(("iss", issuer));
    with_query(redirect_uri, &p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_keep_the_redirect_uris_query() {
        assert_eq!(
            code(
                "https://sp.example/cb?x=1",
                "c1",
                Some("s&1"),
                "https://login.example"
            ),
            "https://sp.example/cb?x=1&code=c1&state=s%261&iss=https%3A%2F%2Flogin.example"
        );
        let e = error(
            "https://sp.example/cb",
            &OAuthError::LoginRequired,
            None,
            "https://i",
        );
        assert!(
            e.starts_with("https://sp.example/cb?error=login_required&error_description="),
            "{e}"
        );
    }
}
