//! `serve --demo`: a small relying party at `/demo`, registered as an ordinary service
//! provider, so a new operator sees the whole flow in a browser. It does what a real SP
//! does (PKCE, state, nonce, the code exchange with its client secret, ID-token
//! verification against the JWKS, userinfo), only in-process instead of over the network.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
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

const STATE_COOKIE: &str = "sesam_demo";
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
    error: Option<String>,
}

fn page(
    headers: &HeaderMap,
    claims: Vec<(String, String)>,
    userinfo: Vec<(String, String)>,
    error: Option<String>,
) -> Response {
    let locale = pages::locale(headers, None);
    let t = pages::texts(locale);
    let p = DemoPage {
        t,
        header: None,
        lang_link: lang_link("/demo", t),
        da: t.lang == "da",
        claims,
        userinfo,
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
    page(&headers, vec![], vec![], None)
}

async fn login(State(state): State<AppState>) -> Response {
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
    let sealed = serde_json::to_vec(&pending)
        .map(|j| b64(&sesam.seal_for_browser(SEAL, &j)))
        .unwrap_or_default();
    let cookie = pages::set_cookie(STATE_COOKIE, &sealed, Some(600), sesam.secure_cookies());
    pages::see_other(&format!("/authorize?{}", q.finish()), vec![cookie])
}

fn flatten(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|o| {
            o.iter()
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
        Ok((claims, userinfo)) => {
            let mut r = page(&headers, claims, userinfo, None);
            r.headers_mut().append(
                axum::http::header::SET_COOKIE,
                pages::set_cookie(STATE_COOKIE, "", Some(0), state.sesam.secure_cookies()),
            );
            r
        }
        Err(e) => page(&headers, vec![], vec![], Some(e)),
    }
}

async fn finish(
    sesam: &Sesam,
    demo: &DemoClient,
    headers: &HeaderMap,
    query: &str,
) -> Result<(Vec<(String, String)>, Vec<(String, String)>), String> {
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
    let claims = serde_json::to_value(&claims).map_err(|e| e.to_string())?;
    Ok((flatten(&claims), flatten(&userinfo)))
}
