//! The page surface: an error a person's browser shows, in their language.

use axum::http::HeaderMap;
use axum::response::Response;
use sesam_oidc::OAuthError;

use super::oauth::status_of;
use crate::login::{MessagePage, lang_link, render};
use crate::pages;

pub(crate) fn error_page(headers: &HeaderMap, e: &OAuthError) -> Response {
    let t = pages::texts(pages::locale(headers, None));
    let page = MessagePage {
        t,
        header: None,
        lang_link: lang_link("/", t),
        title: t.error_title,
        text: t.error_intro,
        detail: Some(format!("{}: {e}", e.code())),
        link: None,
        alert: true,
    };
    render(status_of(e), &page, None)
}
