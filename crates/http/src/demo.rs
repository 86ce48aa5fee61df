//! `serve --demo`: a small relying party at `/demo`, registered as an ordinary service
//! provider, so a new operator sees the whole flow in a browser. It does what a real SP
//! does (PKCE, state, nonce, the code exchange with its client secret, ID-token
//! verification against the JWKS, userinfo, checking the approval receipt, RP-initiated
//! logout with `id_token_hint`), only in-process instead of over the network.

use askama::Template;
use axum::Router;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use sesam_oidc::Params;
use sha2::{Digest, Sha256};

use super::AppState;
use super::login::{Header, MessagePage, lang_link, render};
use super::pages::{self, Texts};
use sesam_core::context::Sesam;
use sesam_core::services::demo_client::DemoClient;
use sesam_domain::clock::Timestamp;
use sesam_domain::notification::{Language, local_time};
use sesam_oidc::receipt::{VerifiedReceipt, verify_receipt};

const STATE_COOKIE: &str = "sesam_demo";
/// What the demo asks the person to approve when they try a payment.
const DEMO_PAYMENT: &str = r#"[{"type":"payment_initiation","instructedAmount":{"currency":"DKK","amount":"1500.00"},"creditorName":"Jens Hansen","creditorAccount":{"iban":"DK5000400440116243"}}]"#;
/// What the demo's state cookie is sealed for (the same purpose as its stored secret).
const SEAL: &str = "demo-relying-party";

#[derive(Serialize, Deserialize)]
struct Pending {
    verifier: String,
    nonce: String,
    state: String,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/demo", get(start_page))
        .route("/demo/login", get(login))
        .route("/demo/callback", get(callback))
}

#[derive(Template)]
#[template(path = "demo.html")]
struct DemoPage<'a> {
    t: &'a Texts,
    header: Option<Header>,
    lang_link: String,
    da: bool,
    claims: Vec<(String, String)>,
    userinfo: Vec<(String, String)>,
    receipt: Option<ReceiptView>,
    logout_url: String,
    error: Option<String>,
}

/// A receipt as the demo shows it: what the person approved, after every check passed
/// (or why it did not).
struct ReceiptView {
    verified: Result<ApprovedView, String>,
}

struct ApprovedView {
    sp_name: String,
    action: String,
    text: String,
    amount: Option<String>,
    payee: Option<String>,
    approved_at: String,
    device_id: String,
}

impl ApprovedView {
    fn new(r: VerifiedReceipt, language: Language) -> Self {
        let payment = r
            .authorization_details
            .as_ref()
            .and_then(|d| d.get(0))
            .filter(|d| d["type"] == "payment_initiation");
        Self {
            amount: payment.map(|p| {
                format!(
                    "{} {}",
                    p["instructedAmount"]["amount"].as_str().unwrap_or_default(),
                    p["instructedAmount"]["currency"]
                        .as_str()
                        .unwrap_or_default()
                )
            }),
            payee: payment.map(|p| {
                format!(
                    "{} ({})",
                    p["creditorName"].as_str().unwrap_or_default(),
                    p["creditorAccount"]["iban"].as_str().unwrap_or_default()
                )
            }),
            approved_at: local_time(
                Timestamp::from_millis(r.approved_at.saturating_mul(1000)),
                language,
            ),
            sp_name: r.sp_name,
            action: r.action,
            text: r.text,
            device_id: r.device_id,
        }
    }
}

/// What a finished login gave the demo.
struct Outcome {
    claims: Vec<(String, String)>,
    userinfo: Vec<(String, String)>,
    receipt: Option<ReceiptView>,
    /// RP-initiated logout as an SP does it: with `id_token_hint`, back to the demo.
    logout_url: String,
}

fn page(headers: &HeaderMap, outcome: Option<Outcome>, error: Option<String>) -> Response {
    let locale = pages::locale(headers, None);
    let t = pages::texts(locale);
    let (claims, userinfo, receipt, logout_url) = outcome
        .map(|o| (o.claims, o.userinfo, o.receipt, o.logout_url))
        .unwrap_or_default();
    let p = DemoPage {
        t,
        header: None,
        lang_link: lang_link("/demo", t),
        da: t.lang == "da",
        claims,
        userinfo,
        receipt,
        logout_url,
        error,
    };
    render(
        if p.error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &p,
        None,
    )
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.demo.is_some() {
        return pages::see_other("/demo", vec![]);
    }
    let t = pages::texts(pages::locale(&headers, None));
    let text = if t.lang == "da" {
        "Dette er en sesam-server. Tjenester logger folk på via OpenID Connect: se /.well-known/openid-configuration."
    } else {
        "This is a sesam server. Services log people on through OpenID Connect: see /.well-known/openid-configuration."
    };
    let p = MessagePage {
        t,
        header: None,
        lang_link: lang_link("/", t),
        title: "sesam",
        text,
        detail: None,
        link: None,
        alert: false,
    };
    render(StatusCode::OK, &p, None)
}

async fn start_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.demo.is_none() {
        return super::not_found().await.into_response();
    }
    page(&headers, None, None)
}

#[derive(Deserialize)]
struct LoginQuery {
    /// `payment`: ask the person to approve a demo payment instead of only logging in.
    what: Option<String>,
}

async fn login(State(state): State<AppState>, Query(query): Query<LoginQuery>) -> Response {
    let Some(demo) = state.demo.as_ref() else {
        return super::not_found().await.into_response();
    };
    let sesam = &state.sesam;
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let pending = Pending {
        verifier: b64(&sesam.random_bytes::<32>()),
        nonce: b64(&sesam.random_bytes::<16>()),
        state: b64(&sesam.random_bytes::<16>()),
    };
    let challenge = b64(&Sha256::digest(pending.verifier.as_bytes()));
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", &demo.client_id)
        .append_pair("redirect_uri", &demo.redirect_uri)
        .append_pair("scope", "openid profile national_id")
        .append_pair("state", &pending.state)
        .append_pair("nonce", &pending.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    if query.what.as_deref() == Some("payment") {
        q.append_pair("authorization_details", DEMO_PAYMENT);
    }
    let sealed = serde_json::to_vec(&pending)
        .map(|j| b64(&sesam.seal_for_browser(SEAL, &j)))
        .unwrap_or_default();
    let cookie = pages::set_cookie(STATE_COOKIE, &sealed, Some(600), sesam.secure_cookies());
    pages::see_other(&format!("/authorize?{}", q.finish()), vec![cookie])
}

/// Claims as rows; the receipt is shown decoded on its own, not as a JWS column.
fn flatten(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.as_str() != "approval_receipt")
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(demo) = state.demo.as_ref() else {
        return super::not_found().await.into_response();
    };
    match finish(
        &state.sesam,
        demo,
        &headers,
        query.as_deref().unwrap_or_default(),
    )
    .await
    {
        Ok(outcome) => {
            let mut r = page(&headers, Some(outcome), None);
            r.headers_mut().append(
                axum::http::header::SET_COOKIE,
                pages::set_cookie(STATE_COOKIE, "", Some(0), state.sesam.secure_cookies()),
            );
            r
        }
        Err(e) => page(&headers, None, Some(e)),
    }
}

async fn finish(
    sesam: &Sesam,
    demo: &DemoClient,
    headers: &HeaderMap,
    query: &str,
) -> Result<Outcome, String> {
    let params = Params::from_urlencoded(query).map_err(|e| e.to_string())?;
    if let Some(error) = params.get("error") {
        return Err(format!(
            "{error}: {}",
            params.get("error_description").unwrap_or_default()
        ));
    }
    let sealed = pages::cookie(headers, STATE_COOKIE)
        .ok_or("the demo's state cookie is missing; start again at /demo")?;
    let pending: Pending = URL_SAFE_NO_PAD
        .decode(sealed)
        .ok()
        .and_then(|b| sesam.open_from_browser(SEAL, &b))
        .and_then(|j| serde_json::from_slice(&j).ok())
        .ok_or("the demo's state cookie cannot be read; start again at /demo")?;
    if params.get("state") != Some(pending.state.as_str()) {
        return Err("state does not match: this answer belongs to another login".into());
    }
    if params.get("iss") != Some(sesam.issuer()) {
        return Err("iss does not name this server".into());
    }
    let code = params.get("code").ok_or("no code in the answer")?;
    let form = Params::from_pairs([
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", demo.redirect_uri.as_str()),
        ("code_verifier", pending.verifier.as_str()),
    ])
    .map_err(|e| e.to_string())?;
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", demo.client_id, demo.secret))
    );
    let tokens = sesam
        .token(&form, Some(&basic))
        .await
        .map_err(|e| e.to_string())?;
    let jwks = sesam.jwks().await.map_err(|e| e.to_string())?;
    let kid = sesam_oidc::id_token::kid_of(&tokens.id_token).map_err(|e| e.to_string())?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["kid"].as_str() == kid.as_deref()))
        .ok_or("the ID token's key is not published")?;
    let claims =
        sesam_oidc::id_token::verify(&tokens.id_token, jwk, sesam.issuer(), &demo.client_id)
            .map_err(|e| e.to_string())?;
    if claims.nonce.as_deref() != Some(pending.nonce.as_str()) {
        return Err("nonce does not match".into());
    }
    let userinfo = sesam
        .userinfo(Some(&format!("Bearer {}", tokens.access_token)))
        .await
        .map_err(|e| e.to_string())?;
    let language = match pages::locale(headers, None) {
        sesam_domain::locale::Locale::Da => Language::Da,
        sesam_domain::locale::Locale::En => Language::En,
    };
    let receipt = tokens.approval_receipt.as_deref().map(|r| ReceiptView {
        verified: verify_receipt(r, &jwks, sesam.issuer(), &demo.client_id)
            .map(|r| ApprovedView::new(r, language))
            .map_err(|e| e.to_string()),
    });
    let claims = serde_json::to_value(&claims).map_err(|e| e.to_string())?;
    Ok(Outcome {
        claims: flatten(&claims),
        userinfo: flatten(&userinfo),
        receipt,
        logout_url: logout_url(&tokens.id_token, &demo.logged_out_uri),
    })
}

fn logout_url(id_token: &str, back: &str) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", back);
    format!(
        "{}?{}",
        sesam_oidc::discovery::paths::END_SESSION,
        q.finish()
    )
}
