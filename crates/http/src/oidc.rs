//! The OpenID Connect endpoints. OAuth errors become HTTP answers here, once.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sesam_oidc::authorize::AuthorizeError;
use sesam_oidc::discovery::{self, paths};
use sesam_oidc::{OAuthError, Params};

use super::AppState;
use super::errors::oauth::{app_error, oauth_error};
use super::errors::page::error_page;
use super::login::{MessagePage, browser, lang_link, render};
use super::pages;
use sesam_core::services::authorization::{Authorized, protocol_error};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(configuration))
        .route(
            "/.well-known/oauth-authorization-server",
            get(configuration),
        )
        .route(paths::AUTHORIZE, get(authorize).post(authorize))
        .route(paths::PAR, post(par))
        .route(paths::TOKEN, post(token))
        .route(paths::BACKCHANNEL, post(backchannel))
        .route(paths::USERINFO, get(userinfo).post(userinfo))
        .route(paths::END_SESSION, get(logout).post(logout))
        .route("/language", get(language))
        .route("/static/sesam.css", get(css))
        .route("/static/login.js", get(js))
}

async fn configuration(State(state): State<AppState>) -> Response {
    let mut r = axum::Json(discovery::metadata(state.sesam.issuer())).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

/// Parameters from the query (GET) or the form body (POST, which must be form-encoded).
fn request_params(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &str,
) -> Result<Params, OAuthError> {
    if method == Method::POST {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        return Params::from_urlencoded(body);
    }
    Params::from_urlencoded(query.unwrap_or_default())
}

async fn authorize(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: String,
) -> Response {
    let params = match request_params(&method, &headers, query.as_deref(), &body) {
        Ok(p) => p,
        Err(e) => return error_page(&headers, &e),
    };
    let (browser, new_cookie) = browser(&state.sesam, &headers);
    let session = pages::cookie(&headers, pages::SESSION_COOKIE);
    let cookies: Vec<HeaderValue> = new_cookie.into_iter().collect();
    match state.sesam.authorize(&params, &browser, session).await {
        Ok(Authorized::Redirect(url)) => pages::see_other(&url, cookies),
        Ok(Authorized::Login(flow)) => pages::see_other(&format!("/login/{flow}"), cookies),
        Err(AuthorizeError::Redirect {
            redirect_uri,
            state: s,
            error,
        }) => pages::see_other(
            &sesam_oidc::response::error(&redirect_uri, &error, s.as_deref(), state.sesam.issuer()),
            cookies,
        ),
        Err(AuthorizeError::Show(e)) => error_page(&headers, &e),
    }
}

fn authorization_header(headers: &HeaderMap) -> Result<Option<&str>, OAuthError> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let first = all.next();
    if all.next().is_some() {
        return Err(OAuthError::invalid_request(
            "the Authorization header is repeated",
        ));
    }
    first
        .map(|v| {
            v.to_str()
                .map_err(|_| OAuthError::invalid_request("the Authorization header is not text"))
        })
        .transpose()
}

/// A back-channel request (PAR, token): the form parameters and the Authorization header.
fn back_channel<'a>(
    headers: &'a HeaderMap,
    body: &str,
) -> Result<(Params, Option<&'a str>), OAuthError> {
    Ok((
        request_params(&Method::POST, headers, None, body)?,
        authorization_header(headers)?,
    ))
}

async fn par(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let (params, auth) = match back_channel(&headers, &body) {
        Ok(r) => r,
        Err(e) => return oauth_error(&e),
    };
    match state.sesam.push_authorization_request(&params, auth).await {
        Ok((request_uri, expires_in)) => (
            StatusCode::CREATED,
            axum::Json(sesam_api::oauth::PushedAuthorization {
                request_uri,
                expires_in,
            }),
        )
            .into_response(),
        Err(e) => app_error(e),
    }
}

async fn backchannel(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (params, auth) = match back_channel(&headers, &body) {
        Ok(r) => r,
        Err(e) => return oauth_error(&e),
    };
    match state
        .sesam
        .backchannel_authenticate(&params, auth, &peer.ip().to_string())
        .await
    {
        Ok(started) => axum::Json(started).into_response(),
        Err(e) => app_error(e),
    }
}

async fn token(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let (params, auth) = match back_channel(&headers, &body) {
        Ok(r) => r,
        Err(e) => return oauth_error(&e),
    };
    match state.sesam.token(&params, auth).await {
        Ok(t) => {
            let mut r = axum::Json(t).into_response();
            r.headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            r
        }
        Err(e) => app_error(e),
    }
}

async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let auth = match authorization_header(&headers) {
        Ok(a) => a,
        Err(e) => return oauth_error(&e),
    };
    match state.sesam.userinfo(auth).await {
        Ok(claims) => axum::Json(claims).into_response(),
        Err(e) => app_error(e),
    }
}

#[derive(askama::Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    t: &'a pages::Texts,
    header: Option<super::login::Header>,
    lang_link: String,
    csrf: String,
    carried: Vec<(&'static str, String)>,
}

async fn logout(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: String,
) -> Response {
    let params = match request_params(&method, &headers, query.as_deref(), &body) {
        Ok(p) => p,
        Err(e) => return error_page(&headers, &e),
    };
    let t = pages::texts(pages::locale(&headers, None));
    let (browser, new_cookie) = browser(&state.sesam, &headers);
    let session = pages::cookie(&headers, pages::SESSION_COOKIE);
    // A cross-site link could log people out: ask first, with a CSRF-protected form,
    // unless the ID token hint names this session's own person (any other signed hint
    // is as easy to put in a link as none).
    let mut confirmed = state.sesam.csrf_ok(&browser, "logout", params.get("csrf"));
    if !confirmed && let Some(hint) = params.get("id_token_hint") {
        confirmed = match state.sesam.logout_without_asking(hint, session).await {
            Ok(matches) => matches,
            Err(e) => return error_page(&headers, &protocol_error(e)),
        };
    }
    if !confirmed {
        let carried = [
            "client_id",
            "id_token_hint",
            "post_logout_redirect_uri",
            "state",
        ]
        .iter()
        .filter_map(|k| params.get(k).map(|v| (*k, v.to_owned())))
        .collect();
        let page = LogoutPage {
            t,
            header: None,
            lang_link: lang_link("/logout", t),
            csrf: state.sesam.csrf_token(&browser, "logout"),
            carried,
        };
        let mut r = render(StatusCode::OK, &page, None);
        if let Some(c) = new_cookie {
            r.headers_mut().append(header::SET_COOKIE, c);
        }
        return r;
    }
    let clear = pages::set_cookie(
        pages::SESSION_COOKIE,
        "",
        Some(0),
        state.sesam.secure_cookies(),
    );
    match state.sesam.logout(&params, session).await {
        Ok(Some(url)) => pages::see_other(&url, vec![clear]),
        Ok(None) => {
            let page = MessagePage {
                t,
                header: None,
                lang_link: lang_link("/logout", t),
                title: t.logged_out_title,
                text: t.logged_out_text,
                detail: None,
                link: None,
                alert: false,
            };
            let mut r = render(StatusCode::OK, &page, None);
            r.headers_mut().append(header::SET_COOKIE, clear);
            r
        }
        Err(e) => error_page(&headers, &protocol_error(e)),
    }
}

/// The language link: remembers the choice and goes back to the page (same site only).
async fn language(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = Params::from_urlencoded(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let to = match params.get("to") {
        Some("en") => "en",
        _ => "da",
    };
    let public = url::Url::parse(state.sesam.issuer()).ok();
    let back = params
        .get("back")
        .zip(public.as_ref())
        .and_then(|(b, public)| pages::local_path(b, public))
        .unwrap_or("/");
    let cookie = pages::set_cookie(
        pages::LANGUAGE_COOKIE,
        to,
        Some(365 * 24 * 3600),
        state.sesam.secure_cookies(),
    );
    pages::see_other(back, vec![cookie])
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

async fn css() -> Response {
    asset(
        include_str!("../static/sesam.css"),
        "text/css; charset=utf-8",
    )
}

async fn js() -> Response {
    asset(
        include_str!("../static/login.js"),
        "text/javascript; charset=utf-8",
    )
}
