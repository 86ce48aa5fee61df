//! What the OpenID Connect provider refuses, and how: every malformed, repeated,
//! oversized or missing parameter gets its OAuth error (never a 500), wrong clients and
//! redirect URIs get a page and no redirect, codes and tokens are single-use, levels are
//! enforced, and the login pages neither reveal user IDs nor accept forged forms.

use crate::inproc;
use crate::oidc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inproc::*;
use oidc::*;
use openidconnect::OAuth2TokenResponse;
use serde_json::json;
use sesam_core::services::Actor;
use sesam_core::services::service_providers::AddServiceProvider;
use webauthn_rs::prelude::Url;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn authorize_url(h: &Harness, pairs: &[(&str, &str)]) -> String {
    format!(
        "{}/authorize?{}",
        h.base,
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    )
}

fn good(client_id: &str) -> Vec<(&str, &str)> {
    vec![
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

fn with<'a>(
    mut base: Vec<(&'a str, &'a str)>,
    replace: &[(&'a str, &'a str)],
    remove: &[&str],
) -> Vec<(&'a str, &'a str)> {
    base.retain(|(k, _)| !remove.contains(k) && !replace.iter().any(|(r, _)| r == k));
    base.extend_from_slice(replace);
    base
}

/// An answer that must be an error page: no redirect, the error code on the page.
fn assert_page(r: &Page, code: &str) {
    assert!(r.location.is_none(), "must not redirect: {r:?}");
    assert!((400..500).contains(&r.status), "{r:?}");
    assert!(r.body.contains(code), "page lacks {code}: {}", r.body);
}

/// An answer that must redirect to the client with `error` and the state.
fn assert_redirected(r: &Page, code: &str) {
    assert_eq!(r.status, 303, "{r:?}");
    assert!(
        r.location.as_deref().unwrap().starts_with(REDIRECT),
        "{r:?}"
    );
    assert_eq!(r.redirect_param("error").as_deref(), Some(code), "{r:?}");
    assert!(
        r.redirect_param("error_description")
            .is_some_and(|d| !d.is_empty())
    );
    assert_eq!(r.redirect_param("state").as_deref(), Some("st"));
}

#[tokio::test]
async fn authorization_requests_are_refused_with_the_right_error_and_place() {
    let h = harness(Backend::Sqlite, None).await.unwrap();
    let sp = register_sp(&h, "Demo Bank", false, false).await;
    let id = sp.client_id.as_str();
    let b = Browser::new(&h.base);

    // Shown on a page, never redirected: the client or redirect URI cannot be trusted.
    for (pairs, code) in [
        (
            with(good(id), &[("client_id", "sp_unknown")], &[]),
            "invalid_request",
        ),
        (with(good(id), &[], &["client_id"]), "invalid_request"),
        (
            with(
                good(id),
                &[("redirect_uri", "https://evil.example/cb")],
                &[],
            ),
            "invalid_request",
        ),
        (
            with(
                good(id),
                &[("redirect_uri", "http://localhost:9/callback/extra")],
                &[],
            ),
            "invalid_request",
        ),
        (
            with(
                good(id),
                &[("redirect_uri", "http://localhost:9/callback?x=1")],
                &[],
            ),
            "invalid_request",
        ),
        (with(good(id), &[], &["redirect_uri"]), "invalid_request"),
        (
            with(
                good(id),
                &[("request_uri", "urn:ietf:params:oauth:request_uri:nope")],
                &[],
            ),
            "invalid_request_uri",
        ),
    ] {
        assert_page(&b.get(&authorize_url(&h, &pairs)).await, code);
    }
    // A repeated parameter: nothing of the request can be trusted.
    let mut twice = good(id);
    twice.push(("scope", "openid profile"));
    let r = b.get(&authorize_url(&h, &twice)).await;
    assert_page(&r, "invalid_request");
    assert!(r.body.contains("scope is repeated"), "{}", r.body);
    let long = "x".repeat(5000);
    assert_page(
        &b.get(&authorize_url(
            &h,
            &with(good(id), &[("state", long.as_str())], &[]),
        ))
        .await,
        "invalid_request",
    );

    // Redirected to the client, with state.
    for (pairs, code) in [
        (with(good(id), &[], &["code_challenge"]), "invalid_request"),
        (
            with(good(id), &[("code_challenge_method", "plain")], &[]),
            "invalid_request",
        ),
        (
            with(good(id), &[], &["code_challenge_method"]),
            "invalid_request",
        ),
        (
            with(good(id), &[("code_challenge", "too-short")], &[]),
            "invalid_request",
        ),
        (
            with(good(id), &[("response_type", "token")], &[]),
            "unsupported_response_type",
        ),
        (
            with(good(id), &[("response_type", "code id_token")], &[]),
            "unsupported_response_type",
        ),
        (with(good(id), &[], &["response_type"]), "invalid_request"),
        (
            with(good(id), &[("scope", "profile")], &[]),
            "invalid_scope",
        ),
        (
            with(good(id), &[("scope", "openid national_id")], &[]),
            "invalid_scope",
        ),
        (
            with(good(id), &[("prompt", "none login")], &[]),
            "invalid_request",
        ),
        (
            with(good(id), &[("max_age", "soon")], &[]),
            "invalid_request",
        ),
        (
            with(good(id), &[("acr_values", "urn:example:loa:4")], &[]),
            "invalid_request",
        ),
        (
            with(good(id), &[("request", "eyJhbGciOiJub25lIn0.e30.")], &[]),
            "request_not_supported",
        ),
        (
            with(good(id), &[("response_mode", "form_post")], &[]),
            "invalid_request",
        ),
        (with(good(id), &[("prompt", "none")], &[]), "login_required"),
    ] {
        assert_redirected(&b.get(&authorize_url(&h, &pairs)).await, code);
    }
    // POST works like GET, but only as a form.
    let r = b
        .post(
            "/authorize",
            &with(good(id), &[("response_type", "token")], &[]),
        )
        .await;
    assert_redirected(&r, "unsupported_response_type");
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/authorize", h.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn pushed_requests_are_single_use_short_lived_and_bound_to_their_client() {
    let h = harness(Backend::Sqlite, None).await.unwrap();
    let sp = register_sp(&h, "Demo Bank", false, true).await;
    let other = register_sp(&h, "Other", false, false).await;
    let b = Browser::new(&h.base);

    // This client must use PAR.
    assert_redirected(
        &b.get(&authorize_url(&h, &good(&sp.client_id))).await,
        "invalid_request",
    );

    let started = start_pushed(&h, &sp, &[]).await;
    assert_eq!(b.get(&started.url).await.status, 303);
    // Used once: a second use finds nothing.
    assert_page(&b.get(&started.url).await, "invalid_request_uri");
    // Pushed by another client.
    let started = start_pushed(&h, &sp, &[]).await;
    let forged = started.url.replace(&sp.client_id, &other.client_id);
    assert_page(&b.get(&forged).await, "invalid_request_uri");
    // Expired after 90 seconds.
    let started = start_pushed(&h, &sp, &[]).await;
    h.clock.advance_seconds(91);
    assert_page(&b.get(&started.url).await, "invalid_request_uri");

    // PAR itself: client authentication, and the same checks as /authorize.
    let form = good(&sp.client_id);
    let r = reqwest::Client::new()
        .post(format!("{}/par", h.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&form)
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").is_some());
    let (status, body) = par(
        &h,
        &sp,
        &with(good(&sp.client_id), &[], &["code_challenge"]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let (status, body) = par(
        &h,
        &sp,
        &with(good(&sp.client_id), &[("request_uri", "urn:x")], &[]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let (status, body) = par(
        &h,
        &sp,
        &with(
            good(&sp.client_id),
            &[("redirect_uri", "https://evil.example/")],
            &[],
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let (status, body) = par(
        &h,
        &sp,
        &with(good(&sp.client_id), &[("client_id", "sp_other")], &[]),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

/// Logs in through the pages (in a new browser) and returns the code (not exchanged).
async fn code_for(h: &Harness, sp: &Sp) -> (String, Started) {
    let started = start(sp, &["profile"], &[]);
    let code = code_by_pages(h, &started, "anna.hansen").await;
    h.clock.advance_seconds(30);
    (code, started)
}

#[tokio::test]
async fn token_requests_are_refused_with_the_right_error() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), ANNA).await;
    let sp = register_sp(&h, "Demo Bank", false, false).await;
    let other = register_sp(&h, "Other", false, false).await;
    let auth = Some((sp.client_id.as_str(), sp.secret.as_str()));

    let (code, started) = code_for(&h, &sp).await;
    let verifier = started.verifier.secret().clone();
    let exchange_form = |code: &str, verifier: &str| -> Vec<(String, String)> {
        vec![
            ("grant_type".into(), "authorization_code".into()),
            ("code".into(), code.into()),
            ("redirect_uri".into(), REDIRECT.into()),
            ("code_verifier".into(), verifier.into()),
        ]
    };
    let form = exchange_form(&code, &verifier);
    let f = as_refs(&form);

    type Case<'a> = (
        Option<(&'a str, &'a str)>,
        Vec<(&'a str, &'a str)>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            Some((sp.client_id.as_str(), "wrong-secret")),
            f.clone(),
            401,
            "invalid_client",
        ),
        (Some(("sp_unknown", "x")), f.clone(), 401, "invalid_client"),
        (None, f.clone(), 401, "invalid_client"),
        (
            Some((other.client_id.as_str(), other.secret.as_str())),
            f.clone(),
            400,
            "invalid_grant",
        ),
        (
            auth,
            f.iter()
                .map(|&(k, v)| {
                    if k == "code_verifier" {
                        (k, VERIFIER)
                    } else {
                        (k, v)
                    }
                })
                .collect(),
            400,
            "invalid_grant",
        ),
        (
            auth,
            f.iter()
                .copied()
                .filter(|(k, _)| *k != "code_verifier")
                .collect(),
            400,
            "invalid_grant",
        ),
        (
            auth,
            f.iter()
                .map(|&(k, v)| {
                    if k == "redirect_uri" {
                        (k, "http://localhost:9/other")
                    } else {
                        (k, v)
                    }
                })
                .collect(),
            400,
            "invalid_grant",
        ),
        (
            auth,
            f.iter()
                .copied()
                .filter(|(k, _)| *k != "redirect_uri")
                .collect(),
            400,
            "invalid_request",
        ),
        (
            auth,
            f.iter()
                .map(|&(k, v)| {
                    if k == "grant_type" {
                        (k, "password")
                    } else {
                        (k, v)
                    }
                })
                .collect(),
            400,
            "unsupported_grant_type",
        ),
        (
            auth,
            f.iter()
                .copied()
                .filter(|(k, _)| *k != "grant_type")
                .collect(),
            400,
            "invalid_request",
        ),
        (
            auth,
            f.iter()
                .map(|&(k, v)| {
                    if k == "code" {
                        (k, "not-a-code")
                    } else {
                        (k, v)
                    }
                })
                .collect(),
            400,
            "invalid_grant",
        ),
        (
            auth,
            [f.clone(), vec![("code", "again")]].concat(),
            400,
            "invalid_request",
        ),
        (
            auth,
            [
                f.clone(),
                vec![
                    ("client_secret", sp.secret.as_str()),
                    ("client_id", sp.client_id.as_str()),
                ],
            ]
            .concat(),
            400,
            "invalid_request",
        ),
    ];
    for (basic, form, status, error) in cases {
        let (s, body) = token_request(&h, basic, &form).await;
        assert_eq!(
            (s, body["error"].as_str()),
            (status, Some(error)),
            "{form:?}: {body}"
        );
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{body}"
        );
    }

    // client_secret_post works as well as basic, and the code is still good after the
    // refused attempts above.
    let post: Vec<(&str, &str)> = [
        f.clone(),
        vec![
            ("client_id", sp.client_id.as_str()),
            ("client_secret", sp.secret.as_str()),
        ],
    ]
    .concat();
    let (s, body) = token_request(&h, None, &post).await;
    assert_eq!(s, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let userinfo = |token: String| {
        let base = h.base.clone();
        async move {
            let r = reqwest::Client::new()
                .get(format!("{base}/userinfo"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let challenge = r
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            (
                r.status().as_u16(),
                challenge,
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    assert_eq!(userinfo(access.clone()).await.0, 200);

    // The same code again: refused, and what it issued is revoked.
    let (s, body) = token_request(&h, auth, &f).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (s, challenge, body) = userinfo(access).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    assert!(challenge.unwrap().starts_with("Bearer "));

    // An expired code.
    let (code, started) = code_for(&h, &sp).await;
    h.clock.advance_seconds(61);
    let form = exchange_form(&code, started.verifier.secret());
    let (s, body) = token_request(&h, auth, &as_refs(&form)).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    // Userinfo refusals.
    let (s, _, body) = userinfo("garbage".into()).await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_token")));
    let (code, started) = code_for(&h, &sp).await;
    let (_, tokens) = exchange(&sp, code, started).await;
    let id_token = tokens.extra_fields().id_token().unwrap().to_string();
    let (s, _, _) = userinfo(id_token).await;
    assert_eq!(s, 401, "an ID token is not an access token");
    let access = tokens.access_token().secret().clone();
    assert_eq!(userinfo(access.clone()).await.0, 200);
    h.clock.advance_seconds(301);
    let (s, _, body) = userinfo(access).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    let r = reqwest::Client::new()
        .get(format!("{}/userinfo", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Not a form, or far too large: clear errors, no 500.
    let r = reqwest::Client::new()
        .post(format!("{}/token", h.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let big = format!(
        "grant_type=authorization_code&code={}",
        "x".repeat(70 * 1024)
    );
    let r = reqwest::Client::new()
        .post(format!("{}/token", h.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn levels_the_request_requires_are_enforced() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Proofed at substantial: even a chip gives only substantial.
    let mut p = person(&h, &sink, dir.path(), Who { chip: true, ..ANNA }).await;
    let sp = register_sp(&h, "Demo Bank", false, false).await;
    let b = Browser::new(&h.base);
    let started = start(
        &sp,
        &[],
        &[("acr_values", "http://eidas.europa.eu/LoA/high")],
    );
    let flow = open_login(&b, &started.url).await;
    give_user_id(&b, &flow, "anna.hansen").await;
    // The code display cannot give high: shown as such, and refused when chosen anyway.
    let choose = b.get(&flow).await;
    assert!(
        choose.body.contains(
            "class=\"method disabled\" aria-disabled=\"true\" data-method=\"code-display\""
        ),
        "{}",
        choose.body
    );
    assert!(choose.body.contains("href=\"") && choose.body.contains("data-method=\"chip\""));
    let r = b.get(&format!("{flow}/code-display")).await;
    assert!(r.body.contains("sikkerhedsniveau"), "{}", r.body);
    let r = b
        .post(
            &format!("{flow}/code-display"),
            &[
                ("csrf", &choose.csrf()),
                ("code", &totp_now(&h, 0)),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("sikkerhedsniveau"), "{}", r.body);
    // The chip works, but the identity allows only substantial.
    let r = chip_step(
        &b,
        &flow,
        p.chip.as_mut().unwrap(),
        &Url::parse(&h.base).unwrap(),
        PASSWORD,
    )
    .await;
    assert_redirected_state(&r, "unmet_authentication_requirements", &started.state);

    // A request that accepts substantial or high gets substantial.
    let started = start(
        &sp,
        &[],
        &[(
            "acr_values",
            "http://eidas.europa.eu/LoA/high http://eidas.europa.eu/LoA/substantial",
        )],
    );
    let code = code_by_pages(&h, &started, "anna.hansen").await;
    let (claims, _) = exchange(&sp, code, started).await;
    assert_eq!(
        claims.auth_context_ref().unwrap().as_str(),
        "http://eidas.europa.eu/LoA/substantial"
    );
}

fn as_refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

fn assert_redirected_state(r: &Page, code: &str, state: &str) {
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.redirect_param("error").as_deref(), Some(code), "{r:?}");
    assert_eq!(r.redirect_param("state").as_deref(), Some(state));
}

/// Replaces the parts that differ between any two logins (flow ids, tokens, the typed
/// user ID) so pages can be compared.
fn normalised(body: &str, user_id: &str) -> String {
    let mut out = body.replace(user_id, "USER");
    for marker in ["/login/", "value=\"", "back=%2Flogin%2F"] {
        let mut s = String::new();
        let mut rest = out.as_str();
        while let Some(i) = rest.find(marker) {
            s.push_str(&rest[..i + marker.len()]);
            rest = &rest[i + marker.len()..];
            let end = rest.find(['"', '/', '%', '&']).unwrap_or(rest.len());
            s.push('X');
            rest = &rest[end..];
        }
        s.push_str(rest);
        out = s;
    }
    out
}

#[tokio::test]
async fn an_unknown_user_id_looks_like_a_known_one() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), Who { chip: true, ..ANNA }).await;
    person(&h, &sink, dir.path(), BO).await;
    let sp = register_sp(&h, "Demo Bank", false, false).await;

    let mut pages = vec![];
    let mut challenges = vec![];
    for user in ["anna.hansen", "bo.jensen", "nobody.here"] {
        let b = Browser::new(&h.base);
        let started = start(&sp, &[], &[]);
        let flow = open_login(&b, &started.url).await;
        let r = give_user_id(&b, &flow, user).await;
        assert_eq!(
            (r.status, r.location.as_deref()),
            (303, Some(flow.as_str()))
        );
        let choose = b.get(&flow).await;
        // A wrong code with the right password for the known ones; anything for the unknown.
        let refused = code_display_step(&b, &flow, "000000", PASSWORD).await;
        let chip_page = b.get(&format!("{flow}/chip")).await;
        let c = b
            .post(
                &format!("{flow}/chip/challenge"),
                &[("csrf", &chip_page.csrf())],
            )
            .await;
        let c: serde_json::Value = serde_json::from_str(&c.body).unwrap();
        challenges.push(c);
        pages.push((
            normalised(&choose.body, user),
            normalised(&refused.body, user),
            refused.status,
        ));
    }
    assert_eq!(pages[0], pages[2], "known (with chip) vs unknown");
    assert_eq!(pages[1], pages[2], "known (without chip) vs unknown");
    // The chip challenges have the same shape: the same keys, one credential each.
    fn shape(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(o) => {
                serde_json::Value::Object(o.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(shape).collect()),
            serde_json::Value::String(_) => json!("s"),
            other => other.clone(),
        }
    }
    assert_eq!(
        shape(&challenges[0]),
        shape(&challenges[2]),
        "{:#}\n{:#}",
        challenges[0],
        challenges[2]
    );
    assert_eq!(shape(&challenges[1]), shape(&challenges[2]));
    // The made-up credential is stable for a user ID, so repeating does not tell either.
    let again = {
        let b = Browser::new(&h.base);
        let flow = open_login(&b, &start(&sp, &[], &[]).url).await;
        give_user_id(&b, &flow, "nobody.here").await;
        let page = b.get(&format!("{flow}/chip")).await;
        let c = b
            .post(&format!("{flow}/chip/challenge"), &[("csrf", &page.csrf())])
            .await;
        serde_json::from_str::<serde_json::Value>(&c.body).unwrap()
    };
    assert_eq!(
        again["options"]["publicKey"]["allowCredentials"],
        challenges[2]["options"]["publicKey"]["allowCredentials"]
    );
    // A user ID that breaks the rules is refused from its form alone.
    let b = Browser::new(&h.base);
    let flow = open_login(&b, &start(&sp, &[], &[]).url).await;
    let r = give_user_id(&b, &flow, "a\u{202E}b").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("role=\"alert\""), "{}", r.body);
}

#[tokio::test]
async fn login_pages_are_protected() {
    let h = harness(Backend::Sqlite, None).await.unwrap();
    let sp = register_sp(&h, "Demo Bank", false, false).await;
    let b = Browser::new(&h.base);
    let started = start(&sp, &[], &[("ui_locales", "en")]);
    let r = b.get(&started.url).await;
    let set_cookie = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let flow = r.location.unwrap();
    let page = b.get(&flow).await;
    assert_eq!(page.status, 200);
    let csp = page
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.headers.get("x-frame-options").unwrap(), "DENY");
    assert_eq!(page.headers.get("referrer-policy").unwrap(), "no-referrer");
    assert!(
        page.body.contains("<html lang=\"en\">")
            && page.body.contains("Demo Bank")
            && page.body.contains("Log on"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("<script>") && !page.body.contains("style="),
        "no inline script or style"
    );
    assert!(page.body.contains("<label for=\"user_id\">"));

    // No CSRF token, or another browser's: refused.
    let r = b
        .post(&format!("{flow}/user-id"), &[("user_id", "anna.hansen")])
        .await;
    assert_eq!(r.status, 403);
    let thief = Browser::new(&h.base);
    thief.get(&started.url.replace("state=", "state=x")).await;
    let r = thief
        .post(
            &format!("{flow}/user-id"),
            &[("csrf", &page.csrf()), ("user_id", "anna.hansen")],
        )
        .await;
    assert_eq!(r.status, 403, "a CSRF token of another browser");
    let r = thief.get(&flow).await;
    assert_eq!(r.status, 400, "a flow of another browser is not shown");
    assert!(r.body.contains("ikke længere gyldigt"), "{}", r.body);

    // Cancel: back to the SP with access_denied.
    let r = b
        .post(&format!("{flow}/cancel"), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(
        r.redirect_param("error").as_deref(),
        Some("access_denied"),
        "{r:?}"
    );
    assert_eq!(r.status, 303);
    // The flow is gone now.
    assert_eq!(b.get(&flow).await.status, 400);

    // An expired flow offers the way back.
    let started = start(&sp, &[], &[]);
    let flow = open_login(&b, &started.url).await;
    h.clock.advance_seconds(601);
    let r = b.get(&flow).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("error=access_denied"), "{}", r.body);

    // Danish from Accept-Language, and the language link switches.
    let mut dk = Browser::new(&h.base);
    dk.extra_headers
        .push(("accept-language", "da-DK,da;q=0.9".into()));
    let flow = open_login(&dk, &start(&sp, &[], &[]).url).await;
    assert!(dk.get(&flow).await.body.contains("Bruger-ID"));
    let r = dk
        .get(&format!(
            "/language?to=en&back={}",
            form_urlencoded::byte_serialize(flow.as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!(r.location.as_deref(), Some(flow.as_str()));
    assert!(dk.get(&flow).await.body.contains("User ID"));
    let r = dk.get("/language?to=en&back=//evil.example/").await;
    assert_eq!(r.location.as_deref(), Some("/"), "no open redirect");

    let css = b.get("/static/sesam.css").await;
    assert_eq!(css.status, 200);
    assert!(
        b.get("/static/login.js")
            .await
            .body
            .contains("navigator.credentials.get")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_lockout_is_counted_before_evaluation_and_notified_on_sqlite() {
    password_lockout_is_counted_before_evaluation_and_notified(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_lockout_is_counted_before_evaluation_and_notified_on_postgres() {
    password_lockout_is_counted_before_evaluation_and_notified(Backend::Postgres).await;
}

async fn password_lockout_is_counted_before_evaluation_and_notified(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let sp = register_sp(&h, "Demo Bank", false, false).await;
    let b = Browser::new(&h.base);
    let flow = open_login(&b, &start(&sp, &[], &[]).url).await;
    give_user_id(&b, &flow, "anna.hansen").await;
    let page = b.get(&format!("{flow}/code-display")).await;
    let csrf = page.csrf();
    // Twenty wrong passwords at once: only three are evaluated.
    let b = std::sync::Arc::new(b);
    let mut tasks = vec![];
    for i in 0..20 {
        let (b, flow, csrf) = (b.clone(), flow.clone(), csrf.clone());
        tasks.push(tokio::spawn(async move {
            let pw = format!("wrong password {i}");
            b.post(
                &format!("{flow}/code-display"),
                &[
                    ("csrf", csrf.as_str()),
                    ("code", "000000"),
                    ("password", pw.as_str()),
                ],
            )
            .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().status, 200);
    }
    let wrong = audit_actions(&h)
        .await
        .iter()
        .filter(|a| *a == "authenticator.password_wrong")
        .count();
    assert_eq!(wrong, 3, "attempts beyond the tries left are not evaluated");
    assert!(
        audit_actions(&h)
            .await
            .contains(&"authenticator.password_locked".to_owned())
    );
    // Locked: the right code and password are refused too (the page says the same).
    let r = code_display_step(&b, &flow, &totp_now(&h, 0), PASSWORD).await;
    assert_eq!(r.status, 200);
    // The person is told on their channel.
    let messages = h.db.recent_messages(Some(p.identity_id), 50).await.unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.event == "authenticator.password_locked"),
        "{messages:?}"
    );
    // After 15 minutes the password works again (in a new login: the old one expired).
    h.clock.advance_seconds(15 * 60);
    let flow = open_login(&b, &start(&sp, &[], &[]).url).await;
    give_user_id(&b, &flow, "anna.hansen").await;
    let r = code_display_step(&b, &flow, &totp_now(&h, 0), PASSWORD).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

#[tokio::test]
async fn national_id_only_for_allowed_clients_that_ask() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), ANNA).await;
    let tax = register_sp(&h, "Skat", true, false).await;
    let started = start(&tax, &["national_id"], &[]);
    let code = code_by_pages(&h, &started, "anna.hansen").await;
    let (_, tokens) = exchange(&tax, code, started).await;
    let info: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/userinfo", h.base))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["national_id"], "0101901234");
    assert!(
        info.get("name").is_none(),
        "no profile scope, no name: {info}"
    );
    assert!(
        audit_actions(&h)
            .await
            .contains(&"national_id.released".to_owned())
    );
}

/// A P-256 key pair for `private_key_jwt`: the JWKS to register and a signer.
fn sp_key() -> (String, p256::ecdsa::SigningKey) {
    let key = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
    let point = key.verifying_key().to_sec1_point(false);
    let b = point.as_bytes();
    let jwks = json!({ "keys": [{ "kty": "EC", "crv": "P-256", "kid": "sp-1", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&b[1..33]), "y": URL_SAFE_NO_PAD.encode(&b[33..65]) }] });
    (jwks.to_string(), key)
}

fn assertion(
    key: &p256::ecdsa::SigningKey,
    client_id: &str,
    aud: &str,
    jti: &str,
    now: i64,
) -> String {
    use p256::ecdsa::signature::Signer;
    let header =
        URL_SAFE_NO_PAD.encode(json!({ "alg": "ES256", "kid": "sp-1", "typ": "JWT" }).to_string());
    let claims = URL_SAFE_NO_PAD.encode(json!({ "iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "iat": now, "exp": now + 60 }).to_string());
    let input = format!("{header}.{claims}");
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

#[tokio::test]
async fn private_key_jwt_client_authentication() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), ANNA).await;
    let (jwks, key) = sp_key();
    let added = h
        .sesam
        .add_service_provider(
            &Actor::operator("test").unwrap(),
            &AddServiceProvider {
                name: "Key Bank".into(),
                redirect_uris: vec![REDIRECT.into()],
                jwks: Some(jwks),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let client_id = added.record.client_id.clone();
    let now = || sesam_domain::Clock::now(&*h.clock).millis() / 1000;
    let token_endpoint = format!("{}/token", h.base);
    let assertion_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    // PAR with an assertion whose audience is the issuer.
    let a = assertion(&key, &client_id, &h.base, "par-1", now());
    let form = [
        vec![
            ("client_assertion_type", assertion_type),
            ("client_assertion", a.as_str()),
        ],
        good(&client_id),
    ]
    .concat();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    let r = reqwest::Client::new()
        .post(format!("{}/par", h.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let request_uri = r.json::<serde_json::Value>().await.unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    // The same assertion again: a replay.
    let r = reqwest::Client::new()
        .post(format!("{}/par", h.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let b = Browser::new(&h.base);
    let url = format!(
        "{}/authorize?client_id={client_id}&request_uri={}",
        h.base,
        form_urlencoded::byte_serialize(request_uri.as_bytes()).collect::<String>()
    );
    let flow = open_login(&b, &url).await;
    give_user_id(&b, &flow, "anna.hansen").await;
    let r = code_display_step(&b, &flow, &totp_now(&h, 0), PASSWORD).await;
    assert_eq!(r.redirect_param("state").as_deref(), Some("st"));
    let code = r.redirect_param("code").unwrap();
    let exchange = |assertion: String, code: String| {
        let endpoint = token_endpoint.clone();
        async move {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", VERIFIER),
                    ("client_assertion_type", assertion_type),
                    ("client_assertion", assertion.as_str()),
                ])
                .finish();
            let r = reqwest::Client::new()
                .post(endpoint)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    // Wrong audience, wrong key, expired: refused, and the code stays usable.
    let (s, body) = exchange(
        assertion(&key, &client_id, "https://elsewhere.example", "t-0", now()),
        code.clone(),
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")));
    let other = p256::ecdsa::SigningKey::from_slice(&[10u8; 32]).unwrap();
    let (s, _) = exchange(
        assertion(&other, &client_id, &token_endpoint, "t-1", now()),
        code.clone(),
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = exchange(
        assertion(&key, &client_id, &token_endpoint, "t-2", now() - 600),
        code.clone(),
    )
    .await;
    assert_eq!(s, 401);
    let (s, body) = exchange(
        assertion(&key, &client_id, &token_endpoint, "t-3", now()),
        code.clone(),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(body["id_token"].is_string());

    // A client with keys cannot fall back to a secret.
    let (s, body) = token_request(
        &h,
        Some((&client_id, added.client_secret.expose())),
        &[("grant_type", "authorization_code"), ("code", "x")],
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")));
}

#[tokio::test]
async fn a_blocked_identity_is_told_so_only_after_proving_who_it_is() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), ANNA).await;
    let sp = register_sp(&h, "Demo Bank", false, false).await;
    // A session from before the block.
    let (browser, _, _) = code_display_login(&h, &sp, "anna.hansen", false).await;
    h.sesam
        .suspend(
            &Actor::operator("test").unwrap(),
            "anna.hansen",
            "phone stolen",
        )
        .await
        .unwrap();
    // The session no longer answers for a blocked identity.
    let s = start(&sp, &[], &[("prompt", "none")]);
    assert_eq!(
        browser.get(&s.url).await.redirect_param("error").as_deref(),
        Some("login_required")
    );
    // A wrong code reads as for anyone; the right factors lead to the "blocked" page.
    let b = Browser::new(&h.base);
    let flow = open_login(&b, &start(&sp, &[], &[]).url).await;
    give_user_id(&b, &flow, "anna.hansen").await;
    let r = code_display_step(&b, &flow, "000000", PASSWORD).await;
    assert!(r.body.contains("blev ikke godkendt"), "{}", r.body);
    h.clock.advance_seconds(30);
    let r = code_display_step(&b, &flow, &totp_now(&h, 0), PASSWORD).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("Dit sesam er spærret"), "{}", r.body);
    assert!(r.location.is_none(), "no code for a blocked identity");
    // Not a dead end: back to the service, which is told access_denied.
    assert!(
        r.body.contains(&format!("action=\"{flow}/cancel\"")),
        "{}",
        r.body
    );
    let back = b
        .post(&format!("{flow}/cancel"), &[("csrf", &r.csrf())])
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(
        back.redirect_param("error").as_deref(),
        Some("access_denied")
    );
}
