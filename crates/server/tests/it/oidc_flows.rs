//! Complete OpenID Connect logins with the `openidconnect` crate as the relying party:
//! code display + password and chip + password, with and without PAR, on SQLite and
//! PostgreSQL; sessions, refresh tokens, logout, pairwise subjects and levels.

use crate::inproc;
use crate::oidc;

use inproc::*;
use oidc::*;
use openidconnect::{AccessToken, OAuth2TokenResponse, SubjectIdentifier};
use webauthn_rs::prelude::Url;

async fn code_display_flows(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;

    for pushed in [false, true] {
        let (_, claims, tokens) = code_display_login(&h, &bank, "Anna.Hansen", pushed).await;
        assert_eq!(
            claims.auth_context_ref().map(|a| a.as_str()),
            Some("http://eidas.europa.eu/LoA/substantial")
        );
        let amr: Vec<&str> = claims
            .auth_method_refs()
            .unwrap()
            .iter()
            .map(|a| a.as_str())
            .collect();
        assert_eq!(amr, ["otp", "pwd", "mfa"]);
        assert!(claims.auth_time().is_some());
        assert_eq!(
            claims.subject().as_str(),
            h.keys.pairwise_subject(&bank.client_id, p.identity_id)
        );
        assert_eq!(
            (claims.expiration() - claims.issue_time()).num_seconds(),
            300
        );

        let info: openidconnect::core::CoreUserInfoClaims = bank
            .rp
            .user_info(
                tokens.access_token().clone(),
                Some(claims.subject().clone()),
            )
            .unwrap()
            .request_async(&bank.http)
            .await
            .unwrap_or_else(|e| panic!("userinfo failed: {e:?}"));
        let name = info
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
        assert_eq!(name.as_deref(), Some("Anna Hansen"));
        assert_eq!(
            info.given_name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str()),
            Some("Anna")
        );
        assert_eq!(
            info.family_name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str()),
            Some("Hansen")
        );
        assert_eq!(info.birthdate().map(|b| b.as_str()), Some("1990-01-01"));
        assert!(
            tokens.refresh_token().is_none(),
            "no offline_access, no refresh token"
        );
    }

    // Another SP sees another, unrelated subject.
    let tax = register_sp(&h, "Skat", false, false).await;
    let (_, claims, _) = code_display_login(&h, &tax, "anna.hansen", false).await;
    let tax_sub = claims.subject().as_str().to_owned();
    assert_ne!(
        tax_sub,
        h.keys.pairwise_subject(&bank.client_id, p.identity_id)
    );
    assert!(!tax_sub.contains("0101901234") && !tax_sub.contains("010190"));

    // After a rotation the next key signs at once; the RP already had it from the JWKS.
    let (_, _, before) = code_display_login(&h, &tax, "anna.hansen", false).await;
    let kid_before =
        sesam_oidc::id_token::kid_of(&before.extra_fields().id_token().unwrap().to_string())
            .unwrap();
    h.sesam
        .rotate_signing_keys(&sesam_core::services::Actor::operator("test").unwrap())
        .await
        .unwrap();
    let (_, _, after) = code_display_login(&h, &tax, "anna.hansen", false).await;
    let kid_after =
        sesam_oidc::id_token::kid_of(&after.extra_fields().id_token().unwrap().to_string())
            .unwrap();
    assert_ne!(kid_before, kid_after, "the rotated-in key signs");

    let actions = audit_actions(&h).await;
    assert!(
        actions.iter().filter(|a| *a == "login.completed").count() >= 3,
        "{actions:?}"
    );
    assert!(actions.contains(&"token.issued".to_owned()));
    h.sesam.verify_audit().await.unwrap();
}

#[tokio::test]
async fn code_display_and_password_login_sqlite() {
    code_display_flows(Backend::Sqlite).await;
}

#[tokio::test]
async fn code_display_and_password_login_postgres() {
    code_display_flows(Backend::Postgres).await;
}

async fn chip_flows(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut p = person(
        &h,
        &sink,
        dir.path(),
        Who {
            ial: Some("high"),
            chip: true,
            ..BO
        },
    )
    .await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let origin = Url::parse(&h.base).unwrap();
    for pushed in [false, true] {
        let browser = Browser::new(&h.base);
        let started = if pushed {
            start_pushed(&h, &bank, &[]).await
        } else {
            start(
                &bank,
                &[],
                &[("acr_values", "http://eidas.europa.eu/LoA/high")],
            )
        };
        let flow = open_login(&browser, &started.url).await;
        give_user_id(&browser, &flow, "bo.jensen").await;
        let r = chip_step(&browser, &flow, p.chip.as_mut().unwrap(), &origin, PASSWORD).await;
        let code = code_from(&h, &r, &started);
        let (claims, _) = exchange(&bank, code, started).await;
        assert_eq!(
            claims.auth_context_ref().map(|a| a.as_str()),
            Some("http://eidas.europa.eu/LoA/high")
        );
        let amr: Vec<&str> = claims
            .auth_method_refs()
            .unwrap()
            .iter()
            .map(|a| a.as_str())
            .collect();
        assert_eq!(amr, ["hwk", "pwd", "mfa"]);
        assert_eq!(
            claims.subject(),
            &SubjectIdentifier::new(h.keys.pairwise_subject(&bank.client_id, p.identity_id))
        );
    }
    // A wrong password with the right key, and the right password with no key answer,
    // are both refused with the same words.
    let browser = Browser::new(&h.base);
    let started = start(&bank, &[], &[]);
    let flow = open_login(&browser, &started.url).await;
    give_user_id(&browser, &flow, "bo.jensen").await;
    let r = chip_step(
        &browser,
        &flow,
        p.chip.as_mut().unwrap(),
        &origin,
        "wrong password 1",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("blev ikke godkendt"), "{}", r.body);
}

#[tokio::test]
async fn chip_and_password_login_sqlite() {
    chip_flows(Backend::Sqlite).await;
}

#[tokio::test]
async fn chip_and_password_login_postgres() {
    chip_flows(Backend::Postgres).await;
}

#[tokio::test]
async fn sessions_prompt_none_max_age_and_logout() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;

    // Without a session, prompt=none answers login_required at the redirect URI.
    let fresh = Browser::new(&h.base);
    let s = start(&bank, &[], &[("prompt", "none")]);
    let r = fresh.get(&s.url).await;
    assert_eq!(
        r.redirect_param("error").as_deref(),
        Some("login_required"),
        "{r:?}"
    );
    assert_eq!(r.redirect_param("state").as_deref(), Some(s.state.as_str()));

    let (browser, first, _) = code_display_login(&h, &bank, "anna.hansen", false).await;
    assert!(
        browser
            .cookies
            .lock()
            .unwrap()
            .contains_key("sesam_session")
    );

    // With the session: a code at once, the original auth_time.
    let s = start(&bank, &[], &[("prompt", "none")]);
    let r = browser.get(&s.url).await;
    let code = code_from(&h, &r, &s);
    let (claims, _) = exchange(&bank, code, s).await;
    assert_eq!(claims.auth_time(), first.auth_time());
    assert_eq!(claims.subject(), first.subject());

    // max_age shorter than the session's age, or prompt=login: the pages again.
    h.clock.advance_seconds(120);
    let s = start(&bank, &[], &[("max_age", "60")]);
    assert!(
        browser
            .get(&s.url)
            .await
            .location
            .unwrap()
            .starts_with("/login/")
    );
    let s = start(&bank, &[], &[("prompt", "login")]);
    assert!(
        browser
            .get(&s.url)
            .await
            .location
            .unwrap()
            .starts_with("/login/")
    );
    // A level above the session's also needs a new login.
    let s = start(
        &bank,
        &[],
        &[
            ("acr_values", "http://eidas.europa.eu/LoA/high"),
            ("prompt", "none"),
        ],
    );
    assert_eq!(
        browser.get(&s.url).await.redirect_param("error").as_deref(),
        Some("login_required")
    );
    // A session logs in; it never approves or signs: a payment or a text to sign always
    // shows the pages, and with prompt=none is answered login_required.
    for details in [
        r#"[{"type":"payment_initiation","instructedAmount":{"currency":"DKK","amount":"10.00"},"creditorName":"Jens Hansen","creditorAccount":{"iban":"DK5000400440116243"}}]"#,
        r#"[{"type":"sesam_transaction","action":"SIGN","text":"Underskriv lejekontrakt"}]"#,
    ] {
        let s = start(&bank, &[], &[("authorization_details", details)]);
        let r = browser.get(&s.url).await;
        assert!(
            r.location
                .as_deref()
                .is_some_and(|l| l.starts_with("/login/")),
            "{details}: {r:?}"
        );
        let s = start(
            &bank,
            &[],
            &[("authorization_details", details), ("prompt", "none")],
        );
        assert_eq!(
            browser.get(&s.url).await.redirect_param("error").as_deref(),
            Some("login_required"),
            "{details}"
        );
    }

    // Logout without an ID token asks first (a cross-site link cannot log people out).
    let r = browser.get("/logout").await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("form method=\"post\" action=\"/logout\""),
        "{}",
        r.body
    );
    let r = browser
        .post(
            "/logout",
            &[
                ("csrf", &r.csrf()),
                ("client_id", &bank.client_id),
                ("post_logout_redirect_uri", REDIRECT),
                ("state", "bye"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(
        r.location.as_deref(),
        Some("http://localhost:9/callback?state=bye")
    );
    let s = start(&bank, &[], &[("prompt", "none")]);
    assert_eq!(
        browser.get(&s.url).await.redirect_param("error").as_deref(),
        Some("login_required")
    );
    // A post_logout_redirect_uri that is not registered is refused.
    let r = browser
        .get(&format!(
            "/logout?client_id={}&post_logout_redirect_uri=https://evil.example/&csrf=x",
            bank.client_id
        ))
        .await;
    assert_eq!(r.status, 200, "the confirmation page, never a redirect");
    assert!(r.location.is_none());
}

#[tokio::test]
async fn logout_with_id_token_hint_redirects_and_ends_the_session() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let (browser, _, tokens) = code_display_login(&h, &bank, "anna.hansen", false).await;
    let hint = tokens.extra_fields().id_token().unwrap().to_string();
    // Hours later the ID token has expired; it still names the client for logout.
    h.clock.advance_seconds(3600);
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", &hint)
        .append_pair("post_logout_redirect_uri", REDIRECT)
        .append_pair("state", "s1")
        .finish();
    let r = browser.get(&format!("/logout?{q}")).await;
    assert_eq!(
        r.location.as_deref(),
        Some("http://localhost:9/callback?state=s1"),
        "{r:?}"
    );
    assert!(
        !browser
            .cookies
            .lock()
            .unwrap()
            .contains_key("sesam_session")
    );
    // A forged hint is refused with a page.
    let r = browser
        .get("/logout?id_token_hint=eyJhbGciOiJFUzI1NiJ9.e30.sig")
        .await;
    assert_eq!(r.status, 400);
    assert!(r.location.is_none());
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replay_revokes_the_grant() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let started = start(&bank, &["profile", "offline_access"], &[]);
    let code = code_by_pages(&h, &started, "anna.hansen").await;
    let (claims, tokens) = exchange(&bank, code, started).await;
    let first = tokens
        .refresh_token()
        .expect("offline_access gives a refresh token")
        .clone();

    let rotated = bank
        .rp
        .exchange_refresh_token(&first)
        .unwrap()
        .request_async(&bank.http)
        .await
        .unwrap_or_else(|e| panic!("refresh failed: {e:?}"));
    let second = rotated.refresh_token().unwrap().clone();
    assert_ne!(second.secret(), first.secret());
    let refreshed_id_token = rotated.extra_fields().id_token().unwrap();
    let verifier = bank.rp.id_token_verifier().set_allowed_algs(vec![
        openidconnect::core::CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    ]);
    let c = refreshed_id_token
        .claims(&verifier, |_: Option<&openidconnect::Nonce>| Ok(()))
        .unwrap();
    assert_eq!(c.subject(), claims.subject());
    assert_eq!(c.auth_time(), claims.auth_time());

    // Narrowing the scope is allowed, widening is not.
    let (status, body) = token_request(
        &h,
        Some((&bank.client_id, &bank.secret)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second.secret()),
            ("scope", "openid national_id"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );

    // The first token again: someone has a copy. The grant is revoked, so the newest
    // refresh token and the access token stop working too.
    let (status, body) = token_request(
        &h,
        Some((&bank.client_id, &bank.secret)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first.secret()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = token_request(
        &h,
        Some((&bank.client_id, &bank.secret)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second.secret()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let e: Result<openidconnect::core::CoreUserInfoClaims, _> = bank
        .rp
        .user_info(
            AccessToken::new(rotated.access_token().secret().clone()),
            None,
        )
        .unwrap()
        .request_async(&bank.http)
        .await;
    assert!(e.is_err(), "a revoked grant's access token must not work");
    assert!(
        audit_actions(&h)
            .await
            .contains(&"grant.revoked".to_owned())
    );
}

fn payload(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_payment_is_shown_in_sesams_words_and_carried_into_the_id_token() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let details = serde_json::json!([{
        "type": "payment_initiation",
        "instructedAmount": { "currency": "DKK", "amount": "1500.00" },
        "creditorName": "Jens Hansen",
        "creditorAccount": { "iban": "DK5000400440116243" },
    }])
    .to_string();
    let started = start(&bank, &[], &[("authorization_details", details.as_str())]);
    let browser = Browser::new(&h.base);
    let flow = open_login(&browser, &started.url).await;
    let page = browser.get(&flow).await;
    assert!(
        page.body
            .contains("Overfør 1.500,00 kr. til Jens Hansen, konto DK50 0040 0440 1162 43"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Godkend"), "the action is APPROVE");
    give_user_id(&browser, &flow, "anna.hansen").await;
    let r = code_display_step(&browser, &flow, &totp_now(&h, 0), PASSWORD).await;
    let code = code_from(&h, &r, &started);
    let (_, tokens) = exchange(&bank, code, started).await;
    let claims = payload(&tokens.extra_fields().id_token().unwrap().to_string());
    assert_eq!(
        claims["authorization_details"][0]["instructedAmount"],
        serde_json::json!({ "currency": "DKK", "amount": "1500.00" })
    );
    assert_eq!(
        claims["authorization_details"][0]["creditorAccount"]["iban"],
        "DK5000400440116243"
    );

    // Malformed details are refused with invalid_request and a specific description.
    for (bad, needle) in [
        (
            r#"[{"type":"sesam_transaction","text":"Betal \u202E01 kr"}]"#,
            "bidirectional",
        ),
        (
            r#"[{"type":"sesam_transaction","text":"a\u200Bb"}]"#,
            "invisible",
        ),
        (
            r#"[{"type":"sesam_transaction","text":"a\u0000b"}]"#,
            "control",
        ),
        (
            r#"[{"type":"sesam_transaction","text":"one\ntwo"}]"#,
            "one line",
        ),
        (r#"[{"type":"account_information"}]"#, "not supported"),
        (
            r#"[{"type":"payment_initiation","creditorName":"J","creditorAccount":{"iban":"DK5000400440116243"}}]"#,
            "instructedAmount",
        ),
        (
            r#"[{"type":"payment_initiation","instructedAmount":{"currency":"DKK","amount":"-5"},"creditorName":"J","creditorAccount":{"iban":"DK5000400440116243"}}]"#,
            "positive decimal",
        ),
        (
            r#"[{"type":"payment_initiation","instructedAmount":{"currency":"DKK","amount":"five"},"creditorName":"J","creditorAccount":{"iban":"DK5000400440116243"}}]"#,
            "positive decimal",
        ),
        (
            r#"[{"type":"payment_initiation","instructedAmount":{"currency":"XYZ","amount":"5"},"creditorName":"J","creditorAccount":{"iban":"DK5000400440116243"}}]"#,
            "ISO 4217",
        ),
    ] {
        let s = start(&bank, &[], &[("authorization_details", bad)]);
        let r = Browser::new(&h.base).get(&s.url).await;
        assert_eq!(
            r.redirect_param("error").as_deref(),
            Some("invalid_request"),
            "{bad}"
        );
        let d = r.redirect_param("error_description").unwrap();
        assert!(d.contains(needle), "{bad}: {d}");
    }
    let long =
        serde_json::json!([{ "type": "sesam_transaction", "text": "x".repeat(131) }]).to_string();
    let s = start(&bank, &[], &[("authorization_details", long.as_str())]);
    let d = Browser::new(&h.base)
        .get(&s.url)
        .await
        .redirect_param("error_description")
        .unwrap();
    assert!(d.contains("131 characters"), "{d}");
}

/// The sweep removes a grant only once no token can use it: an access token still reads
/// userinfo at the end of its life after the code expired and the sweep ran, and a refresh
/// token keeps its grant; a grant without refresh tokens goes once its last access token
/// has expired.
#[tokio::test]
async fn the_sweep_keeps_grants_while_a_token_can_use_them() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let userinfo = |token: String| {
        let (rp, http) = (&bank.rp, &bank.http);
        async move {
            let r: Result<openidconnect::core::CoreUserInfoClaims, _> = rp
                .user_info(AccessToken::new(token), None)
                .unwrap()
                .request_async(http)
                .await;
            r.is_ok()
        }
    };

    // At 0 s a login without a refresh token, at 31 s one with (the next code display
    // code); each code lives 60 s, each access token 300 s from its exchange.
    let started = start(&bank, &["profile"], &[]);
    let code = code_by_pages(&h, &started, "anna.hansen").await;
    let (_, plain) = exchange(&bank, code, started).await;
    h.clock.advance_seconds(31);
    let started = start(&bank, &["profile", "offline_access"], &[]);
    let code = code_by_pages(&h, &started, "anna.hansen").await;
    let (_, with_refresh) = exchange(&bank, code, started).await;
    let grant_of =
        |token: &str| -> uuid::Uuid { payload(token)["grant"].as_str().unwrap().parse().unwrap() };
    let (plain_grant, refresh_grant) = (
        grant_of(plain.access_token().secret()),
        grant_of(with_refresh.access_token().secret()),
    );

    // At 291 s, near the end of the first access token and long after both codes expired.
    h.clock.advance_seconds(260);
    h.sesam.sweep_expired().await.unwrap();
    assert!(userinfo(plain.access_token().secret().clone()).await);
    assert!(userinfo(with_refresh.access_token().secret().clone()).await);

    // At 401 s no access token of either code can be alive: the grant without a refresh
    // token goes, the one with a live refresh token stays and still refreshes.
    h.clock.advance_seconds(110);
    h.sesam.sweep_expired().await.unwrap();
    assert!(h.db.grant(plain_grant).await.unwrap().is_none());
    assert!(h.db.grant(refresh_grant).await.unwrap().is_some());
    let rotated = bank
        .rp
        .exchange_refresh_token(with_refresh.refresh_token().unwrap())
        .unwrap()
        .request_async(&bank.http)
        .await
        .unwrap_or_else(|e| panic!("refresh after the sweep failed: {e:?}"));
    assert!(userinfo(rotated.access_token().secret().clone()).await);
}
