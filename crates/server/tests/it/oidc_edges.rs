//! The edges an attacker pushes on from outside, against the real HTTP server: the
//! language link as an open redirect, logout links with someone's ID token (logout CSRF),
//! a code replayed by another client, and a `request_uri` presented by another client.
//! Storage-backed cases run on SQLite and PostgreSQL.

use crate::inproc;
use crate::oidc;

use inproc::*;
use oidc::*;
use openidconnect::{AccessToken, OAuth2TokenResponse};
use sesam_domain::OsRandom;
use sesam_domain::totp::TotpVerifier;

/// Where the language link sends the browser for a raw (already URL-encoded) `back`.
async fn back_to(b: &Browser, raw_back: &str) -> (u16, Option<String>) {
    let r = b.get(&format!("/language?to=en&back={raw_back}")).await;
    (r.status, r.location)
}

#[tokio::test]
async fn the_language_link_goes_back_only_to_plain_paths_on_this_server() {
    let h = harness(Backend::Sqlite, None).await.unwrap();
    let b = Browser::new(&h.base);
    // Our own links come back as they are.
    for ok in [
        "/",
        "/login/0190a8b2-7c1e-7d3a-9f00-0123456789ab",
        "/login/0190a8b2-7c1e-7d3a-9f00-0123456789ab/code-display",
        "/logout",
    ] {
        let raw: String = form_urlencoded::byte_serialize(ok.as_bytes()).collect();
        assert_eq!(back_to(&b, &raw).await, (303, Some(ok.to_owned())), "{ok}");
    }
    // Everything a browser could read as another host, or that is not one of our plain
    // paths, falls back to the start page (raw query values, as an attacker writes them).
    let refused = [
        "/%09/evil.example",          // tab: browsers drop it, leaving //evil.example
        "/%0A/evil.example",          // newline
        "/%0D/evil.example",          // carriage return
        "/%0D%0A/evil.example",       // both
        "%09//evil.example",          // tab in front
        "/%20/evil.example",          // space
        "/%5Cevil.example",           // /\evil: a backslash reads as /
        "%5C%5Cevil.example",         // \\evil
        "/%5C/evil.example",          // /\/evil
        "//evil.example",             // scheme-relative
        "%2F%2Fevil.example",         // the same, encoded
        "/%252F/evil.example",        // double-encoded slash
        "/%2509/evil.example",        // double-encoded tab
        "/%255C/evil.example",        // double-encoded backslash
        "https://evil.example/",      // absolute, another origin
        "https%3A%2F%2Fevil.example", // the same, encoded
        "http://localhost:1/",        // another port of this host
        "javascript:alert(1)",        // a script URL
        "/..//evil.example",          // dot segments that resolve to //evil.example
        "/a/../../evil",              // dot segments
        "/%E2%80%A8/evil.example",    // a Unicode line separator
        "/%C2%A0/evil.example",       // a no-break space
        "/login%23//evil.example",    // a fragment
        "evil.example",               // not a path
        "",                           // empty
    ];
    for raw in refused {
        assert_eq!(
            back_to(&b, raw).await,
            (303, Some("/".to_owned())),
            "back={raw}"
        );
    }
    // The absolute URL of this very server is not a plain path either.
    let own: String =
        form_urlencoded::byte_serialize(format!("{}/logout", h.base).as_bytes()).collect();
    assert_eq!(back_to(&b, &own).await, (303, Some("/".to_owned())));
    // The language is remembered whatever `back` was.
    let r = b.get("/language?to=en&back=/%09/evil.example").await;
    assert!(
        r.headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("sesam_lang=en")),
        "{r:?}"
    );
}

/// Logs `user_id` in through the pages (code display + password with `seed`) in a new
/// browser and exchanges the code with the RP library.
async fn login(
    h: &Harness,
    sp: &Sp,
    user_id: &str,
    seed: &[u8],
) -> (Browser, openidconnect::core::CoreTokenResponse) {
    let b = Browser::new(&h.base);
    let started = start(sp, &["profile"], &[]);
    let flow = open_login(&b, &started.url).await;
    let r = give_user_id(&b, &flow, user_id).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = code_display_step(&b, &flow, &totp(h, seed, 0), PASSWORD).await;
    let code = code_from(h, &r, &started);
    h.clock.advance_seconds(30);
    let (_, tokens) = exchange(sp, code, started).await;
    (b, tokens)
}

/// The second display of the fixture (serial SESAM-0002), for a second person.
const SECOND_SEED_B64: &str = "Il8Dd3JkXFd+eFomZa7sb+MFBkqcLHv1KPgZ1GF0rKc=";

fn second_seed() -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(SECOND_SEED_B64)
        .unwrap()
}

fn totp(h: &Harness, seed: &[u8], steps_back: u64) -> String {
    use sesam_domain::Clock;
    let step = (h.clock.now().millis() / 1000 / 30) as u64;
    TotpVerifier::new(seed)
        .code_for_step(step - steps_back)
        .as_str()
        .to_owned()
}

/// Anna (the fixture's RFC 6238 display) and Bo (its second display), both with a
/// password, and a bank.
async fn two_people(h: &Harness, dir: &std::path::Path, sink: &SmsSink) -> Sp {
    person(h, sink, dir, ANNA).await;
    let bo = person(h, sink, dir, BO).await;
    let seed = second_seed();
    h.client()
        .activate_code_display(
            &bo.app,
            "SESAM-0002",
            &totp(h, &seed, 1),
            &totp(h, &seed, 0),
            PASSWORD,
            "111111",
            &OsRandom,
        )
        .await
        .unwrap();
    h.clock.advance_seconds(30);
    register_sp(h, "Demo Bank", false, false).await
}

/// Whether the browser's session still answers `prompt=none` with a code.
async fn has_session(b: &Browser, sp: &Sp) -> bool {
    let s = start(sp, &[], &[("prompt", "none")]);
    let r = b.get(&s.url).await;
    r.redirect_param("code").is_some()
}

fn logout_query(hint: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", REDIRECT)
        .append_pair("state", "bye")
        .finish()
}

async fn logout_needs_the_sessions_own_person(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bank = two_people(&h, dir.path(), &sink).await;
    let (anna, anna_tokens) = login(&h, &bank, "anna.hansen", RFC_SEED).await;
    let (_bo, bo_tokens) = login(&h, &bank, "bo.jensen", &second_seed()).await;
    let anna_hint = anna_tokens.extra_fields().id_token().unwrap().to_string();
    let bo_hint = bo_tokens.extra_fields().id_token().unwrap().to_string();

    // Someone else's ID token in a link (Bo's, sent to Anna): the confirmation page, and
    // Anna's session lives on.
    let r = anna
        .get(&format!("/logout?{}", logout_query(&bo_hint)))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.location.is_none(), "{r:?}");
    assert!(
        r.body.contains("form method=\"post\" action=\"/logout\""),
        "{}",
        r.body
    );
    assert!(
        has_session(&anna, &bank).await,
        "another person's hint ended the session"
    );
    // A POST without the page's CSRF token is asked the same way.
    let r = anna
        .post(
            "/logout",
            &[
                ("id_token_hint", &bo_hint),
                ("post_logout_redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_eq!((r.status, r.location.is_none()), (200, true), "{r:?}");
    assert!(has_session(&anna, &bank).await);

    // Confirmed on the page (the hint and the rest carried in the form): logged out.
    let page = anna
        .get(&format!("/logout?{}", logout_query(&bo_hint)))
        .await;
    let r = anna
        .post(
            "/logout",
            &[
                ("csrf", &page.csrf()),
                ("id_token_hint", &page.field("id_token_hint").unwrap()),
                (
                    "post_logout_redirect_uri",
                    &page.field("post_logout_redirect_uri").unwrap(),
                ),
                ("state", &page.field("state").unwrap()),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(
        r.location.as_deref(),
        Some("http://localhost:9/callback?state=bye")
    );
    assert!(!has_session(&anna, &bank).await);

    // Her own hint, long after it expired (ID tokens live 5 minutes, sessions 30): no
    // question, the session ends.
    let (anna, anna_tokens) = login(&h, &bank, "anna.hansen", RFC_SEED).await;
    let fresh_hint = anna_tokens.extra_fields().id_token().unwrap().to_string();
    h.clock.advance_seconds(20 * 60);
    assert!(has_session(&anna, &bank).await);
    let r = anna
        .get(&format!("/logout?{}", logout_query(&fresh_hint)))
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(
        r.location.as_deref(),
        Some("http://localhost:9/callback?state=bye")
    );
    assert!(!has_session(&anna, &bank).await);

    // Her older hint (an earlier login) names her too: a browser with no session left
    // has nothing to lose, so it is not asked either.
    let r = anna
        .get(&format!("/logout?{}", logout_query(&anna_hint)))
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    // A hint sesam did not sign is still an error page, never a redirect.
    let r = anna
        .get("/logout?id_token_hint=eyJhbGciOiJFUzI1NiJ9.e30.sig")
        .await;
    assert_eq!((r.status, r.location.is_none()), (400, true), "{r:?}");
}

#[tokio::test]
async fn logout_with_another_persons_hint_asks_first_sqlite() {
    logout_needs_the_sessions_own_person(Backend::Sqlite).await;
}

#[tokio::test]
async fn logout_with_another_persons_hint_asks_first_postgres() {
    logout_needs_the_sessions_own_person(Backend::Postgres).await;
}

async fn replay_by_another_client(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let other = register_sp(&h, "Other", false, false).await;
    let started = start(&bank, &["profile"], &[]);
    let code = code_by_pages(&h, &started, "anna.hansen").await;
    let verifier = started.verifier.secret().clone();
    let (claims, tokens) = exchange(&bank, code.clone(), started).await;

    // The used code, replayed by another (authenticated) client.
    let replay = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, body) = token_request(&h, Some((&other.client_id, &other.secret)), &replay).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // The bank's tokens still work.
    let info: Result<openidconnect::core::CoreUserInfoClaims, _> = bank
        .rp
        .user_info(
            AccessToken::new(tokens.access_token().secret().clone()),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&bank.http)
        .await;
    assert!(
        info.is_ok(),
        "another client's replay revoked the grant: {info:?}"
    );
    assert!(
        !audit_actions(&h)
            .await
            .contains(&"grant.revoked".to_owned())
    );
    // The rightful client replaying its own code is still a theft signal: revoked.
    let (status, _) = token_request(&h, Some((&bank.client_id, &bank.secret)), &replay).await;
    assert_eq!(status, 400);
    let info: Result<openidconnect::core::CoreUserInfoClaims, _> = bank
        .rp
        .user_info(
            AccessToken::new(tokens.access_token().secret().clone()),
            None,
        )
        .unwrap()
        .request_async(&bank.http)
        .await;
    assert!(
        info.is_err(),
        "the rightful client's replay revokes the grant"
    );
}

#[tokio::test]
async fn a_code_replayed_by_another_client_leaves_the_grant_alone_sqlite() {
    replay_by_another_client(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_code_replayed_by_another_client_leaves_the_grant_alone_postgres() {
    replay_by_another_client(Backend::Postgres).await;
}

async fn request_uri_of_another_client(backend: Backend) {
    let Some(h) = harness(backend, None).await else {
        return;
    };
    let bank = register_sp(&h, "Demo Bank", false, true).await;
    let other = register_sp(&h, "Other", false, false).await;
    let b = Browser::new(&h.base);
    let started = start_pushed(&h, &bank, &[]).await;
    // Presented with the other client's client_id: refused with a page.
    let forged = started.url.replace(&bank.client_id, &other.client_id);
    assert_ne!(forged, started.url);
    let r = b.get(&forged).await;
    assert!(r.location.is_none(), "{r:?}");
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("invalid_request_uri"), "{}", r.body);
    // With an unknown client_id too.
    let r = b
        .get(&started.url.replace(&bank.client_id, "sp_unknown"))
        .await;
    assert!(r.location.is_none(), "{r:?}");
    // The rightful client can still use it, once.
    let r = b.get(&started.url).await;
    assert_eq!(r.status, 303, "{r:?}");
    assert!(r.location.unwrap().starts_with("/login/"));
    let r = b.get(&started.url).await;
    assert!(r.body.contains("invalid_request_uri"), "{}", r.body);
}

#[tokio::test]
async fn a_request_uri_with_another_client_id_is_not_used_up_sqlite() {
    request_uri_of_another_client(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_request_uri_with_another_client_id_is_not_used_up_postgres() {
    request_uri_of_another_client(Backend::Postgres).await;
}

/// What of an answer may not depend on whether the user ID exists: the status, where it
/// leads, which headers it sets (names only: cookies and CSRF tokens are per browser), and
/// the body with the user ID and per-request values taken out.
fn answer_shape(p: &Page, user_id: &str, flow: &str) -> (u16, Option<String>, Vec<String>, String) {
    let mut names: Vec<String> = p
        .headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| !matches!(k.as_str(), "date" | "content-length"))
        .collect();
    names.sort();
    let flow_id = flow.trim_start_matches("/login/");
    let body = p.body.replace(user_id, "USER").replace(flow_id, "FLOW");
    let body = blank_values(&body, "name=\"csrf\" value=\"");
    let location = p.location.clone().map(|l| l.replace(flow_id, "FLOW"));
    (p.status, location, names, body)
}

fn blank_values(body: &str, marker: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(i) = rest.find(marker) {
        out.push_str(&rest[..i + marker.len()]);
        rest = &rest[i + marker.len()..];
        let end = rest.find('"').unwrap_or(rest.len());
        out.push('X');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A JSON value with every string and number replaced by its kind.
fn json_shape(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as V;
    match v {
        V::Object(o) => V::Object(o.iter().map(|(k, v)| (k.clone(), json_shape(v))).collect()),
        V::Array(a) => V::Array(a.iter().map(json_shape).collect()),
        V::String(_) => V::String("s".into()),
        V::Number(_) => V::String("n".into()),
        other => other.clone(),
    }
}

async fn known_and_unknown_answer_alike(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), Who { chip: true, ..ANNA }).await;
    let sp = register_sp(&h, "Demo Bank", false, false).await;
    let mut answers = vec![];
    for user in ["anna.hansen", "nobody.here"] {
        let b = Browser::new(&h.base);
        let flow = open_login(&b, &start(&sp, &[], &[]).url).await;
        let step = give_user_id(&b, &flow, user).await;
        let choose = b.get(&flow).await;
        let chip_page = b.get(&format!("{flow}/chip")).await;
        let challenge = b
            .post(
                &format!("{flow}/chip/challenge"),
                &[("csrf", &chip_page.csrf())],
            )
            .await;
        let json: serde_json::Value = serde_json::from_str(&challenge.body).unwrap();
        let refused = code_display_step(&b, &flow, "000000", "not the password").await;
        answers.push((
            answer_shape(&step, user, &flow),
            answer_shape(&choose, user, &flow),
            answer_shape(&chip_page, user, &flow),
            (
                challenge.status,
                answer_shape(&challenge, user, &flow).2,
                json_shape(&json),
            ),
            answer_shape(&refused, user, &flow),
        ));
    }
    assert_eq!(answers[0].0, answers[1].0, "the user-ID step");
    assert_eq!(answers[0].1, answers[1].1, "the page after it");
    assert_eq!(answers[0].2, answers[1].2, "the chip page");
    assert_eq!(answers[0].3, answers[1].3, "the chip challenge");
    assert_eq!(answers[0].4, answers[1].4, "a refused code display");
}

#[tokio::test]
async fn known_and_unknown_user_ids_get_the_same_answers_sqlite() {
    known_and_unknown_answer_alike(Backend::Sqlite).await;
}

#[tokio::test]
async fn known_and_unknown_user_ids_get_the_same_answers_postgres() {
    known_and_unknown_answer_alike(Backend::Postgres).await;
}
