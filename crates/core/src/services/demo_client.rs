//! The registration of the demo relying party (`serve --demo`): an ordinary service provider
//! whose client secret is kept sealed in the store, so a restart reuses it.

use super::own_clients::OwnClientSpec;
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

impl Sesam {
    /// The demo SP, registered on first use (and again if the public URL changed).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn demo_client(&self) -> Result<DemoClient, AppError> {
        let redirect_uri = format!("{}/demo/callback", self.issuer);
        let logged_out_uri = format!("{}/demo", self.issuer);
        let client = self
            .own_client(&OwnClientSpec {
                meta_key: META_KEY,
                seal: SEAL,
                operator: "system:demo",
                name: "sesam demo",
                redirect_uris: vec![redirect_uri.clone(), logged_out_uri.clone()],
                national_id: true,
            })
            .await?;
        Ok(DemoClient {
            client_id: client.client_id,
            secret: client.secret,
            redirect_uri,
            logged_out_uri,
        })
    }
}
