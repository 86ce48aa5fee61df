//! Per-address limits of the unauthenticated endpoints, against the real HTTP server with
//! a clock the test moves: the limit bites with 429 and `Retry-After` (JSON for APIs, a
//! page in the person's language for the login pages), another address is still served,
//! and the bucket refills with time. The limits are set low through `SESAM_LIMIT_*`.

use crate::inproc;
use crate::oidc;

use inproc::*;
use oidc::*;

/// An HTTP client whose connections come from `ip` (any 127.x address is this machine).
fn client_from(ip: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The harness's base URL by IPv4 address (so the source address is the one bound).
fn v4_base(h: &Harness) -> String {
    h.base.replace("localhost", "127.0.0.1")
}

async fn limited(per_minute: u32) -> Harness {
    let n = per_minute.to_string();
    harness_env(
        Backend::Sqlite,
        None,
        &[
            ("SESAM_LIMIT_ACTIVATION_PER_MINUTE", n.clone()),
            ("SESAM_LIMIT_LOGIN_PER_MINUTE", n.clone()),
            ("SESAM_LIMIT_AUTHORIZE_PER_MINUTE", n.clone()),
            ("SESAM_LIMIT_BACKCHANNEL_PER_MINUTE", n),
        ],
    )
    .await
    .unwrap()
}

async fn post_json(c: &reqwest::Client, url: &str, body: &str) -> reqwest::Response {
    c.post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// A 429 with a whole number of seconds to wait (1 to 60) and the JSON error.
async fn assert_limited_json(r: reqwest::Response) {
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests", "{body}");
}

#[tokio::test]
async fn activation_guesses_are_limited_per_address_and_refill() {
    let h = limited(3).await;
    let base = v4_base(&h);
    let url = format!("{base}/app/v1/activation/start");
    let guess = r#"{"activation_code":"AAAA-BBBB-CCCC-DDDD"}"#;
    let one = client_from("127.0.0.1");
    for _ in 0..3 {
        let r = post_json(&one, &url, guess).await;
        assert_eq!(r.status(), 400, "a wrong code is still answered");
    }
    // The fourth guess a minute: refused before any work, on every activation endpoint.
    assert_limited_json(post_json(&one, &url, guess).await).await;
    assert_limited_json(post_json(&one, &format!("{base}/app/v1/activation/complete"), "{}").await)
        .await;
    assert_limited_json(
        post_json(
            &one,
            &format!("{base}/code-displays/activate-with-letter"),
            "{}",
        )
        .await,
    )
    .await;
    assert_limited_json(post_json(&one, &format!("{base}/chips/register/finish"), "{}").await)
        .await;
    // Another address is served.
    let other = client_from("127.0.0.2");
    assert_eq!(post_json(&other, &url, guess).await.status(), 400);
    // Endpoints outside the group are not affected.
    assert_eq!(
        one.get(format!("{base}/app/v1/config"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // One request comes back every 20 seconds; a minute refills the bucket.
    h.clock.advance_seconds(20);
    assert_eq!(post_json(&one, &url, guess).await.status(), 400);
    assert_limited_json(post_json(&one, &url, guess).await).await;
    h.clock.advance_seconds(60);
    for _ in 0..3 {
        assert_eq!(post_json(&one, &url, guess).await.status(), 400);
    }
    assert_limited_json(post_json(&one, &url, guess).await).await;
}

#[tokio::test]
async fn the_login_pages_are_limited_with_a_page_in_the_persons_language() {
    let h = limited(4).await;
    let sp = register_sp(&h, "Demo Bank", false, false).await;
    let mut b = Browser::new(&v4_base(&h));
    b.extra_headers.push(("accept-language", "en".into()));
    // /authorize (1 of 4 in its group), then user-ID posts (login group).
    let flow = open_login(
        &b,
        &start(&sp, &[], &[]).url.replacen(&h.base, &v4_base(&h), 1),
    )
    .await;
    let csrf = b.get(&flow).await.csrf();
    for _ in 0..4 {
        let r = b
            .post(
                &format!("{flow}/user-id"),
                &[("csrf", &csrf), ("user_id", "nobody.here")],
            )
            .await;
        assert_ne!(r.status, 429, "{r:?}");
    }
    let r = b
        .post(
            &format!("{flow}/user-id"),
            &[("csrf", &csrf), ("user_id", "nobody.here")],
        )
        .await;
    assert_eq!(r.status, 429, "{r:?}");
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{r:?}"
    );
    assert!(r.body.contains("Too many attempts"), "{}", r.body);
    // In Danish for a Danish browser.
    let mut dk = Browser::new(&v4_base(&h));
    dk.extra_headers.push(("accept-language", "da".into()));
    let r = dk
        .post(&format!("{flow}/code-display"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 429);
    assert!(r.body.contains("For mange forsøg"), "{}", r.body);
    // The chip script gets JSON.
    let r = b
        .post(&format!("{flow}/chip/challenge"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 429);
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["error"], "too_many_requests");
    // Reading the pages is not limited.
    assert_eq!(b.get(&flow).await.status, 200);
    // Another address is served.
    let other = client_from("127.0.0.2")
        .post(format!("{}{flow}/user-id", v4_base(&h)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("user_id=x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        403,
        "served (and refused for its missing CSRF token)"
    );
    // After a minute the person can go on.
    h.clock.advance_seconds(60);
    let r = b
        .post(
            &format!("{flow}/user-id"),
            &[("csrf", &csrf), ("user_id", "nobody.here")],
        )
        .await;
    assert_ne!(r.status, 429, "{r:?}");
}

#[tokio::test]
async fn authorize_and_the_back_channel_are_limited_per_address() {
    let h = limited(3).await;
    let sp = register_sp(&h, "Demo Bank", false, false).await;
    let base = v4_base(&h);
    let b = Browser::new(&base);
    let url = start(&sp, &[], &[]).url.replacen(&h.base, &v4_base(&h), 1);
    for _ in 0..3 {
        assert_eq!(b.get(&url).await.status, 303);
    }
    let r = b.get(&url).await;
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.headers.contains_key("retry-after"));
    assert!(r.location.is_none());
    assert!(r.body.contains("For mange forsøg"), "{}", r.body);

    // PAR, token and CIBA share the back channel's budget (per client address).
    let one = client_from("127.0.0.1");
    let form = |path: &str| {
        one.post(format!("{base}{path}"))
            .basic_auth(&sp.client_id, Some("wrong"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=authorization_code&code=x")
            .send()
    };
    assert_eq!(form("/token").await.unwrap().status(), 401);
    assert_eq!(form("/par").await.unwrap().status(), 401);
    assert_eq!(form("/bc-authorize").await.unwrap().status(), 401);
    assert_limited_json(form("/token").await.unwrap()).await;
    assert_limited_json(form("/par").await.unwrap()).await;
    assert_limited_json(form("/bc-authorize").await.unwrap()).await;
    let other = client_from("127.0.0.2")
        .post(format!("{base}/token"))
        .basic_auth(&sp.client_id, Some("wrong"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&code=x")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401);
    h.clock.advance_seconds(60);
    assert_eq!(form("/token").await.unwrap().status(), 401);
    assert_eq!(b.get(&url).await.status, 303);
}

/// One request over a fresh connection from the trusted balancer 127.0.0.9, whose PROXY
/// header names `client`; the status, or `None` when the connection was closed unanswered.
async fn via_balancer(base: &str, client: Option<&str>, path: &str, body: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let to: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(([127, 0, 0, 9], 0).into()).unwrap();
    let mut s = socket.connect(to).await.unwrap();
    let mut bytes = client
        .map(|c| format!("PROXY TCP4 {c} 127.0.0.1 40000 {}\r\n", to.port()))
        .unwrap_or_default();
    bytes += &format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(bytes.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        s.read_to_end(&mut answer),
    )
    .await;
    String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
}

/// Behind a trusted load balancer (`SESAM_HTTP_PROXY_PROTOCOL_FROM`) the per-address
/// limits count the client the PROXY header names: one client's guesses run out while
/// another's behind the same balancer are still answered, and the balancer itself has no
/// budget to spend, since a connection from it without a header is closed.
#[tokio::test]
async fn behind_a_trusted_balancer_limits_count_the_client_it_names() {
    let h = harness_env(
        Backend::Sqlite,
        None,
        &[
            ("SESAM_LIMIT_ACTIVATION_PER_MINUTE", "2".into()),
            ("SESAM_HTTP_PROXY_PROTOCOL_FROM", "127.0.0.9".into()),
        ],
    )
    .await
    .unwrap();
    let base = v4_base(&h);
    let path = "/app/v1/activation/start";
    let guess = r#"{"activation_code":"AAAA-BBBB-CCCC-DDDD"}"#;
    for _ in 0..2 {
        assert_eq!(
            via_balancer(&base, Some("203.0.113.7"), path, guess).await,
            Some(400)
        );
    }
    assert_eq!(
        via_balancer(&base, Some("203.0.113.7"), path, guess).await,
        Some(429),
        "the client named by the balancer is not limited"
    );
    assert_eq!(
        via_balancer(&base, Some("203.0.113.8"), path, guess).await,
        Some(400),
        "another client behind the balancer shares the first one's limit"
    );
    assert_eq!(via_balancer(&base, None, path, guess).await, None);
    // A direct client is counted by its own address, whatever the balancer's clients did.
    let direct = client_from("127.0.0.3");
    let r = post_json(&direct, &format!("{base}{path}"), guess).await;
    assert_eq!(r.status(), 400);
}
