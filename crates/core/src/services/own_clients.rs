//! sesam's own relying parties — the demo (`serve --demo`) and Min sesam — are ordinary
//! service providers, registered on first use. Their client secret is kept sealed in the
//! store's `meta`, so a restart reuses the registration; a changed public URL (the redirect
//! URIs) registers anew.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::Actor;
use super::service_providers::AddServiceProvider;
use crate::context::Sesam;
use crate::error::AppError;

/// Which of sesam's own relying parties, and how it is registered.
pub(crate) struct OwnClientSpec<'a> {
    /// Where the registration is kept in `meta`.
    pub meta_key: &'a str,
    /// What the client secret is sealed for.
    pub seal: &'a str,
    /// The audit actor of the registration (`system:…`).
    pub operator: &'a str,
    /// The name people see on the login pages.
    pub name: &'a str,
    pub redirect_uris: Vec<String>,
    pub national_id: bool,
}

/// A registration ready to use: the client id and its secret.
pub(crate) struct OwnClient {
    pub client_id: String,
    pub secret: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    client_id: String,
    secret_sealed: String,
    redirect_uris: Vec<String>,
}

impl Sesam {
    /// The registration of `spec`, made now if there is none (or it no longer fits).
    pub(crate) async fn own_client(&self, spec: &OwnClientSpec<'_>) -> Result<OwnClient, AppError> {
        if let Some(bytes) = self.store.meta_get(spec.meta_key).await?
            && let Ok(stored) = serde_json::from_slice::<Stored>(&bytes)
            && stored.redirect_uris == spec.redirect_uris
            && let Ok(sealed) = STANDARD.decode(&stored.secret_sealed)
            && let Ok(secret) = self.keys.open_data(spec.seal, &sealed)
            && self
                .store
                .service_provider(&stored.client_id)
                .await?
                .is_some()
        {
            return Ok(OwnClient {
                client_id: stored.client_id,
                secret: String::from_utf8_lossy(&secret).into_owned(),
            });
        }
        let added = self
            .add_service_provider(
                &Actor::operator(spec.operator)?,
                &AddServiceProvider {
                    name: spec.name.into(),
                    redirect_uris: spec.redirect_uris.clone(),
                    national_id: spec.national_id,
                    ..Default::default()
                },
            )
            .await?;
        let secret = added.client_secret.expose().to_owned();
        let stored = Stored {
            client_id: added.record.client_id.clone(),
            secret_sealed: STANDARD.encode(self.keys.seal_data(
                spec.seal,
                secret.as_bytes(),
                &*self.random,
            )),
            redirect_uris: spec.redirect_uris.clone(),
        };
        let bytes = serde_json::to_vec(&stored).map_err(|source| AppError::Encoding {
            what: "a registration of sesam's own",
            source,
        })?;
        self.store.meta_set(spec.meta_key, &bytes).await?;
        tracing::info!(client_id = %stored.client_id, name = spec.name, "sesam's own service provider registered");
        Ok(OwnClient {
            client_id: stored.client_id,
            secret,
        })
    }
}
