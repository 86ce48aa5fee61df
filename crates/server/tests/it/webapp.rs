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
