//! Service providers (OIDC clients) as the operator registers them.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;
use url::Url;

use crate::random::{Random, random_bytes};
use crate::text::first_hidden;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ServiceProviderError {
    #[error("the display name must have 1 to 80 characters")]
    NameLength,
    #[error("character {position} of the display name is {what}")]
    NameHidden { position: usize, what: &'static str },
    #[error("redirect URI '{uri}': {why}")]
    RedirectUri { uri: String, why: &'static str },
    #[error("at least one redirect URI is required")]
    NoRedirectUri,
}

/// The name people see in the header of every login and approval: set by the operator only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, ServiceProviderError> {
        let s: String = input.trim().nfc().collect();
        if s.is_empty() || s.chars().count() > 80 {
            return Err(ServiceProviderError::NameLength);
        }
        if let Some((position, _, h)) = first_hidden(&s) {
            return Err(ServiceProviderError::NameHidden {
                position,
                what: h.describe(),
            });
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `localhost`, a name under it (`app.localhost`), `127.0.0.1` or `[::1]`.
pub fn is_loopback_name(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]") || host.ends_with(".localhost")
}

/// A redirect URI, compared by exact string match at the authorization endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// `https://…`, or `http://` only for loopback hosts (development): `localhost` and
    /// names under it (RFC 6761 reserves them for the loopback, and browsers resolve them
    /// so), `127.0.0.1`, `[::1]`; no fragment, no user info.
    pub fn parse(input: &str) -> Result<Self, ServiceProviderError> {
        let err = |why| ServiceProviderError::RedirectUri {
            uri: input.chars().take(200).collect(),
            why,
        };
        if input.len() > 2000 {
            return Err(err("longer than 2000 characters"));
        }
        let url = Url::parse(input).map_err(|_| err("not an absolute URL"))?;
        match url.scheme() {
            "https" => {}
            "http" if url.host_str().is_some_and(is_loopback_name) => {}
            "http" => return Err(err("http is allowed only for localhost; use https")),
            _ => return Err(err("the scheme must be https")),
        }
        if url.fragment().is_some() {
            return Err(err("a redirect URI may not have a fragment (#...)"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(err(
                "a redirect URI may not contain a user name or password",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The public identifier of a service provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientId(String);

impl ClientId {
    pub fn generate(random: &dyn Random) -> Self {
        Self(format!("sp_{}", hex::encode(random_bytes::<12>(random))))
    }

    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client secret: 256 random bits, shown once, stored only as a keyed hash.
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn generate(random: &dyn Random) -> Self {
        Self(hex::encode(random_bytes::<32>(random)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::testing::SeqRandom;

    #[test]
    fn display_names() {
        assert_eq!(
            DisplayName::parse(" Danske Bank ").unwrap().as_str(),
            "Danske Bank"
        );
        assert_eq!(
            DisplayName::parse(""),
            Err(ServiceProviderError::NameLength)
        );
        assert_eq!(
            DisplayName::parse(&"x".repeat(81)),
            Err(ServiceProviderError::NameLength)
        );
        assert!(matches!(
            DisplayName::parse("Bank\u{202E}knaB"),
            Err(ServiceProviderError::NameHidden { position: 5, .. })
        ));
    }

    #[test]
    fn redirect_uris() {
        for ok in [
            "https://bank.example/cb",
            "http://localhost:3000/cb",
            "http://login.localhost:3000/cb",
            "http://127.0.0.1/cb?x=1",
        ] {
            assert!(RedirectUri::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/cb",
            "http://bank.example/cb",
            "http://localhost.bank.example/cb",
            "http://notlocalhost/cb",
            "https://bank.example/cb#x",
            "ftp://x/cb",
            "https://u:p@bank.example/",
            "javascript:alert(1)",
            "",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_ids_and_secrets() {
        let r = SeqRandom::new(3);
        let id = ClientId::generate(&r);
        assert!(id.as_str().starts_with("sp_") && id.as_str().len() == 27);
        let s = ClientSecret::generate(&r);
        assert_eq!(s.expose().len(), 64);
        assert_eq!(format!("{s:?}"), "ClientSecret(<redacted>)");
    }
}
