//! The web app's static files (`/app/`): embedded in the binary, so `cargo run` needs no
//! JavaScript build step and a running server never reads files from disk. Each answer
//! carries an ETag (SHA-256 of the file) and `no-cache`, so a browser revalidates and sees
//! a new release at once, and the app's own strict Content-Security-Policy: scripts,
//! styles, images, the manifest and the service worker from this origin only, requests to
//! this origin only, no inline code, no `eval`, no framing.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::AppState;
use super::errors::api::not_found;

/// Where the web app lives.
pub const PREFIX: &str = "/app/";

/// The web app's Content-Security-Policy. `require-trusted-types-for` makes the browser
/// refuse any string-to-code or string-to-HTML sink (the app builds its screens with DOM
/// calls only); the one policy, `sesam`, admits only the service worker's own URL.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; manifest-src 'self'; worker-src 'self'; form-action 'none'; \
     base-uri 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; \
     trusted-types sesam";

/// One embedded file: its name under `/app/`, content type and bytes.
struct File {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! embedded {
    ($name:literal, $type:expr) => {
        File {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../webapp/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the web app. `index.html` is also served at `/app/`.
const FILES: &[File] = &[
    embedded!("index.html", "text/html; charset=utf-8"),
    embedded!("app.css", "text/css; charset=utf-8"),
    embedded!("app.js", JS),
    embedded!("api.js", JS),
    embedded!("i18n.js", JS),
    embedded!("protocol.js", JS),
    embedded!("push.js", JS),
    embedded!("store.js", JS),
    embedded!("sw.js", JS),
    embedded!("manifest.webmanifest", "application/manifest+json"),
    embedded!("icon.svg", "image/svg+xml"),
    embedded!("icon-192.png", "image/png"),
    embedded!("icon-512.png", "image/png"),
];

/// The ETag of every file, computed once.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|f| {
            let digest = Sha256::digest(f.body);
            let tag = format!("\"{}\"", hex_prefix(&digest));
            HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
        })
        .collect()
});

fn hex_prefix(digest: &[u8]) -> String {
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The names of the files (for tests and the service worker's list).
pub fn file_names() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|f| f.name)
}

pub fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/app", get(|| async { Redirect::permanent(PREFIX) }))
        .route(PREFIX, get(serve));
    for f in FILES {
        router = router.route(&format!("{PREFIX}{}", f.name), get(serve));
    }
    router
}

/// The app API's operations whose paths are not under `/app/v1/` (finishing a chip
/// registration, a code display activated with a letter): they are the app's calls too,
/// so they answer on the app's origin.
const OUTSIDE_V1: [&str; 2] = [
    sesam_api::openapi::CHIP_REGISTER_FINISH.path,
    sesam_api::openapi::CODE_DISPLAY_ACTIVATE_WITH_LETTER.path,
];

/// With an origin of its own (`app_public_url`), the web app is served there and nowhere
/// else: its files on the public URL lead there, and on the app's origin nothing but the
/// web app and the app API answers, so no login page, demo or other script of sesam ever
/// shares the origin (and so the IndexedDB) that holds the app's keys.
pub async fn separate_origin(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(app) = state.app_public_url.as_ref() else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    let is_api = path.starts_with("/app/v1/") || OUTSIDE_V1.contains(&path);
    let is_app = !is_api && (path == "/app" || path.starts_with(PREFIX));
    if is_app_origin(&req, app) {
        if is_app || is_api {
            return next.run(req).await;
        }
        if path == "/" {
            return Redirect::to(PREFIX).into_response();
        }
        return not_found().await.into_response();
    }
    if is_app {
        let target = app
            .join(path)
            .map(String::from)
            .unwrap_or_else(|_| app.to_string());
        return Redirect::permanent(&target).into_response();
    }
    next.run(req).await
}

/// Whether the request was made to the app's origin (its host and port, by the `Host`
/// header or, in HTTP/2, the request's authority).
fn is_app_origin(req: &axum::extract::Request, app: &url::Url) -> bool {
    let asked = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        });
    let Some(asked) = asked else {
        return false;
    };
    let expected = match app.port() {
        Some(port) => format!("{}:{port}", app.host_str().unwrap_or_default()),
        None => app.host_str().unwrap_or_default().to_owned(),
    };
    let default_port = app.port_or_known_default().map(|p| format!(":{p}"));
    let asked = asked.to_ascii_lowercase();
    asked == expected
        || default_port.is_some_and(|p| asked.strip_suffix(p.as_str()) == Some(expected.as_str()))
}

async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let name = uri
        .path()
        .strip_prefix(PREFIX)
        .filter(|n| !n.is_empty())
        .unwrap_or("index.html");
    let Some((i, file)) = FILES.iter().enumerate().find(|(_, f)| f.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(etag) = ETAGS.get(i).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == etag.to_str().unwrap_or(""))
        });
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.body.into_response()
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    h.insert(header::ETAG, etag);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(self), geolocation=(), microphone=(), payment=()"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_there_and_the_shell_names_them_all() {
        let sw = FILES
            .iter()
            .find(|f| f.name == "sw.js")
            .map(|f| String::from_utf8_lossy(f.body).into_owned())
            .unwrap_or_default();
        for f in FILES {
            assert!(!f.body.is_empty(), "{} is empty", f.name);
            if f.name != "sw.js" {
                assert!(
                    sw.contains(&format!("\"{PREFIX}{}\"", f.name)),
                    "sw.js does not cache {}",
                    f.name
                );
            }
        }
        assert_eq!(ETAGS.len(), FILES.len());
    }

    #[test]
    fn no_inline_script_or_style_in_the_page() {
        let index = String::from_utf8_lossy(FILES[0].body);
        assert!(!index.contains("<script>"), "inline script");
        assert!(!index.contains("<style"), "inline style");
        assert!(!index.contains("style="), "inline style attribute");
        for handler in [
            " onclick=",
            " onload=",
            " onerror=",
            " onsubmit=",
            " oninput=",
        ] {
            assert!(!index.contains(handler), "inline event handler");
        }
        assert!(!CSP.contains("unsafe"));
    }
}
