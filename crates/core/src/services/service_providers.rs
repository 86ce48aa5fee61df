//! Registering service providers (OIDC clients).

use serde_json::{Value, json};
use sesam_domain::service_provider::ServiceProviderError;
use sesam_domain::{AuditDraft, ClientId, ClientSecret, DisplayName, DomainError, RedirectUri};
use sesam_store::ServiceProviderRecord;

use super::Actor;
use crate::context::Sesam;
use crate::error::AppError;

const MAX_JWKS_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Default)]
pub struct AddServiceProvider {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub national_id: bool,
    pub require_par: bool,
    pub ciba: bool,
    /// The SP's public JWKS (JSON text), for `private_key_jwt` client authentication.
    pub jwks: Option<String>,
}

/// The new SP's credentials: the secret exists only here, once.
#[derive(Debug)]
pub struct AddedServiceProvider {
    pub record: ServiceProviderRecord,
    pub client_secret: ClientSecret,
}

/// Checks that a JWKS is a non-empty set of public keys.
pub fn validate_jwks(text: &str) -> Result<String, AppError> {
    let bad = |why: &str| AppError::BadInput(format!("JWKS: {why}"));
    if text.len() > MAX_JWKS_BYTES {
        return Err(bad("larger than 64 KiB"));
    }
    let v: Value = serde_json::from_str(text).map_err(|e| bad(&format!("not JSON ({e})")))?;
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("must be an object with a \"keys\" array"))?;
    if keys.is_empty() {
        return Err(bad("the \"keys\" array is empty"));
    }
    for (i, k) in keys.iter().enumerate() {
        let obj = k
            .as_object()
            .ok_or_else(|| bad(&format!("key {i} is not an object")))?;
        if !obj.get("kty").is_some_and(Value::is_string) {
            return Err(bad(&format!("key {i} has no \"kty\"")));
        }
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| obj.contains_key(*m))
        {
            return Err(bad(&format!(
                "key {i} contains private or symmetric key material; register public keys only"
            )));
        }
    }
    Ok(v.to_string())
}

impl Sesam {
    /// Every registered service provider, for operators.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn service_providers(
        &self,
    ) -> Result<Vec<sesam_store::ServiceProviderRecord>, AppError> {
        Ok(self.store.service_providers().await?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn add_service_provider(
        &self,
        actor: &Actor,
        req: &AddServiceProvider,
    ) -> Result<AddedServiceProvider, AppError> {
        let name = DisplayName::parse(&req.name).map_err(DomainError::from)?;
        if req.redirect_uris.is_empty() {
            return Err(DomainError::from(ServiceProviderError::NoRedirectUri).into());
        }
        let redirect_uris = req
            .redirect_uris
            .iter()
            .map(|u| RedirectUri::parse(u).map(|u| u.as_str().to_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(DomainError::from)?;
        let jwks = req.jwks.as_deref().map(validate_jwks).transpose()?;
        let client_id = ClientId::generate(&*self.random);
        let secret = ClientSecret::generate(&*self.random);
        let now = self.clock.now();
        let record = ServiceProviderRecord {
            secret_hash: self
                .keys
                .client_secret_hash(client_id.as_str(), secret.expose()),
            client_id: client_id.as_str().to_owned(),
            display_name: name.as_str().to_owned(),
            redirect_uris,
            allow_national_id: req.national_id,
            require_par: req.require_par,
            ciba: req.ciba,
            jwks,
            created_at: now,
        };
        let audit = AuditDraft::new(actor.audit_name(), "sp.added")
            .subject(client_id.as_str())
            .details(json!({
                "display_name": record.display_name,
                "redirect_uris": record.redirect_uris,
                "national_id": record.allow_national_id,
                "require_par": record.require_par,
                "ciba": record.ciba,
                "jwks": record.jwks.is_some(),
            }));
        self.store.add_service_provider(&record, &audit).await?;
        Ok(AddedServiceProvider {
            record,
            client_secret: secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_must_hold_public_keys() {
        let ok = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}"#;
        assert!(validate_jwks(ok).is_ok());
        for bad in [
            "nope",
            r#"{"keys":[]}"#,
            r#"{"key":[]}"#,
            r#"{"keys":[1]}"#,
            r#"{"keys":[{"crv":"P-256"}]}"#,
            r#"{"keys":[{"kty":"EC","d":"secret"}]}"#,
            r#"{"keys":[{"kty":"oct","k":"secret"}]}"#,
        ] {
            assert!(validate_jwks(bad).is_err(), "{bad}");
        }
        assert!(validate_jwks(&" ".repeat(MAX_JWKS_BYTES + 1)).is_err());
    }
}
