//! The browser cookie (issue 12, item 10): only values the server issued are accepted,
//! anything else is replaced, and a new value is issued at every completed login.

use crate::inproc;
use crate::oidc;

use inproc::*;
use oidc::*;

const BROWSER: &str = "sesam_browser";

fn browser_cookie(b: &Browser) -> Option<String> {
    b.cookies.lock().unwrap().get(BROWSER).cloned()
}

fn set_browser_cookie(b: &Browser, value: &str) {
    b.cookies
        .lock()
        .unwrap()
        .insert(BROWSER.to_owned(), value.to_owned());
}

/// Opens a login with the browser's current cookies; whether the answer set a new
/// browser cookie.
async fn login_sets_a_new_browser_cookie(b: &Browser, sp: &Sp) -> bool {
    let r = b.get(&start(sp, &["profile"], &[]).url).await;
    assert_eq!(r.status, 303, "{r:?}");
    r.headers
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with(&format!("{BROWSER}=")))
}

#[tokio::test]
async fn a_made_up_or_forged_browser_cookie_is_replaced() {
    let h = harness(Backend::Sqlite, None).await.unwrap();
    let bank = register_sp(&h, "Demo Bank", false, false).await;

    // An issued value is kept.
    let b = Browser::new(&h.base);
    assert!(login_sets_a_new_browser_cookie(&b, &bank).await);
    let issued = browser_cookie(&b).unwrap();
    assert!(!login_sets_a_new_browser_cookie(&b, &bank).await);
    assert_eq!(browser_cookie(&b).unwrap(), issued);

    // Values the server did not issue: chosen by an attacker, or an issued one altered.
    let (nonce, mac) = issued.split_once('.').unwrap();
    let mut other_mac = mac.as_bytes().to_vec();
    other_mac[10] = if other_mac[10] == b'a' { b'b' } else { b'a' };
    let forged = [
        "attacker-chosen-value-that-is-long-enough-0123456789".to_owned(),
        format!("{}.{mac}", "0".repeat(nonce.len())),
        format!("{nonce}.{}", String::from_utf8(other_mac).unwrap()),
        format!("{nonce}.{}", &mac[..mac.len() - 2]),
    ];
    for value in forged {
        let b = Browser::new(&h.base);
        set_browser_cookie(&b, &value);
        assert!(
            login_sets_a_new_browser_cookie(&b, &bank).await,
            "{value} was accepted"
        );
        let replaced = browser_cookie(&b).unwrap();
        assert_ne!(replaced, value);
        assert!(!login_sets_a_new_browser_cookie(&b, &bank).await);
    }
}

#[tokio::test]
async fn the_browser_cookie_is_renewed_at_login() {
    let (sink, url) = SmsSink::start().await;
    let h = harness(Backend::Sqlite, Some(&url)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    person(&h, &sink, dir.path(), ANNA).await;
    let bank = register_sp(&h, "Demo Bank", false, false).await;

    let b = Browser::new(&h.base);
    let started = start(&bank, &["profile"], &[]);
    let flow = open_login(&b, &started.url).await;
    let r = give_user_id(&b, &flow, "anna.hansen").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let before = browser_cookie(&b).unwrap();
    let r = code_display_step(&b, &flow, &totp_now(&h, 0), PASSWORD).await;
    code_from(&h, &r, &started);
    let after = browser_cookie(&b).unwrap();
    assert_ne!(before, after, "the browser value survived the login");

    // The new value is one the server issued: the browser goes on without another.
    assert!(!login_sets_a_new_browser_cookie(&b, &bank).await);
    assert_eq!(browser_cookie(&b).unwrap(), after);

    // A failed login does not renew it.
    let b = Browser::new(&h.base);
    let flow = open_login(&b, &start(&bank, &["profile"], &[]).url).await;
    give_user_id(&b, &flow, "anna.hansen").await;
    let before = browser_cookie(&b).unwrap();
    code_display_step(&b, &flow, "00000000", "wrong password").await;
    assert_eq!(browser_cookie(&b).unwrap(), before);
}
