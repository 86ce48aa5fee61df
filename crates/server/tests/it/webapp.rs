//! The web app's static files at `/app/`: served from the binary with their content types,
//! an ETag that a browser revalidates with, and the app's own strict policy; unknown files
//! are 404, and the app API under `/app/v1/` is not shadowed by them.

use crate::common::http_client;
use crate::inproc::*;

#[tokio::test]
async fn the_web_app_is_served_with_its_types_policy_and_etags() {
    let h = harness(Backend::Sqlite, None).await.unwrap();
    let http = http_client();
    let get = |path: &str| http.get(format!("{}{path}", h.base)).send();

    let index = get("/app/").await.unwrap();
    assert_eq!(index.status(), 200);
    let headers = index.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "require-trusted-types-for 'script'",
    ] {
        assert!(csp.contains(directive), "{directive} missing in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("cache-control"), "no-cache");
    let etag = header("etag");
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let body = index.text().await.unwrap();
    assert!(body.contains(r#"<script type="module" src="/app/app.js">"#));

    // The same page by name; a browser's revalidation gets 304.
    let same = get("/app/index.html").await.unwrap();
    assert_eq!(same.headers()["etag"].to_str().unwrap(), etag);
    let again = http
        .get(format!("{}/app/", h.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    for (path, content_type) in [
        ("/app/app.js", "text/javascript; charset=utf-8"),
        ("/app/protocol.js", "text/javascript; charset=utf-8"),
        ("/app/sw.js", "text/javascript; charset=utf-8"),
        ("/app/app.css", "text/css; charset=utf-8"),
        ("/app/manifest.webmanifest", "application/manifest+json"),
        ("/app/icon.svg", "image/svg+xml"),
        ("/app/icon-192.png", "image/png"),
        ("/app/icon-512.png", "image/png"),
    ] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], content_type, "{path}");
        assert!(r.headers().contains_key("etag"), "{path}");
        assert!(!r.bytes().await.unwrap().is_empty(), "{path}");
    }
    let manifest: serde_json::Value = get("/app/manifest.webmanifest")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(manifest["start_url"], "/app/");
    assert_eq!(manifest["display"], "standalone");

    // Unknown files are 404; `/app` leads to `/app/`; the API is still the API.
    for path in [
        "/app/nothing.js",
        "/app/../Cargo.toml",
        "/app/sw.js/x",
        "/app/v1",
    ] {
        assert_eq!(get(path).await.unwrap().status(), 404, "{path}");
    }
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/app", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 308);
    assert_eq!(bare.headers()["location"], "/app/");
    let config = get("/app/v1/config").await.unwrap();
    assert_eq!(config.status(), 200);
    assert!(
        config.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

/// With `app_public_url` the web app has an origin of its own: its files on the public
/// URL lead there, and there nothing but the web app and the app API answers.
#[tokio::test]
async fn with_an_origin_of_its_own_the_web_app_is_served_only_there() {
    let app_origin = "http://app.localhost:9443";
    let h = harness_env(
        Backend::Sqlite,
        None,
        &[("SESAM_APP_PUBLIC_URL", app_origin.to_owned())],
    )
    .await
    .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let on_app = |path: &str| {
        http.get(format!("{}{path}", h.base))
            .header("host", "app.localhost:9443")
            .send()
    };
    let on_public = |path: &str| http.get(format!("{}{path}", h.base)).send();

    // On the public URL: the files lead to the app's origin; the app API stays.
    for path in ["/app/", "/app/app.js", "/app"] {
        let r = on_public(path).await.unwrap();
        assert_eq!(r.status(), 308, "{path}");
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with(app_origin), "{path} -> {to}");
    }
    assert_eq!(on_public("/app/v1/config").await.unwrap().status(), 200);
    assert_eq!(on_public("/healthz").await.unwrap().status(), 200);

    // On the app's origin: the app and the API, nothing else.
    let index = on_app("/app/").await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(on_app("/app/protocol.js").await.unwrap().status(), 200);
    assert_eq!(on_app("/app/v1/config").await.unwrap().status(), 200);
    let root = on_app("/").await.unwrap();
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/app/");
    for path in [
        "/demo",
        "/healthz",
        "/static/login.js",
        "/.well-known/openid-configuration",
        "/authorize",
    ] {
        assert_eq!(on_app(path).await.unwrap().status(), 404, "{path}");
    }
}
