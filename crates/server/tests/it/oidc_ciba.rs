//! CIBA (poll mode): a bank starts an approval of a payment text, the person sees it
//! verbatim in the app and approves with the PIN, and the bank polls for an ID token and
//! an approval receipt that it verifies offline, here with independent code (p256, no
//! JOSE library). Also: authorization_pending, slow_down, access_denied, expired_token,
//! an unknown user ID that looks like an unanswered request, and malformed texts.

use crate::inproc;
use crate::oidc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inproc::*;
use oidc::*;
use p256::ecdsa::signature::Verifier;
use serde_json::{Value, json};
use sesam_core::services::Actor;
use sesam_core::services::service_providers::AddServiceProvider;
use sesam_domain::OsRandom;
use sha2::{Digest, Sha256};

struct Bank {
    id: String,
    secret: String,
}

async fn bank(h: &Harness, ciba: bool) -> Bank {
    let added = h
        .sesam
        .add_service_provider(
            &Actor::operator("test").unwrap(),
            &AddServiceProvider {
                name: "Demo Bank".into(),
                redirect_uris: vec![REDIRECT.into()],
                ciba,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    Bank {
        id: added.record.client_id.clone(),
        secret: added.client_secret.expose().to_owned(),
    }
}

async fn post(h: &Harness, b: &Bank, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let r = reqwest::Client::new()
        .post(format!("{}{path}", h.base))
        .basic_auth(&b.id, Some(&b.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn start(h: &Harness, b: &Bank, user: &str, message: &str) -> (u16, Value) {
    post(
        h,
        b,
        "/bc-authorize",
        &[
            ("scope", "openid profile"),
            ("login_hint", user),
            ("binding_message", message),
        ],
    )
    .await
}

async fn poll(h: &Harness, b: &Bank, auth_req_id: &str) -> (u16, Value) {
    post(
        h,
        b,
        "/token",
        &[
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", auth_req_id),
        ],
    )
    .await
}

fn jws_parts(jws: &str) -> (Value, Value, Vec<u8>, String) {
    let mut it = jws.split('.');
    let (h, p, s) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    let json =
        |x: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(x).unwrap()).unwrap();
    (
        json(h),
        json(p),
        URL_SAFE_NO_PAD.decode(s).unwrap(),
        format!("{h}.{p}"),
    )
}

fn key_of(jwk: &Value) -> p256::ecdsa::VerifyingKey {
    let mut sec1 = vec![4u8];
    sec1.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
    sec1.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap()
}

/// What a bank does with the receipt, offline: check the server's JWS with the JWKS,
/// then the device's signature over the bytes it embeds, and that those bytes cover the
/// text's hash.
pub(crate) fn verify_receipt(receipt: &str, jwks: &Value, client_id: &str) -> Value {
    let (header, claims, sig, input) = jws_parts(receipt);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "sesam-receipt+jwt");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the receipt's key is published");
    let server_sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
    key_of(jwk)
        .verify(input.as_bytes(), &server_sig)
        .expect("the server's signature verifies");
    assert_eq!(claims["aud"], client_id);
    let text = claims["text"].as_str().unwrap();
    let hash = Sha256::digest(text.as_bytes());
    assert_eq!(
        claims["text_sha256"].as_str().unwrap(),
        URL_SAFE_NO_PAD.encode(hash)
    );
    let device = &claims["device"];
    let signed = URL_SAFE_NO_PAD
        .decode(device["signed_bytes"].as_str().unwrap())
        .unwrap();
    let signed_text = String::from_utf8(signed.clone()).unwrap();
    assert!(
        signed_text.starts_with("sesam-approval/v1\n"),
        "{signed_text}"
    );
    assert!(
        signed_text.contains(&hex(&hash)),
        "the device signed the text's hash"
    );
    assert!(signed_text.contains("\napprove\n"));
    let device_sig = URL_SAFE_NO_PAD
        .decode(device["signature"].as_str().unwrap())
        .unwrap();
    let device_sig = p256::ecdsa::Signature::from_slice(&device_sig)
        .or_else(|_| p256::ecdsa::Signature::from_der(&device_sig))
        .unwrap();
    key_of(&device["public_key"])
        .verify(&signed, &device_sig)
        .expect("the device's signature verifies");
    claims
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn ciba_flow(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let b = bank(&h, true).await;
    let text = "Overfør 1.500,00 kr. til Jens Hansen";
    let (status, started) = start(&h, &b, "anna.hansen", text).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(
        (started["expires_in"].as_i64(), started["interval"].as_i64()),
        (Some(180), Some(5))
    );
    let id = started["auth_req_id"].as_str().unwrap().to_owned();

    let (s, body) = poll(&h, &b, &id).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("authorization_pending")),
        "{body}"
    );
    let (s, body) = poll(&h, &b, &id).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("slow_down")),
        "{body}"
    );

    // The person sees the text verbatim and approves with the PIN (no browser, no code).
    let client = h.client();
    let request = client
        .requests(&p.app, &OsRandom)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.kind == "approval")
        .unwrap();
    assert_eq!(request.text, text);
    assert_eq!(request.sp_name.as_deref(), Some("Demo Bank"));
    assert!(!request.binding_required);
    client
        .approve_request(&p.app, &request, "111111", None, &OsRandom)
        .await
        .unwrap();

    h.clock.advance_seconds(6);
    let (s, tokens) = poll(&h, &b, &id).await;
    assert_eq!(s, 200, "{tokens}");
    let jwks: Value = reqwest::get(format!("{}/jwks.json", h.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let kid = sesam_oidc::id_token::kid_of(id_token).unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == kid.as_deref())
        .unwrap();
    let claims = sesam_oidc::id_token::verify(id_token, jwk, &h.base, &b.id).unwrap();
    assert_eq!(claims.amr, ["swk", "pin", "mfa"]);
    assert_eq!(claims.acr, "http://eidas.europa.eu/LoA/substantial");
    let receipt = verify_receipt(tokens["approval_receipt"].as_str().unwrap(), &jwks, &b.id);
    assert_eq!(receipt["text"], text);
    assert_eq!(receipt["sub"], claims.sub);
    // Userinfo carries the same evidence.
    let info: Value = reqwest::Client::new()
        .get(format!("{}/userinfo", h.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "Anna Hansen");
    verify_receipt(info["approval_receipt"].as_str().unwrap(), &jwks, &b.id);
    // Collected once.
    let (s, body) = poll(&h, &b, &id).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

#[tokio::test]
async fn ciba_payment_approval_with_a_receipt_sqlite() {
    ciba_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn ciba_payment_approval_with_a_receipt_postgres() {
    ciba_flow(Backend::Postgres).await;
}

#[tokio::test]
async fn a_ciba_payment_carries_its_details_into_the_id_token_and_the_receipt() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let b = bank(&h, true).await;
    let details = json!([{ "type": "payment_initiation", "instructedAmount": { "currency": "EUR", "amount": "99.95" },
        "creditorName": "Jens Hansen", "creditorAccount": { "iban": "DK5000400440116243" } }]).to_string();
    let (s, started) = post(
        &h,
        &b,
        "/bc-authorize",
        &[
            ("scope", "openid"),
            ("login_hint", "anna.hansen"),
            ("authorization_details", &details),
        ],
    )
    .await;
    assert_eq!(s, 200, "{started}");
    let client = h.client();
    let request = client
        .requests(&p.app, &OsRandom)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.kind == "approval")
        .unwrap();
    assert_eq!(
        request.text,
        "Overfør 99,95 EUR til Jens Hansen, konto DK50 0040 0440 1162 43"
    );
    client
        .approve_request(&p.app, &request, "111111", None, &OsRandom)
        .await
        .unwrap();
    let (s, tokens) = poll(&h, &b, started["auth_req_id"].as_str().unwrap()).await;
    assert_eq!(s, 200, "{tokens}");
    let (_, id_claims, _, _) = jws_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        id_claims["authorization_details"][0]["instructedAmount"],
        json!({ "currency": "EUR", "amount": "99.95" })
    );
    let jwks: Value = reqwest::get(format!("{}/jwks.json", h.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let receipt = verify_receipt(tokens["approval_receipt"].as_str().unwrap(), &jwks, &b.id);
    assert_eq!(
        receipt["authorization_details"][0]["creditorName"],
        "Jens Hansen"
    );
    assert_eq!(receipt["action"], "APPROVE");
    assert_eq!(receipt["acr"], "http://eidas.europa.eu/LoA/substantial");
}

#[tokio::test]
async fn ciba_refusals_and_no_oracle() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let b = bank(&h, true).await;

    // An unknown user ID: the same answer, then pending until it expires.
    let (s, unknown) = start(&h, &b, "nobody.here", "Log på").await;
    assert_eq!(s, 200);
    let (s, known) = start(&h, &b, "anna.hansen", "Log på").await;
    assert_eq!(s, 200);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&unknown), keys(&known));
    let (_, body) = poll(&h, &b, unknown["auth_req_id"].as_str().unwrap()).await;
    assert_eq!(body["error"], "authorization_pending");

    // Declined in the app: access_denied.
    let client = h.client();
    let request = client
        .requests(&p.app, &OsRandom)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.kind == "approval")
        .unwrap();
    client
        .reject_request(&p.app, &request, false, &OsRandom)
        .await
        .unwrap();
    let (_, body) = poll(&h, &b, known["auth_req_id"].as_str().unwrap()).await;
    assert_eq!(body["error"], "access_denied", "{body}");
    // Expired: expired_token.
    h.clock.advance_seconds(181);
    let (_, body) = poll(&h, &b, unknown["auth_req_id"].as_str().unwrap()).await;
    assert_eq!(body["error"], "expired_token", "{body}");
    let (_, body) = poll(&h, &b, "made-up").await;
    assert_eq!(body["error"], "invalid_grant");

    // Texts are validated like every transaction text.
    for (message, needle) in [
        ("Betal \u{202E}01 kr", "bidirectional"),
        ("a\u{200B}b", "invisible"),
        ("a\u{0}b", "control"),
        ("one\ntwo", "one line"),
    ] {
        let (s, body) = start(&h, &b, "anna.hansen", message).await;
        assert_eq!(
            (s, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{message:?}"
        );
        assert!(
            body["error_description"].as_str().unwrap().contains(needle),
            "{body}"
        );
    }
    let long = "x".repeat(131);
    let (_, body) = start(&h, &b, "anna.hansen", &long).await;
    assert!(
        body["error_description"].as_str().unwrap().contains("131"),
        "{body}"
    );
    // A lone surrogate, percent-encoded as CESU-8: refused, not replaced.
    let r = reqwest::Client::new()
        .post(format!("{}/bc-authorize", h.base))
        .basic_auth(&b.id, Some(&b.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("scope=openid&login_hint=anna.hansen&binding_message=a%ED%A0%80b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("UTF-8"));
    // Payment details render into sesam's own words.
    let details = json!([{ "type": "payment_initiation", "instructedAmount": { "currency": "DKK", "amount": "1500.00" },
        "creditorName": "Jens Hansen", "creditorAccount": { "iban": "DK5000400440116243" } }]).to_string();
    let (s, _) = post(
        &h,
        &b,
        "/bc-authorize",
        &[
            ("scope", "openid"),
            ("login_hint", "anna.hansen"),
            ("authorization_details", &details),
        ],
    )
    .await;
    assert_eq!(s, 200);
    let shown = client
        .requests(&p.app, &OsRandom)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.kind == "approval")
        .unwrap();
    assert_eq!(
        shown.text,
        "Overfør 1.500,00 kr. til Jens Hansen, konto DK50 0040 0440 1162 43"
    );
    // Without text, without CIBA registration, without authentication.
    let (_, body) = post(
        &h,
        &b,
        "/bc-authorize",
        &[("scope", "openid"), ("login_hint", "anna.hansen")],
    )
    .await;
    assert_eq!(body["error"], "invalid_request");
    let not_ciba = bank(&h, false).await;
    let (_, body) = start(&h, &not_ciba, "anna.hansen", "Log på").await;
    assert_eq!(body["error"], "unauthorized_client");
    let stranger = Bank {
        id: b.id.clone(),
        secret: "wrong".into(),
    };
    let (s, body) = start(&h, &stranger, "anna.hansen", "Log på").await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")));
}
