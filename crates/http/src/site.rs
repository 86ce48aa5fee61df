//! Who runs this sesam and how its pages present it: the operator named in every page's
//! footer with links to help, the privacy notice and "what is sesam", the logo and the
//! favicon (`[site]` in the configuration; sesam's own defaults otherwise).
//!
//! The site is the same for every page of a server, so it reaches the templates as a
//! runtime value of the render (the `site` middleware puts this router's site in scope)
//! instead of as a field on every page struct: a page that does not know about it still
//! renders, with sesam's defaults.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::login::{lang_link, render};
use super::pages::{self, Texts};

/// sesam's own logo: the word mark on the brand colour.
const DEFAULT_LOGO: &[u8] = include_bytes!("../static/logo.svg");
/// sesam's own favicon: the keyhole mark.
const DEFAULT_FAVICON: &[u8] = include_bytes!("../static/favicon.svg");

/// An image the pages show, served by sesam itself (so the strict `img-src 'self'` holds).
#[derive(Debug, Clone)]
pub struct Image {
    pub bytes: Bytes,
    pub content_type: &'static str,
}

impl Image {
    /// The largest logo or favicon file sesam accepts: an image for a page header.
    pub const MAX_BYTES: usize = 256 * 1024;

    /// An operator's image file: SVG, PNG or ICO by its name, at most [`Self::MAX_BYTES`].
    pub fn from_file(name: &str, bytes: Vec<u8>) -> Result<Self, String> {
        let lower = name.to_ascii_lowercase();
        let content_type = if lower.ends_with(".svg") {
            "image/svg+xml"
        } else if lower.ends_with(".png") {
            "image/png"
        } else if lower.ends_with(".ico") {
            "image/x-icon"
        } else {
            return Err(format!("{name}: use an .svg, .png or .ico file"));
        };
        if bytes.is_empty() || bytes.len() > Self::MAX_BYTES {
            return Err(format!(
                "{name}: an image of 1 to {} bytes is needed",
                Self::MAX_BYTES
            ));
        }
        Ok(Self {
            bytes: Bytes::from(bytes),
            content_type,
        })
    }
}

/// The footer, logo and favicon of the pages.
#[derive(Debug, Clone)]
pub struct Site {
    /// Who runs this sesam, as the footer names them.
    pub operator: String,
    /// Where "Help" leads: a configured URL, or sesam's own page.
    pub help_url: String,
    /// Where "Privacy notice" leads.
    pub privacy_url: String,
    /// Where "What is sesam?" leads.
    pub about_url: String,
    pub logo: Image,
    pub favicon: Image,
}

impl Default for Site {
    fn default() -> Self {
        Self {
            operator: "sesam".into(),
            help_url: "/help".into(),
            privacy_url: "/privacy".into(),
            about_url: "/about".into(),
            logo: Image {
                bytes: Bytes::from_static(DEFAULT_LOGO),
                content_type: "image/svg+xml",
            },
            favicon: Image {
                bytes: Bytes::from_static(DEFAULT_FAVICON),
                content_type: "image/svg+xml",
            },
        }
    }
}

tokio::task_local! {
    static SITE: Arc<Site>;
}

/// Middleware: this router's site is the one the pages of this request render with.
pub async fn scope(State(state): State<AppState>, req: Request, next: Next) -> Response {
    SITE.scope(state.site.clone(), next.run(req)).await
}

/// The site of the request being answered (sesam's defaults outside a request).
pub fn current() -> Arc<Site> {
    SITE.try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::new(Site::default()))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/logo", get(logo))
        .route("/static/favicon", get(favicon))
        .route("/favicon.ico", get(favicon))
        .route("/help", get(help))
        .route("/privacy", get(privacy))
        .route("/about", get(about))
}

fn image(img: &Image) -> Response {
    let mut r = img.bytes.clone().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(img.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    // An SVG opened on its own must not run script on sesam's origin.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    r
}

async fn logo(State(state): State<AppState>) -> Response {
    image(&state.site.logo)
}

async fn favicon(State(state): State<AppState>) -> Response {
    image(&state.site.favicon)
}

/// One of sesam's own information pages (help, privacy notice, what is sesam).
#[derive(Template)]
#[template(path = "info.html")]
struct InfoPage<'a> {
    t: &'a Texts,
    header: Option<super::login::Header>,
    lang_link: String,
    title: &'static str,
    paragraphs: &'static [&'static str],
    operator: String,
}

fn info(headers: &HeaderMap, path: &str, pick: fn(&Texts) -> &Info) -> Response {
    let t = pages::texts(pages::locale(headers, None));
    let i = pick(t);
    let page = InfoPage {
        t,
        header: None,
        lang_link: lang_link(path, t),
        title: i.title,
        paragraphs: i.paragraphs,
        operator: current().operator.clone(),
    };
    render(StatusCode::OK, &page, None)
}

async fn help(headers: HeaderMap) -> Response {
    info(&headers, "/help", |t| &t.help_page)
}

async fn privacy(headers: HeaderMap) -> Response {
    info(&headers, "/privacy", |t| &t.privacy_page)
}

async fn about(headers: HeaderMap) -> Response {
    info(&headers, "/about", |t| &t.about_page)
}

/// The text of one information page.
pub struct Info {
    pub title: &'static str,
    pub paragraphs: &'static [&'static str],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_images_are_svg_png_or_ico_of_a_sane_size() {
        assert_eq!(
            Image::from_file("Logo.SVG", b"<svg/>".to_vec())
                .unwrap()
                .content_type,
            "image/svg+xml"
        );
        assert_eq!(
            Image::from_file("a.png", vec![1]).unwrap().content_type,
            "image/png"
        );
        assert!(Image::from_file("a.gif", vec![1]).is_err());
        assert!(Image::from_file("a.svg", vec![]).is_err());
        assert!(Image::from_file("a.svg", vec![b' '; Image::MAX_BYTES + 1]).is_err());
    }

    #[tokio::test]
    async fn the_site_in_scope_is_the_one_pages_see() {
        assert_eq!(current().operator, "sesam");
        let mine = Arc::new(Site {
            operator: "Digitaliseringsstyrelsen".into(),
            ..Site::default()
        });
        let seen = SITE.scope(mine, async { current().operator.clone() }).await;
        assert_eq!(seen, "Digitaliseringsstyrelsen");
    }
}
