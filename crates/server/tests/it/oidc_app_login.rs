//! Logging in with the app through the browser pages, with the `openidconnect` crate as
//! the relying party and the `sesam-app` library approving: the channel-binding code is
//! enforced by the server, the approval is signed over the exact text, requests are
//! single-use and expire, "this wasn't me" tells every channel, and a person's own login
//! goes through while someone else keeps starting requests for their user ID.

use crate::inproc;
use crate::oidc;

use inproc::*;
use oidc::*;
use sesam_app::{AppClient, AppState, PendingRequest};
use sesam_domain::{Clock, OsRandom};

/// Chooses the app on the pages; returns the waiting page's path and the code it shows.
async fn choose_app(browser: &Browser, flow: &str) -> (String, String) {
    let choose = browser.get(flow).await;
    assert!(choose.body.contains("action=\"/login/"), "{}", choose.body);
    let r = browser
        .post(&format!("{flow}/app"), &[("csrf", &choose.csrf())])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let wait = r.location.unwrap();
    let page = browser.get(&wait).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("http-equiv=\"refresh\""),
        "the page refreshes itself without script"
    );
    let marker = "data-testid=\"binding-code\">";
    let i = page.body.find(marker).expect("a binding code") + marker.len();
    let code = page.body[i..i + 4].to_owned();
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    // The same code as a QR code, an inline SVG image.
    let qr = "src=\"data:image/svg+xml;base64,";
    let j = page.body.find(qr).expect("a QR code") + qr.len();
    let b64: String = page.body[j..]
        .chars()
        .take_while(|c| *c != '"')
        .collect::<String>()
        .replace("&#43;", "+")
        .replace("&#x2f;", "/")
        .replace("&#61;", "=");
    use base64::Engine;
    let svg = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .expect("base64 in the data URL");
    assert!(
        String::from_utf8_lossy(&svg).contains("<svg"),
        "an SVG image"
    );
    (wait, code)
}

async fn waiting(client: &AppClient, app: &AppState) -> Vec<PendingRequest> {
    client
        .requests(app, &OsRandom)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "approval")
        .collect()
}

async fn app_login(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let client = h.client();

    let browser = Browser::new(&h.base);
    let started = start(&bank, &["profile"], &[]);
    let flow = open_login(&browser, &started.url).await;
    give_user_id(&browser, &flow, "anna.hansen").await;
    let (wait, code) = choose_app(&browser, &flow).await;

    let list = waiting(&client, &p.app).await;
    assert_eq!(list.len(), 1);
    let request = &list[0];
    assert_eq!(request.sp_name.as_deref(), Some("Demo Bank"));
    assert_eq!(request.action.as_deref(), Some("LOG_ON"));
    assert_eq!(request.text, "Log på hos Demo Bank");
    assert!(request.binding_required);
    assert_eq!(request.level.as_deref(), Some("substantial"));

    // Without the code, or with another one: refused by the server.
    let e = client
        .approve_request(&p.app, request, "111111", None, &OsRandom)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("code"), "{e}");
    let wrong = if code == "0000" { "0001" } else { "0000" };
    let e = client
        .approve_request(&p.app, request, "111111", Some(wrong), &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("binding_code_wrong"), "{e}");
    // A signature over another text (the app was shown something else) is refused.
    let tampered = PendingRequest {
        text: "Log på hos Evil Bank".into(),
        ..request.clone()
    };
    let e = client
        .approve_request(&p.app, &tampered, "111111", Some(&code), &OsRandom)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("approval_signature_invalid"), "{e}");
    // Still waiting in the browser.
    assert_eq!(browser.get(&wait).await.status, 200);

    client
        .approve_request(&p.app, request, "111111", Some(&code), &OsRandom)
        .await
        .unwrap();
    // The same approval again: refused.
    let e = client
        .approve_request(&p.app, request, "111111", Some(&code), &OsRandom)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already answered"), "{e}");

    let r = browser.get(&wait).await;
    let c = code_from(&h, &r, &started);
    let (claims, _) = exchange(&bank, c, started).await;
    assert_eq!(
        claims.auth_context_ref().unwrap().as_str(),
        "http://eidas.europa.eu/LoA/substantial"
    );
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(amr, ["swk", "pin", "mfa"]);
    // The waiting page of a finished login is gone.
    assert_eq!(browser.get(&wait).await.status, 400);
    // The browser's session logs in to another SP without the pages, and carries no
    // approval: the receipt of what the person approved for Demo Bank is for Demo Bank.
    let shop = register_sp(&h, "Demo Shop", false, false).await;
    let s = start(&shop, &[], &[("prompt", "none")]);
    let r = browser.get(&s.url).await;
    let c = code_from(&h, &r, &s);
    let tokens = exchange_raw(&h, &shop, &c, s).await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
    assert!(tokens.get("approval_receipt").is_none(), "{tokens}");

    let actions = audit_actions(&h).await;
    assert!(
        actions.contains(&"approval.requested".to_owned())
            && actions.contains(&"approval.approved".to_owned())
    );
    h.sesam.verify_audit().await.unwrap();
}

#[tokio::test]
async fn app_login_with_the_binding_code_sqlite() {
    app_login(Backend::Sqlite).await;
}

#[tokio::test]
async fn app_login_with_the_binding_code_postgres() {
    app_login(Backend::Postgres).await;
}

#[tokio::test]
async fn requests_expire_and_can_be_reported_as_not_mine() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let client = h.client();

    // Expired after 3 minutes: the page says so, the app can no longer approve.
    let browser = Browser::new(&h.base);
    let flow = open_login(&browser, &start(&bank, &[], &[]).url).await;
    give_user_id(&browser, &flow, "anna.hansen").await;
    let (wait, code) = choose_app(&browser, &flow).await;
    let request = waiting(&client, &p.app).await.remove(0);
    h.clock.advance_seconds(181);
    let page = browser.get(&wait).await;
    assert!(page.body.contains("udløbet"), "{}", page.body);
    let e = h
        .client()
        .approve_request(&p.app, &request, "111111", Some(&code), &OsRandom)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");

    // "This wasn't me": declined, every channel told, the app advises blocking.
    let browser = Browser::new(&h.base);
    let flow = open_login(&browser, &start(&bank, &[], &[]).url).await;
    give_user_id(&browser, &flow, "anna.hansen").await;
    let (wait, _) = choose_app(&browser, &flow).await;
    let client = h.client();
    let request = waiting(&client, &p.app).await.remove(0);
    let v = client
        .reject_request(&p.app, &request, true, &OsRandom)
        .await
        .unwrap();
    let v = serde_json::to_value(v).unwrap();
    assert_eq!(v["not_me"], true);
    assert!(v["advice"].as_str().unwrap().contains("block"));
    let page = browser.get(&wait).await;
    assert!(page.body.contains("Afvist i appen"), "{}", page.body);
    let messages = h.db.recent_messages(Some(p.identity_id), 50).await.unwrap();
    let channels: Vec<_> = messages
        .iter()
        .filter(|m| m.event == "approval.reported_not_me")
        .map(|m| m.channel)
        .collect();
    assert!(channels.len() >= 2, "every channel is told: {channels:?}");
    assert!(
        audit_actions(&h)
            .await
            .contains(&"approval.reported_not_me".to_owned())
    );
}

#[tokio::test]
async fn someone_starting_requests_for_a_user_id_cannot_stop_its_owner() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let client = h.client();
    // Requests are counted per fixed 10-minute window: start at the beginning of one.
    let into_window = h.clock.now().millis().rem_euclid(600_000) / 1000;
    h.clock.advance_seconds(600 - into_window + 1);

    // An attacker who knows the user ID starts requests from their own browsers.
    let mut attacker_pages = vec![];
    for _ in 0..4 {
        let b = Browser::new(&h.base);
        let flow = open_login(&b, &start(&bank, &[], &[]).url).await;
        give_user_id(&b, &flow, "anna.hansen").await;
        let (wait, _) = choose_app(&b, &flow).await;
        attacker_pages.push((b, wait));
    }
    // At most 3 wait at once: the oldest was pushed out.
    assert_eq!(waiting(&client, &p.app).await.len(), 3);
    let (b0, w0) = &attacker_pages[0];
    assert!(b0.get(w0).await.body.contains("udløbet"));

    // The person's own login: their browser shows its code, which none of the attacker's
    // requests carries the right one for; they approve theirs and get in.
    let browser = Browser::new(&h.base);
    let started = start(&bank, &[], &[]);
    let flow = open_login(&browser, &started.url).await;
    give_user_id(&browser, &flow, "anna.hansen").await;
    let (wait, code) = choose_app(&browser, &flow).await;
    let mine = waiting(&client, &p.app).await.pop().unwrap();
    client
        .approve_request(&p.app, &mine, "111111", Some(&code), &OsRandom)
        .await
        .unwrap();
    let c = code_from(&h, &browser.get(&wait).await, &started);
    let tokens = exchange_raw(&h, &bank, &c, started).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            id_token.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(claims["amr"].as_array().unwrap().contains(&"swk".into()));
    // The receipt of the approval the person gave, for this SP, signed once: userinfo
    // hands out the same one.
    let jwks: serde_json::Value = reqwest::get(format!("{}/jwks.json", h.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let receipt = tokens["approval_receipt"].as_str().unwrap();
    let claims_of_receipt = crate::oidc_ciba::verify_receipt(receipt, &jwks, &bank.client_id);
    assert_eq!(claims_of_receipt["request_id"], mine.id.to_string());
    assert_eq!(claims_of_receipt["text"], "Log på hos Demo Bank");
    assert_eq!(claims_of_receipt["sub"], claims["sub"]);
    let info: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/userinfo", h.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["approval_receipt"].as_str(), Some(receipt));

    // From one address, at most 10 requests per person per 10 minutes.
    let mut last = None;
    for _ in 0..7 {
        let b = Browser::new(&h.base);
        let flow = open_login(&b, &start(&bank, &[], &[]).url).await;
        give_user_id(&b, &flow, "anna.hansen").await;
        let choose = b.get(&flow).await;
        last = Some(
            b.post(&format!("{flow}/app"), &[("csrf", &choose.csrf())])
                .await,
        );
    }
    let r = last.unwrap();
    assert_eq!(r.status, 200, "the 11th is refused on the page: {r:?}");
    assert!(r.body.contains("for mange anmodninger"), "{}", r.body);

    // The next window counts afresh.
    h.clock.advance_seconds(600);
    let b = Browser::new(&h.base);
    let flow = open_login(&b, &start(&bank, &[], &[]).url).await;
    give_user_id(&b, &flow, "anna.hansen").await;
    let choose = b.get(&flow).await;
    let r = b
        .post(&format!("{flow}/app"), &[("csrf", &choose.csrf())])
        .await;
    assert_eq!(r.status, 303, "a new window: {r:?}");
}

/// `body` with the text between the first `start` and the `end` after it replaced.
fn between(body: &str, start: &str, end: &str, with: &str) -> String {
    let Some(i) = body.find(start).map(|i| i + start.len()) else {
        return body.to_owned();
    };
    let j = i + body[i..].find(end).unwrap_or(0);
    format!("{}{with}{}", &body[..i], &body[j..])
}

#[tokio::test]
async fn an_unknown_user_id_waits_like_a_known_one() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let mut pages = vec![];
    for user in ["anna.hansen", "nobody.here"] {
        let b = Browser::new(&h.base);
        let flow = open_login(&b, &start(&bank, &[], &[]).url).await;
        give_user_id(&b, &flow, user).await;
        let (wait, code) = choose_app(&b, &flow).await;
        let body = b.get(&wait).await.body;
        // The QR code holds the request id and code, which differ between any two logins.
        let marker = "src=\"data:image/svg+xml;base64,";
        let i = body.find(marker).unwrap() + marker.len();
        let j = i + body[i..].find('"').unwrap();
        let body = format!("{}QR{}", &body[..i], &body[j..]);
        // So do the request's expiry and the seconds left to it (the countdown).
        let body = between(&body, "datetime=\"", "\"", "EXPIRES");
        let body = between(&body, "data-testid=\"valid-until\">", "<", "TIME");
        let body = between(&body, "data-seconds-left=\"", "\"", "LEFT");
        pages.push(without_uuids(
            &body.replace(&code, "CODE").replace(user, "USER"),
        ));
    }
    assert_eq!(pages[0], pages[1]);
}

/// Replaces every UUID in `s` (flow and request ids differ between any two logins).
fn without_uuids(s: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < s.len() {
        if s.is_char_boundary(i)
            && s.len() >= i + 36
            && s.is_char_boundary(i + 36)
            && uuid::Uuid::parse_str(&s[i..i + 36]).is_ok()
        {
            out.push_str("UUID");
            i += 36;
            continue;
        }
        let c = s[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The nonces of the device-signed calls the server has accepted (read from the server's
/// SQLite file).
async fn accepted_requests(h: &Harness) -> std::collections::HashSet<String> {
    use sqlx::Connection;
    let db = h._dir.path().join("sesam.db");
    assert!(db.exists(), "{}", db.display());
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display()))
        .await
        .unwrap();
    let nonces: Vec<String> = sqlx::query_scalar("SELECT nonce FROM app_nonces")
        .fetch_all(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    nonces.into_iter().collect()
}

#[tokio::test]
async fn the_app_can_wait_for_a_request_long_poll() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let client = h.client();
    // Nothing waits: the server holds the call, then answers with nothing.
    let t = std::time::Instant::now();
    assert!(
        client
            .wait_for_requests(&p.app, 1, &OsRandom)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(900),
        "held for the wait"
    );
    // A request that arrives while the app waits is answered at once.
    let accepted = accepted_requests(&h).await;
    let app = p.app.clone();
    let waiter =
        tokio::spawn(async move { client.wait_for_requests(&app, 20, &OsRandom).await.unwrap() });
    // The login starts once the server has accepted the waiting call (its nonce is
    // registered): from then on the call is held, so the request arrives while it waits.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while accepted_requests(&h).await.is_subset(&accepted) {
        assert!(
            std::time::Instant::now() < deadline,
            "the wait never reached the server"
        );
        assert!(!waiter.is_finished(), "the wait ended before any request");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let browser = Browser::new(&h.base);
    let flow = open_login(&browser, &start(&bank, &[], &[]).url).await;
    give_user_id(&browser, &flow, "anna.hansen").await;
    choose_app(&browser, &flow).await;
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(got.iter().any(|r| r.kind == "approval"));
    // A malformed wait is refused.
    let e = h
        .client()
        .signed(
            &p.app,
            reqwest::Method::GET,
            "/app/v1/approvals?wait=soon",
            None,
            &OsRandom,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("wait"), "{e}");
}

#[tokio::test]
async fn an_approval_signed_by_another_device_is_refused() {
    use sesam_domain::app_protocol::{AppPin, b64};
    use sesam_domain::auth_request::{
        ApprovalFields, Decision, approval_pin_binding, approval_signing_bytes,
    };
    use sesam_domain::authorization::Action;
    use sesam_domain::transaction_text::TransactionText;
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let client = h.client();
    // A second app of the same person, approved from the first.
    let mut second = new_app(dir.path(), &h.base, "second");
    let pairing = client
        .start_pairing(&second, "anna.hansen", "222222", "Pixel 8", &OsRandom)
        .await
        .unwrap();
    second.set_pin_key(&pairing.device_pin_key);
    let pending = client.requests(&p.app, &OsRandom).await.unwrap();
    let r = pending
        .iter()
        .find(|r| r.kind == "activate_app")
        .unwrap()
        .clone();
    client
        .approve(&p.app, &r, "111111", Some(&pairing.pairing_code), &OsRandom)
        .await
        .unwrap();
    second.device_id = client.pairing_status(pairing.pairing_id).await.unwrap().1;
    let second_id = second.device_id.unwrap();

    let browser = Browser::new(&h.base);
    let flow = open_login(&browser, &start(&bank, &[], &[]).url).await;
    give_user_id(&browser, &flow, "anna.hansen").await;
    let (_, code) = choose_app(&browser, &flow).await;
    let request = waiting(&client, &second).await.remove(0);
    // The second app answers, but the signature is made with the first app's key.
    let ts = sesam_domain::Clock::now(&*h.clock).millis();
    let bytes = approval_signing_bytes(&ApprovalFields {
        request_id: request.id,
        client_id: request.client_id.as_deref().unwrap(),
        sp_name: request.sp_name.as_deref().unwrap(),
        action: Action::parse(request.action.as_deref().unwrap()).unwrap(),
        text_sha256: TransactionText::parse(&request.text).unwrap().sha256(),
        binding_code: Some(&code),
        decision: Decision::Approve,
        device_id: second_id,
        timestamp_ms: ts,
    });
    use p256::ecdsa::signature::Signer;
    let foreign: p256::ecdsa::Signature = p.app.signing_key().unwrap().sign(&bytes);
    let pin_key = second.pin_key().unwrap();
    let proof = pin_key.seal(
        &AppPin::parse("222222").unwrap(),
        &approval_pin_binding(request.id, second_id),
        &OsRandom,
    );
    let answer = sesam_core::services::approvals::SignedAnswer {
        pin_proof: Some(b64(&proof)),
        binding_code: Some(code.clone()),
        timestamp_ms: ts,
        signature: b64(&foreign.to_bytes()),
        not_me: false,
    };
    let e = h
        .sesam
        .approve_request(second_id, request.id, &answer)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("signature does not verify"), "{e}");
    // A timestamp far outside any clock is refused, not overflowed.
    for extreme in [i64::MIN, i64::MAX] {
        let e = h
            .sesam
            .approve_request(
                second_id,
                request.id,
                &sesam_core::services::approvals::SignedAnswer {
                    timestamp_ms: extreme,
                    ..answer.clone()
                },
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("timestamp"), "{e}");
    }
    // Signed with its own key it goes through.
    let own: p256::ecdsa::Signature = second.signing_key().unwrap().sign(&bytes);
    let proof = pin_key.seal(
        &AppPin::parse("222222").unwrap(),
        &approval_pin_binding(request.id, second_id),
        &OsRandom,
    );
    let answer = sesam_core::services::approvals::SignedAnswer {
        pin_proof: Some(b64(&proof)),
        signature: b64(&own.to_bytes()),
        ..answer
    };
    h.sesam
        .approve_request(second_id, request.id, &answer)
        .await
        .unwrap();
}

async fn wrong_binding_codes_cancel_a_request(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = std::sync::Arc::new(person(&h, &sink, dir.path(), ANNA).await);
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let client = std::sync::Arc::new(h.client());

    // Two wrong codes, then the right one: still fine.
    let browser = Browser::new(&h.base);
    let started = start(&bank, &[], &[]);
    let flow = open_login(&browser, &started.url).await;
    give_user_id(&browser, &flow, "anna.hansen").await;
    let (wait, code) = choose_app(&browser, &flow).await;
    let request = waiting(&client, &p.app).await.remove(0);
    let wrong = if code == "0000" { "0001" } else { "0000" };
    for _ in 0..2 {
        let e = client
            .approve_request(&p.app, &request, "111111", Some(wrong), &OsRandom)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("binding_code_wrong"), "{e}");
    }
    client
        .approve_request(&p.app, &request, "111111", Some(&code), &OsRandom)
        .await
        .unwrap();
    let c = code_from(&h, &browser.get(&wait).await, &started);
    exchange(&bank, c, started).await;

    // 20 wrong codes at once: at most 3 are evaluated, the third cancels the request, and
    // the right code no longer approves it.
    let browser = Browser::new(&h.base);
    let flow = open_login(&browser, &start(&bank, &[], &[]).url).await;
    give_user_id(&browser, &flow, "anna.hansen").await;
    let (wait, code) = choose_app(&browser, &flow).await;
    let request = waiting(&client, &p.app).await.remove(0);
    let wrong: &'static str = if code == "0000" { "0001" } else { "0000" };
    let before = audit_actions(&h)
        .await
        .iter()
        .filter(|a| *a == "approval.binding_code_wrong")
        .count();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (client, p, request) = (client.clone(), p.clone(), request.clone());
            tokio::spawn(async move {
                client
                    .approve_request(&p.app, &request, "111111", Some(wrong), &OsRandom)
                    .await
                    .unwrap_err()
                    .code()
                    .map(str::to_owned)
                    .unwrap_or_default()
            })
        })
        .collect();
    let mut codes = vec![];
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(
        codes.iter().filter(|c| *c == "binding_code_wrong").count(),
        2,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| *c == "request_voided").count(),
        1,
        "{codes:?}"
    );
    let evaluated = audit_actions(&h)
        .await
        .iter()
        .filter(|a| *a == "approval.binding_code_wrong")
        .count()
        - before;
    assert_eq!(evaluated, 3, "exactly three codes were evaluated");
    let e = client
        .approve_request(&p.app, &request, "111111", Some(&code), &OsRandom)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already answered"), "{e}");
    let page = browser.get(&wait).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Afvist i appen"), "{}", page.body);
    assert!(waiting(&client, &p.app).await.is_empty());
    h.sesam.verify_audit().await.unwrap();
}

#[tokio::test]
async fn wrong_binding_codes_cancel_a_request_on_sqlite() {
    wrong_binding_codes_cancel_a_request(Backend::Sqlite).await;
}

#[tokio::test]
async fn wrong_binding_codes_cancel_a_request_on_postgres() {
    wrong_binding_codes_cancel_a_request(Backend::Postgres).await;
}

async fn not_me_blocks_the_reported_address(backend: Backend) {
    let (sink, url) = SmsSink::start().await;
    let Some(h) = harness(backend, Some(&url)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let bo = person(&h, &sink, dir.path(), BO).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let client = h.client();
    let elsewhere: std::net::IpAddr = "127.0.0.2".parse().unwrap();

    // Someone at another address starts a login for Anna; she reports it.
    let attacker = Browser::from_address(&h.base, elsewhere);
    let flow = open_login(&attacker, &start(&bank, &[], &[]).url).await;
    give_user_id(&attacker, &flow, "anna.hansen").await;
    choose_app(&attacker, &flow).await;
    let request = waiting(&client, &p.app).await.remove(0);
    client
        .reject_request(&p.app, &request, true, &OsRandom)
        .await
        .unwrap();

    // A fresh cookie jar at that address is refused for Anna...
    let fresh = Browser::from_address(&h.base, elsewhere);
    let flow = open_login(&fresh, &start(&bank, &[], &[]).url).await;
    give_user_id(&fresh, &flow, "anna.hansen").await;
    let choose = fresh.get(&flow).await;
    let r = fresh
        .post(&format!("{flow}/app"), &[("csrf", &choose.csrf())])
        .await;
    assert_eq!(r.status, 200, "refused on the page: {r:?}");
    assert!(r.body.contains("Det var ikke mig"), "{}", r.body);
    assert!(waiting(&client, &p.app).await.is_empty());

    // ...but not for someone else, and Anna's own browser at her address still works.
    let other = Browser::from_address(&h.base, elsewhere);
    let flow = open_login(&other, &start(&bank, &[], &[]).url).await;
    give_user_id(&other, &flow, "bo.jensen").await;
    choose_app(&other, &flow).await;
    assert_eq!(waiting(&client, &bo.app).await.len(), 1);
    let own = Browser::new(&h.base);
    let flow = open_login(&own, &start(&bank, &[], &[]).url).await;
    give_user_id(&own, &flow, "anna.hansen").await;
    choose_app(&own, &flow).await;
    assert_eq!(waiting(&client, &p.app).await.len(), 1);
}

#[tokio::test]
async fn not_me_blocks_the_reported_address_on_sqlite() {
    not_me_blocks_the_reported_address(Backend::Sqlite).await;
}

#[tokio::test]
async fn not_me_blocks_the_reported_address_on_postgres() {
    not_me_blocks_the_reported_address(Backend::Postgres).await;
}
