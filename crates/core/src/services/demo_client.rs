//! The registration of the demo relying party (`serve --demo`): an ordinary service provider
//! whose client secret is kept sealed in the store, so a restart reuses it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::Actor;
use super::service_providers::AddServiceProvider;
use crate::context::Sesam;
use crate::error::AppError;

/// `.v2`: since the demo logs out back to `/demo`, that is registered too.
const META_KEY: &str = "demo.client.v2";
const SEAL: &str = "demo-relying-party";

/// The demo SP's registration.
pub struct DemoClient {
    pub client_id: String,
    pub secret: String,
    pub redirect_uri: String,
    /// Where sesam sends the browser after logging out (`post_logout_redirect_uri`).
    pub logged_out_uri: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    client_id: String,
    secret_sealed: String,
    redirect_uri: String,
}

impl Sesam {
    /// The demo SP, registered on first use (and again if the public URL changed).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn demo_client(&self) -> Result<DemoClient, AppError> {
        let redirect_uri = format!("{}/demo/callback", self.issuer);
        let logged_out_uri = format!("{}/demo", self.issuer);
        if let Some(bytes) = self.store.meta_get(META_KEY).await?
            && let Ok(stored) = serde_json::from_slice::<Stored>(&bytes)
            && stored.redirect_uri == redirect_uri
            && let Ok(sealed) = STANDARD.decode(&stored.secret_sealed)
            && let Ok(secret) = self.keys.open_data(SEAL, &sealed)
            && self
                .store
                .service_provider(&stored.client_id)
                .await?
                .is_some()
        {
            return Ok(DemoClient {
                client_id: stored.client_id,
                secret: String::from_utf8_lossy(&secret).into_owned(),
                redirect_uri,
                logged_out_uri,
            });
        }
        let added = self
            .add_service_provider(
                &Actor::operator("system:demo")?,
                &AddServiceProvider {
                    name: "sesam demo".into(),
                    redirect_uris: vec![redirect_uri.clone(), logged_out_uri.clone()],
                    national_id: true,
                    ..Default::default()
                },
            )
            .await?;
        let secret = added.client_secret.expose().to_owned();
        let stored = Stored {
            client_id: added.record.client_id.clone(),
            secret_sealed: STANDARD.encode(self.keys.seal_data(
                SEAL,
                secret.as_bytes(),
                &*self.random,
            )),
            redirect_uri: redirect_uri.clone(),
        };
        let bytes = serde_json::to_vec(&stored).map_err(|source| AppError::Encoding {
            what: "the demo registration",
            source,
        })?;
        self.store.meta_set(META_KEY, &bytes).await?;
        tracing::info!(client_id = %stored.client_id, "demo relying party registered: open {}/demo", self.issuer);
        Ok(DemoClient {
            client_id: stored.client_id,
            secret,
            redirect_uri,
            logged_out_uri,
        })
    }
}
