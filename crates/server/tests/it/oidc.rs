//! What the OpenID Connect tests share: a person with an app, a code display and a chip;
//! a browser that keeps cookies and does not follow redirects; a registered SP; and the
//! `openidconnect` crate as the relying party.

use std::collections::HashMap;
use std::sync::Mutex;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use sesam_core::services::Actor;
use sesam_core::services::service_providers::AddServiceProvider;
use sesam_domain::totp::TotpVerifier;
use sesam_domain::{Clock, OsRandom};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use crate::inproc::*;

pub const RFC_SEED: &[u8] = b"12345678901234567890";
pub const PASSWORD: &str = "Blue river 77 sky";
pub const REDIRECT: &str = "http://localhost:9/callback";

pub type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// One answer as a browser sees it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Page {
    /// A hidden or visible input's value.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')?;
        Some(self.body[start..start + end].to_owned())
    }

    pub fn csrf(&self) -> String {
        self.field("csrf")
            .unwrap_or_else(|| panic!("no CSRF token on the page: {}", self.body))
    }

    /// A query parameter of the redirect target.
    pub fn redirect_param(&self, name: &str) -> Option<String> {
        let url = Url::parse(self.location.as_ref()?).ok()?;
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// A browser: keeps cookies per name, follows nothing.
pub struct Browser {
    http: reqwest::Client,
    pub base: String,
    pub cookies: Mutex<HashMap<String, String>>,
    pub extra_headers: Vec<(&'static str, String)>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: Mutex::new(HashMap::new()),
            extra_headers: vec![],
        }
    }

    /// A browser that connects from another loopback address (another client address
    /// as the server sees it).
    pub fn from_address(base: &str, local: std::net::IpAddr) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(local)
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: Mutex::new(HashMap::new()),
            extra_headers: vec![],
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_owned()
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        let mut req = req.header("cookie", self.cookie_header());
        for (k, v) in &self.extra_headers {
            req = req.header(*k, v);
        }
        let r = req.send().await.unwrap();
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.lock().unwrap().remove(k);
            } else {
                self.cookies
                    .lock()
                    .unwrap()
                    .insert(k.to_owned(), v.to_owned());
            }
        }
        Page {
            status: r.status().as_u16(),
            location: r
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        self.send(self.http.get(self.absolute(url))).await
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Page {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.send(
            self.http
                .post(self.absolute(url))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }
}

/// A registered SP and its relying-party client.
pub struct Sp {
    pub client_id: String,
    pub secret: String,
    pub rp: Rp,
    pub http: openidconnect::reqwest::Client,
}

pub async fn register_sp(h: &Harness, name: &str, national_id: bool, require_par: bool) -> Sp {
    let added = h
        .sesam
        .add_service_provider(
            &Actor::operator("test").unwrap(),
            &AddServiceProvider {
                name: name.into(),
                redirect_uris: vec![REDIRECT.into()],
                national_id,
                require_par,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let client_id = added.record.client_id.clone();
    let secret = added.client_secret.expose().to_owned();
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(h.base.clone()).unwrap(), &http)
            .await
            .unwrap_or_else(|e| panic!("discovery failed: {e:?}"));
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    Sp {
        client_id,
        secret,
        rp,
        http,
    }
}

/// A login in progress from the RP's side.
pub struct Started {
    pub url: String,
    pub state: String,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

/// The RP's authorization URL (front channel), with extra parameters.
pub fn start(sp: &Sp, scopes: &[&str], extra: &[(&str, &str)]) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = sp
        .rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for s in scopes {
        req = req.add_scope(Scope::new((*s).to_owned()));
    }
    for (k, v) in extra {
        req = req.add_extra_param(*k, *v);
    }
    let (url, state, nonce) = req.url();
    Started {
        url: url.to_string(),
        state: state.secret().clone(),
        nonce,
        verifier,
    }
}

/// The same request pushed first (PAR, client_secret_basic); returns the front-channel
/// URL with only `client_id` and `request_uri`.
pub async fn start_pushed(h: &Harness, sp: &Sp, scopes: &[&str]) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = CsrfToken::new_random().secret().clone();
    let nonce = Nonce::new_random();
    let mut scope = vec!["openid"];
    scope.extend_from_slice(scopes);
    let scope = scope.join(" ");
    let form: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &sp.client_id),
        ("redirect_uri", REDIRECT),
        ("scope", &scope),
        ("state", &state),
        ("nonce", nonce.secret()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let r = par(h, sp, &form).await;
    assert_eq!(r.0, 201, "{}", r.1);
    let request_uri = r.1["request_uri"].as_str().unwrap().to_owned();
    let url = format!(
        "{}/authorize?{}",
        h.base,
        form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &sp.client_id)
            .append_pair("request_uri", &request_uri)
            .finish()
    );
    Started {
        url,
        state,
        nonce,
        verifier,
    }
}

/// A PAR request with client_secret_basic.
pub async fn par(h: &Harness, sp: &Sp, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let r = reqwest::Client::new()
        .post(format!("{}/par", h.base))
        .basic_auth(&sp.client_id, Some(&sp.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// A token-endpoint request by hand (for the refusals the RP library would not send).
pub async fn token_request(
    h: &Harness,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = reqwest::Client::new()
        .post(format!("{}/token", h.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Follows `/authorize` to the first login page; returns the flow path.
pub async fn open_login(browser: &Browser, url: &str) -> String {
    let r = browser.get(url).await;
    assert_eq!(r.status, 303, "{r:?}");
    let loc = r.location.unwrap();
    assert!(loc.starts_with("/login/"), "{loc}");
    loc
}

pub async fn give_user_id(browser: &Browser, flow: &str, user_id: &str) -> Page {
    let page = browser.get(flow).await;
    assert_eq!(page.status, 200, "{}", page.body);
    browser
        .post(
            &format!("{flow}/user-id"),
            &[("csrf", &page.csrf()), ("user_id", user_id)],
        )
        .await
}

/// The code display's code `steps_back` steps ago (0: now).
pub fn totp_now(h: &Harness, steps_back: u64) -> String {
    let step = (h.clock.now().millis() / 1000 / 30) as u64;
    TotpVerifier::new(RFC_SEED)
        .code_for_step(step - steps_back)
        .as_str()
        .to_owned()
}

/// Code display + password on the pages; returns the answer to the last post.
pub async fn code_display_step(browser: &Browser, flow: &str, code: &str, password: &str) -> Page {
    let page = browser.get(&format!("{flow}/code-display")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    browser
        .post(
            &format!("{flow}/code-display"),
            &[
                ("csrf", &page.csrf()),
                ("code", code),
                ("password", password),
            ],
        )
        .await
}

/// Chip + password on the pages (what login.js does, with a software key).
pub async fn chip_step(
    browser: &Browser,
    flow: &str,
    token: &mut SoftToken,
    origin: &Url,
    password: &str,
) -> Page {
    let page = browser.get(&format!("{flow}/chip")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.csrf();
    let challenge = browser
        .post(&format!("{flow}/chip/challenge"), &[("csrf", &csrf)])
        .await;
    assert_eq!(challenge.status, 200, "{}", challenge.body);
    let c: serde_json::Value = serde_json::from_str(&challenge.body).unwrap();
    let rcr: RequestChallengeResponse = serde_json::from_value(c["options"].clone()).unwrap();
    let credential = match token.do_authentication(origin.clone(), rcr) {
        Ok(a) => serde_json::to_string(&a).unwrap(),
        Err(_) => String::new(),
    };
    browser
        .post(
            &format!("{flow}/chip"),
            &[
                ("csrf", &csrf),
                ("ceremony", c["ceremony"].as_str().unwrap()),
                ("credential", &credential),
                ("password", password),
            ],
        )
        .await
}

/// The redirect back to the SP: checks `state` and `iss`, returns the code.
pub fn code_from(h: &Harness, page: &Page, started: &Started) -> String {
    assert_eq!(page.status, 303, "{page:?}");
    assert!(
        page.location.as_deref().unwrap().starts_with(REDIRECT),
        "{page:?}"
    );
    assert_eq!(
        page.redirect_param("state").as_deref(),
        Some(started.state.as_str())
    );
    assert_eq!(page.redirect_param("iss").as_deref(), Some(h.base.as_str()));
    page.redirect_param("code")
        .unwrap_or_else(|| panic!("no code: {page:?}"))
}

/// The RP's code exchange and ID-token validation (signature, iss, aud, nonce, expiry).
pub async fn exchange(
    sp: &Sp,
    code: String,
    started: Started,
) -> (CoreIdTokenClaims, openidconnect::core::CoreTokenResponse) {
    let tokens = sp
        .rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(started.verifier)
        .request_async(&sp.http)
        .await
        .unwrap_or_else(|e| panic!("code exchange failed: {e:?}"));
    let verifier = sp
        .rp
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = tokens
        .id_token()
        .expect("an ID token")
        .claims(&verifier, &started.nonce)
        .unwrap_or_else(|e| panic!("the ID token does not validate: {e:?}"))
        .clone();
    (claims, tokens)
}

/// The code exchange as raw JSON (for the fields the RP library does not read, such as
/// the approval receipt).
pub async fn exchange_raw(h: &Harness, sp: &Sp, code: &str, started: Started) -> serde_json::Value {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", started.verifier.secret()),
        ])
        .finish();
    let r = reqwest::Client::new()
        .post(format!("{}/token", h.base))
        .basic_auth(&sp.client_id, Some(&sp.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Code display + password through the pages of a new browser, for `started`; returns
/// the code the SP receives.
pub async fn code_by_pages(h: &Harness, started: &Started, user_id: &str) -> String {
    let b = Browser::new(&h.base);
    let flow = open_login(&b, &started.url).await;
    give_user_id(&b, &flow, user_id).await;
    let r = code_display_step(&b, &flow, &totp_now(h, 0), PASSWORD).await;
    code_from(h, &r, started)
}

/// A person with an active app, a code display (RFC 6238 seed) and a password; and, if
/// `with_chip`, a chip (software security key).
pub struct Person {
    pub app: sesam_app::AppState,
    pub chip: Option<SoftToken>,
    pub identity_id: uuid::Uuid,
}

/// Who a test person is.
#[derive(Clone, Copy)]
pub struct Who {
    pub user_id: &'static str,
    pub nid: &'static str,
    pub phone: &'static str,
    pub ial: Option<&'static str>,
    pub chip: bool,
}

pub const ANNA: Who = Who {
    user_id: "anna.hansen",
    nid: "0101901234",
    phone: "+4512345678",
    ial: None,
    chip: false,
};
pub const BO: Who = Who {
    user_id: "bo.jensen",
    nid: "0202801234",
    phone: "+4512345679",
    ial: None,
    chip: false,
};

pub async fn person(h: &Harness, sink: &SmsSink, dir: &std::path::Path, who: Who) -> Person {
    let Who {
        user_id,
        nid,
        phone,
        ial,
        chip: with_chip,
    } = who;
    let app = activated_app_at(h, sink, dir, nid, phone, user_id, "111111", ial).await;
    let client = h.client();
    let pskc = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../domain/tests/fixtures/pskc/rfc6238-seed.pskcxml");
    let _ = h
        .sesam
        .import_code_displays(
            &Actor::operator("test").unwrap(),
            &pskc,
            None,
            sesam_domain::code_display::CodeDisplayKind::Display,
        )
        .await
        .unwrap();
    // The one display with the RFC 6238 seed goes to the first person of a test.
    let display = h.db.code_display("RFC6238-SHA1").await.unwrap().unwrap();
    if display.identity_id.is_none() {
        // As a person does it: the previous code, then the one showing now.
        let (c1, c2) = (totp_now(h, 1), totp_now(h, 0));
        client
            .activate_code_display(
                &app,
                "RFC6238-SHA1",
                &c1,
                &c2,
                PASSWORD,
                "111111",
                &OsRandom,
            )
            .await
            .unwrap();
        // The activation used this step: later logins use later codes.
        h.clock.advance_seconds(30);
    }
    let identity_id =
        h.db.identity_by_user_id(&sesam_domain::UserIdKey::of_input(user_id))
            .await
            .unwrap()
            .unwrap()
            .id;
    let chip = if with_chip {
        let (mut token, _) = SoftToken::new(true).unwrap();
        let (id, options) = client
            .start_chip_registration(&app, "111111", PASSWORD, &OsRandom)
            .await
            .unwrap();
        let ccr: CreationChallengeResponse = serde_json::from_value(options).unwrap();
        let answer = token
            .do_registration(Url::parse(&h.base).unwrap(), ccr)
            .unwrap();
        h.sesam
            .finish_chip_registration(id, &serde_json::to_value(&answer).unwrap())
            .await
            .unwrap();
        Some(token)
    } else {
        None
    };
    Person {
        app,
        chip,
        identity_id,
    }
}

/// A whole code-display login in a fresh browser; returns the browser (with its session)
/// and the validated claims.
pub async fn code_display_login(
    h: &Harness,
    sp: &Sp,
    user_id: &str,
    pushed: bool,
) -> (
    Browser,
    CoreIdTokenClaims,
    openidconnect::core::CoreTokenResponse,
) {
    let browser = Browser::new(&h.base);
    let started = if pushed {
        start_pushed(h, sp, &["profile"]).await
    } else {
        start(sp, &["profile"], &[])
    };
    let flow = open_login(&browser, &started.url).await;
    let r = give_user_id(&browser, &flow, user_id).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let code = totp_now(h, 0);
    let r = code_display_step(&browser, &flow, &code, PASSWORD).await;
    let code = code_from(h, &r, &started);
    h.clock.advance_seconds(30);
    let (claims, tokens) = exchange(sp, code, started).await;
    (browser, claims, tokens)
}
