//! The login pages as a person meets them: messages in the page's language, the waiting
//! page's script told the progress (and nothing more, and only this browser), stopped
//! logins that lead back to the service with `access_denied` and the service's `state`,
//! the words of an approval, and the footer.

use crate::inproc;
use crate::oidc;

use inproc::*;
use oidc::*;
use sesam_domain::OsRandom;

/// Chooses the app; returns the waiting page's path.
async fn wait_page(browser: &Browser, flow: &str) -> String {
    let choose = browser.get(flow).await;
    let r = browser
        .post(&format!("{flow}/app"), &[("csrf", &choose.csrf())])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.location.unwrap()
}

async fn progress(browser: &Browser, wait: &str) -> (u16, serde_json::Value) {
    let r = browser.get(&format!("{wait}/status")).await;
    let body = serde_json::from_str(&r.body).unwrap_or(serde_json::Value::Null);
    (r.status, body)
}

/// The value of the form field `name` inside the form posting to `action`.
fn form_with<'a>(page: &'a Page, action: &str) -> Option<&'a str> {
    let at = page.body.find(&format!("action=\"{action}\""))?;
    let rest = &page.body[at..];
    Some(&rest[..rest.find("</form>")?])
}

#[tokio::test]
async fn the_waiting_page_script_is_told_the_progress_and_nothing_more() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let client = h.client();

    let browser = Browser::new(&h.base);
    let started = start(&bank, &[], &[]);
    let flow = open_login(&browser, &started.url).await;
    give_user_id(&browser, &flow, "anna.hansen").await;
    let wait = wait_page(&browser, &flow).await;
    let page = browser.get(&wait).await;
    // No reload for browsers with script (WCAG 2.2.1): the refresh is inside <noscript>.
    let refresh = page.body.find("http-equiv=\"refresh\"").unwrap();
    let noscript = page.body.find("<noscript>").unwrap();
    assert!(noscript < refresh, "{}", page.body);
    assert!(page.body.contains("src=\"/static/login.js\""));
    assert!(page.body.contains("data-wait=\""));
    let left: i64 = page.body.split("data-seconds-left=\"").nth(1).unwrap()[..3]
        .trim_end_matches('"')
        .parse()
        .unwrap();
    assert!((170..=180).contains(&left), "{left}");
    assert!(
        page.body.contains("Anmodningen gælder til"),
        "{}",
        page.body
    );
    assert!(page.body.contains("scanne QR-koden med sesam-appen"));

    let (status, body) = progress(&browser, &wait).await;
    assert_eq!(status, 200);
    assert_eq!(body["state"], "waiting", "{body}");
    let left = body["seconds_left"].as_i64().unwrap();
    assert!((170..=180).contains(&left), "{body}");
    h.clock.advance_seconds(30);
    let later = progress(&browser, &wait).await.1["seconds_left"]
        .as_i64()
        .unwrap();
    assert!((left - 32..=left - 30).contains(&later), "{later}");

    // Another browser learns nothing about this login.
    let stranger = Browser::new(&h.base);
    let (status, body) = progress(&stranger, &wait).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "login_gone", "{body}");

    // Approved: the script is told "answered", and asking does not finish the login:
    // the page it then opens does, once.
    let page = browser.get(&wait).await;
    let marker = "data-testid=\"binding-code\">";
    let i = page.body.find(marker).unwrap() + marker.len();
    let code = page.body[i..i + 4].to_owned();
    let request = client
        .requests(&p.app, &OsRandom)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.kind == "approval")
        .unwrap();
    client
        .approve_request(&p.app, &request, "111111", Some(&code), &OsRandom)
        .await
        .unwrap();
    assert_eq!(progress(&browser, &wait).await.1["state"], "answered");
    assert_eq!(progress(&browser, &wait).await.1["state"], "answered");
    let done = browser.get(&wait).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.redirect_param("state").as_deref(),
        Some(&*started.state)
    );
    assert!(done.redirect_param("code").is_some());
    // Finished: nothing more to tell.
    assert_eq!(progress(&browser, &wait).await.0, 404);

    // Expired: told so once the 3 minutes are over (another browser: this one now has a
    // session and would not see the pages).
    let browser = Browser::new(&h.base);
    let flow = open_login(&browser, &start(&bank, &[], &[]).url).await;
    give_user_id(&browser, &flow, "anna.hansen").await;
    let wait = wait_page(&browser, &flow).await;
    h.clock.advance_seconds(181);
    assert_eq!(
        progress(&browser, &wait).await.1,
        serde_json::json!({"state": "expired"})
    );
}

#[tokio::test]
async fn stopped_logins_lead_back_to_the_service_and_to_trying_again() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;
    let client = h.client();

    // Rejected in the app.
    let browser = Browser::new(&h.base);
    let started = start(&bank, &[], &[]);
    let flow = open_login(&browser, &started.url).await;
    give_user_id(&browser, &flow, "anna.hansen").await;
    let wait = wait_page(&browser, &flow).await;
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
    let page = browser.get(&wait).await;
    assert!(page.body.contains("Afvist i appen"), "{}", page.body);
    assert!(
        form_with(&page, &format!("{flow}/app")).is_some(),
        "try again"
    );
    assert!(
        page.body.contains(&format!("href=\"{flow}\"")),
        "another way"
    );
    let back = form_with(&page, &format!("{flow}/cancel")).expect("back to the service");
    assert!(back.contains("Tilbage til tjenesten"), "{back}");
    // The page may send the browser on to the service (form-action).
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action 'self' http"), "{csp}");

    // Trying again: a new request, a new waiting page.
    let again = browser
        .post(&format!("{flow}/app"), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(again.status, 303, "{}", again.body);
    let wait2 = again.location.unwrap();
    assert_ne!(wait2, wait);

    // Expired: the same ways on; back to the service ends the login with access_denied
    // and the service's own state, audited.
    h.clock.advance_seconds(181);
    let page = browser.get(&wait2).await;
    assert!(page.body.contains("udløbet"), "{}", page.body);
    assert!(form_with(&page, &format!("{flow}/app")).is_some());
    let r = browser
        .post(&format!("{flow}/cancel"), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.redirect_param("error").as_deref(), Some("access_denied"));
    assert_eq!(r.redirect_param("state").as_deref(), Some(&*started.state));
    assert!(
        audit_actions(&h)
            .await
            .contains(&"login.cancelled".to_owned())
    );
    // Without the page's token, no way back is taken for the person (CSRF).
    let flow = open_login(&browser, &start(&bank, &[], &[]).url).await;
    let r = browser
        .post(&format!("{flow}/cancel"), &[("csrf", "forged")])
        .await;
    assert_eq!(r.status, 403);
    // The login is gone once finished: its address leads back to nothing of its own.
    let r = browser
        .post(
            &format!("{flow}/cancel"),
            &[("csrf", &browser.get(&flow).await.csrf())],
        )
        .await;
    assert_eq!(r.status, 303);
    let gone = browser.get(&flow).await;
    assert_eq!(gone.status, 400);
    assert!(gone.body.contains("ikke længere gyldigt"), "{}", gone.body);
    assert!(!gone.body.contains("data-action=\"back-to-service\""));

    // A login of this browser that expired: its page leads back to the service with
    // access_denied and the service's state.
    let started = start(&bank, &[], &[]);
    let flow = open_login(&browser, &started.url).await;
    h.clock.advance_seconds(11 * 60);
    let expired = browser.get(&flow).await;
    assert_eq!(expired.status, 400);
    let marker = "data-action=\"back-to-service\"";
    assert!(expired.body.contains(marker), "{}", expired.body);
    let href = expired
        .body
        .split("<a class=\"button\" href=\"")
        .nth(1)
        .unwrap();
    let href = href[..href.find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let url = url::Url::parse(&href).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["error"], "access_denied", "{href}");
    assert_eq!(q["state"], started.state, "{href}");
    // Another browser's view of it offers nothing.
    let other = Browser::new(&h.base).get(&flow).await;
    assert!(!other.body.contains(marker), "{}", other.body);
}

#[tokio::test]
async fn messages_are_in_the_page_language_and_an_approval_is_worded_as_one() {
    let h = harness(Backend::Sqlite, None).await.unwrap();
    let bank = register_sp(&h, "Demo Bank", false, false).await;

    // A validation error: Danish on a Danish page, English on an English one.
    let browser = Browser::new(&h.base);
    let flow = open_login(&browser, &start(&bank, &[], &[]).url).await;
    let page = give_user_id(&browser, &flow, "").await;
    assert!(
        page.body
            .contains("Skriv dit bruger-ID. Det har mindst 5 tegn."),
        "{}",
        page.body
    );
    assert!(!page.body.contains("needs at least"));
    let page = give_user_id(&browser, &flow, "ab").await;
    assert!(page.body.contains("Dette har 2."), "{}", page.body);
    let mut english = Browser::new(&h.base);
    english
        .extra_headers
        .push(("accept-language", "en-GB,en;q=0.9".into()));
    let flow = open_login(&english, &start(&bank, &[], &[]).url).await;
    let page = give_user_id(&english, &flow, "").await;
    assert!(
        page.body
            .contains("Enter your user ID. It has at least 5 characters."),
        "{}",
        page.body
    );

    // A payment: approving, not logging on.
    let details = r#"[{"type":"payment_initiation","instructedAmount":{"currency":"DKK","amount":"100.00"},"creditorName":"Shop","creditorAccount":{"iban":"DK5000400440116243"}}]"#;
    let flow = open_login(
        &browser,
        &start(&bank, &[], &[("authorization_details", details)]).url,
    )
    .await;
    let page = browser.get(&flow).await;
    assert!(
        page.body.contains("Godkend hos <strong>Demo Bank</strong>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Log på hos"), "{}", page.body);
    assert!(page.body.contains(">Du godkender</p>"), "{}", page.body);
    give_user_id(&browser, &flow, "anna.hansen").await;
    let page = browser.get(&format!("{flow}/code-display")).await;
    assert!(page.body.contains(">Godkend</button>"), "{}", page.body);
    assert!(page.body.contains("Du godkender som"), "{}", page.body);
    assert!(!page.body.contains(">Log på</button>"), "{}", page.body);

    // The footer and the favicon, with sesam's defaults.
    assert!(
        page.body.contains("sesam drives af <strong"),
        "{}",
        page.body
    );
    assert!(page.body.contains("href=\"/privacy\""));
    assert!(page.body.contains("rel=\"icon\" href=\"/static/favicon\""));
    for path in [
        "/static/logo",
        "/static/favicon",
        "/help",
        "/privacy",
        "/about",
    ] {
        let r = browser.get(path).await;
        assert_eq!(r.status, 200, "{path}");
    }
    let logo = browser.get("/static/logo").await;
    assert_eq!(logo.headers["content-type"], "image/svg+xml");
    assert!(
        logo.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
}

/// The outcomes of the user-ID reminders audited so far, in order.
async fn reminder_outcomes(h: &Harness) -> Vec<String> {
    h.db.audit_entries(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "identity.user_id_reminder")
        .map(|e| {
            let d: serde_json::Value = serde_json::from_str(&e.details).unwrap();
            d["outcome"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Waits until `n` reminders have been handled (they run after the page's answer).
async fn handled(h: &Harness, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let o = reminder_outcomes(h).await;
        if o.len() >= n {
            return o;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("only {:?} reminders handled", reminder_outcomes(h).await);
}

fn reminders_in(texts: &[String]) -> usize {
    texts
        .iter()
        .filter(|t| t.contains("Dit bruger-id er anna.hansen"))
        .count()
}

#[tokio::test]
async fn forgot_user_id_answers_the_same_whatever_is_typed_and_is_limited() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;

    let browser = Browser::new(&h.base);
    let flow = open_login(&browser, &start(&bank, &[], &[]).url).await;
    let user_id_page = browser.get(&flow).await;
    assert!(
        user_id_page
            .body
            .contains(&format!("href=\"{flow}/forgot-user-id\"")),
        "the user-ID page offers it"
    );
    let form = browser.get(&format!("{flow}/forgot-user-id")).await;
    assert_eq!(form.status, 200);
    let csrf = form.csrf();
    let ask = |typed: String| {
        let (browser, flow, csrf) = (&browser, &flow, &csrf);
        async move {
            browser
                .post(
                    &format!("{flow}/forgot-user-id"),
                    &[("csrf", csrf), ("national_id", &typed)],
                )
                .await
        }
    };

    // Anna's number (with its dash), a well-formed number nobody has, and garbage: the
    // same status and the very same page.
    let known = ask("010190-1234".into()).await;
    let unknown = ask("0303901234".into()).await;
    let garbage = ask("not a number".into()).await;
    assert_eq!(known.status, 200, "{}", known.body);
    for other in [&unknown, &garbage] {
        assert_eq!(other.status, known.status);
        assert_eq!(other.body, known.body);
    }
    assert!(known.body.contains("data-testid=\"reminder-sent\""));
    assert!(
        !known.body.contains("anna.hansen"),
        "the page never shows it"
    );
    let mut outcomes = handled(&h, 3).await;
    outcomes.sort();
    assert_eq!(outcomes, ["sent", "unknown", "unknown"]);
    // Only Anna's own channel gets her user ID.
    for _ in 0..200 {
        if reminders_in(&sink.texts_to(ANNA.phone)) == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(reminders_in(&sink.texts_to(ANNA.phone)), 1);

    // At most 3 per number in 24 hours; beyond, the page still reads the same, nothing
    // is sent, and the refusal is audited.
    for _ in 0..3 {
        let again = ask("0101901234".into()).await;
        assert_eq!(again.body, known.body);
    }
    let outcomes = handled(&h, 6).await;
    assert_eq!(
        outcomes.iter().filter(|o| *o == "sent").count(),
        3,
        "{outcomes:?}"
    );
    assert_eq!(outcomes.iter().filter(|o| *o == "limited").count(), 1);
    for _ in 0..200 {
        if reminders_in(&sink.texts_to(ANNA.phone)) == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(reminders_in(&sink.texts_to(ANNA.phone)), 3);

    // At most 20 from one address in 24 hours, whatever is typed (each text is counted
    // under its own key too): 5 were counted above (a refused one counts nothing), so 15
    // more go through and the 16th is refused.
    for i in 0..16 {
        ask(format!("typo {i}")).await;
    }
    let outcomes = handled(&h, 22).await;
    assert_eq!(
        outcomes.iter().filter(|o| *o == "limited").count(),
        2,
        "{outcomes:?}"
    );
    // A new day: Anna can ask again.
    h.clock.advance_seconds(24 * 3600);
    ask("0101901234".into()).await;
    let outcomes = handled(&h, 23).await;
    assert_eq!(outcomes.last().map(String::as_str), Some("sent"));

    // Without the form's token nothing is queued.
    let forged = browser
        .post(
            &format!("{flow}/forgot-user-id"),
            &[("csrf", "forged"), ("national_id", "0101901234")],
        )
        .await;
    assert_eq!(forged.status, 403);
    h.sesam.verify_audit().await.unwrap();
}
