//! The login pages: server-rendered HTML, forms with CSRF tokens, post/redirect/get.
//! Handlers only translate between HTTP and the login service.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use sesam_domain::authorization::{FlowStep, Locale, LoginMethod};
use sesam_oidc::Params;
use uuid::Uuid;

use super::AppState;
use super::pages::{self, Texts};
use sesam_core::context::Sesam;
use sesam_core::services::login::{
    BROWSER_METHODS, LoginDone, LoginError, LoginView, Refusal, method_meets,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login/{flow}", get(show))
        .route("/login/{flow}/user-id", post(user_id))
        .route("/login/{flow}/restart", post(restart))
        .route("/login/{flow}/cancel", post(cancel))
        .route(
            "/login/{flow}/forgot-user-id",
            get(forgot_page).post(forgot),
        )
        .route(
            "/login/{flow}/code-display",
            get(code_display_page).post(code_display),
        )
        .route("/login/{flow}/chip", get(chip_page).post(chip))
        .route("/login/{flow}/chip/challenge", post(chip_challenge))
        .route("/login/{flow}/app", post(app_start))
        .route("/login/{flow}/app/{request}", get(app_wait))
        .route("/login/{flow}/app/{request}/status", get(app_progress))
}

/// The SP and action in every page's header.
pub struct Header {
    pub sp_name: String,
    pub action: &'static str,
    /// The action's words (header intro, box label) in the page's language.
    pub words: &'static pages::ActionWords,
    /// The transaction text the person is asked to approve, in the page's language.
    pub text: Option<String>,
}

/// What every form page of a login shows besides its form.
struct FormPage<'a> {
    t: &'a Texts,
    words: &'static pages::ActionWords,
    header: Option<Header>,
    lang_link: String,
    flow: Uuid,
    csrf: String,
    user_id: String,
    error: Option<String>,
}

/// A template for one form page: the fields of [`FormPage`], rendered by `$path`.
macro_rules! form_page {
    ($name:ident, $path:literal) => {
        #[derive(Template)]
        #[template(path = $path)]
        // Not every form page says the action (the user-ID step does not).
        #[allow(dead_code)]
        struct $name<'a> {
            t: &'a Texts,
            words: &'static pages::ActionWords,
            header: Option<Header>,
            lang_link: String,
            flow: Uuid,
            csrf: String,
            user_id: String,
            error: Option<String>,
        }

        impl<'a> From<FormPage<'a>> for $name<'a> {
            fn from(p: FormPage<'a>) -> Self {
                Self {
                    t: p.t,
                    words: p.words,
                    header: p.header,
                    lang_link: p.lang_link,
                    flow: p.flow,
                    csrf: p.csrf,
                    user_id: p.user_id,
                    error: p.error,
                }
            }
        }
    };
}

form_page!(UserIdPage, "user_id.html");
form_page!(CodeDisplayPage, "code_display.html");
form_page!(ChipPage, "chip.html");

pub struct MethodChoice {
    pub path: &'static str,
    pub name: &'static str,
    pub help: &'static str,
    pub allowed: bool,
    pub last: bool,
}

#[derive(Template)]
#[template(path = "choose.html")]
struct ChoosePage<'a> {
    t: &'a Texts,
    words: &'static pages::ActionWords,
    header: Option<Header>,
    lang_link: String,
    flow: Uuid,
    csrf: String,
    user_id: String,
    methods: Vec<MethodChoice>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub t: &'a Texts,
    pub header: Option<Header>,
    pub lang_link: String,
    pub title: &'a str,
    pub text: &'a str,
    pub detail: Option<String>,
    pub link: Option<(String, &'a str)>,
    pub alert: bool,
}

/// Renders a template with the site of this request (footer, logo), or a plain error if
/// the template itself fails.
pub fn render(status: StatusCode, page: &impl Template, form_target: Option<&str>) -> Response {
    let site = crate::site::current();
    let values: (&str, &dyn std::any::Any) = ("site", &site);
    match page.render_with_values(&values) {
        Ok(body) => pages::html(status, body, form_target),
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response()
        }
    }
}

/// The link that switches the page language.
pub fn lang_link(path: &str, t: &Texts) -> String {
    format!(
        "/language?to={}&back={}",
        t.other_lang,
        form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
    )
}

fn method_text(m: LoginMethod, t: &Texts) -> (&'static str, &'static str, &'static str) {
    match m {
        LoginMethod::CodeDisplay => (
            "code-display",
            t.method_code_display,
            t.method_code_display_help,
        ),
        LoginMethod::Chip => ("chip", t.method_chip, t.method_chip_help),
        LoginMethod::App => ("app", t.method_app, t.method_app_help),
    }
}

/// The browser cookie if the server issued it, else a newly issued one (returned so it
/// can be set): a made-up or forged value is never bound to a login.
pub fn browser(sesam: &Sesam, headers: &HeaderMap) -> (String, Option<axum::http::HeaderValue>) {
    match pages::cookie(headers, pages::BROWSER_COOKIE) {
        Some(b) if sesam.browser_cookie_is_ours(b) => (b.to_owned(), None),
        _ => {
            let (b, c) = new_browser_cookie(sesam);
            (b, Some(c))
        }
    }
}

/// A freshly issued browser cookie and its `Set-Cookie`.
fn new_browser_cookie(sesam: &Sesam) -> (String, axum::http::HeaderValue) {
    let b = sesam.issue_browser_cookie();
    let c = pages::set_cookie(pages::BROWSER_COOKIE, &b, None, sesam.secure_cookies());
    (b, c)
}

struct Ctx {
    browser: String,
    locale: Locale,
}

/// The browser's cookie value (only one sesam issued; anything else counts as none) and the
/// page language, as far as the request says them.
fn ctx(sesam: &Sesam, headers: &HeaderMap) -> Ctx {
    let browser = pages::cookie(headers, pages::BROWSER_COOKIE)
        .filter(|b| sesam.browser_cookie_is_ours(b))
        .unwrap_or_default()
        .to_owned();
    Ctx {
        browser,
        locale: pages::locale(headers, None),
    }
}

fn header_of(view: &LoginView, locale: Locale) -> Header {
    Header {
        sp_name: view.sp_name.clone(),
        action: pages::action_label(view.flow.request.action, locale),
        words: pages::action_words(view.flow.request.action, locale),
        text: view
            .flow
            .request
            .details
            .as_ref()
            .and_then(|d| d.text(locale).ok())
            .map(|t| t.as_str().to_owned()),
    }
}

fn form_target(view: &LoginView) -> Option<String> {
    pages::origin_of(&view.flow.request.redirect_uri)
}

/// The page for a login that cannot go on. If it is this browser's, it goes back to the
/// service with `access_denied` and the service's `state`, so the person lands where
/// they started and can begin again; a login of another browser has nowhere of its own
/// to send them (the footer's links remain).
async fn gone(state: &AppState, headers: &HeaderMap, flow: Uuid) -> Response {
    let c = ctx(&state.sesam, headers);
    let t = pages::texts(c.locale);
    let back = state.sesam.expired_login_redirect(flow, &c.browser).await;
    let page = EndedPage {
        t,
        header: None,
        lang_link: lang_link(&format!("/login/{flow}"), t),
        title: t.gone_title,
        text: t.gone_text,
        alert: false,
        csrf: String::new(),
        actions: back
            .clone()
            .map(|b| PageAction::link("back-to-service", b, t.back_to_sp, true))
            .into_iter()
            .collect(),
    };
    render(
        StatusCode::BAD_REQUEST,
        &page,
        back.as_deref().and_then(pages::origin_of).as_deref(),
    )
}

fn failed(e: sesam_core::error::AppError) -> Response {
    super::ApiError::from(e).into_response()
}

fn refusal_text(r: &Refusal, t: &Texts) -> String {
    match r {
        Refusal::InvalidUserId(why) => why.message(t.locale()),
        Refusal::NotAccepted => t.not_accepted.to_owned(),
        Refusal::BelowRequiredLevel { .. } => t.below_level.to_owned(),
        Refusal::IdentityBlocked => t.blocked_text.to_owned(),
        Refusal::WrongStep => t.wrong_step.to_owned(),
        Refusal::TooManyRequests => t.too_many.to_owned(),
        Refusal::BrowserReported => t.reported.to_owned(),
    }
}

async fn page_for(
    state: &AppState,
    headers: &HeaderMap,
    flow: Uuid,
    step: Option<LoginMethod>,
    error: Option<String>,
) -> Response {
    let c = ctx(&state.sesam, headers);
    let view = match state.sesam.login_view(flow, &c.browser).await {
        Ok(v) => v,
        Err(LoginError::Gone | LoginError::Refused(_)) => return gone(state, headers, flow).await,
        Err(LoginError::Failed(e)) => return failed(e),
    };
    let locale = pages::locale(headers, view.flow.request.ui_locale);
    let t = pages::texts(locale);
    let csrf = state.sesam.csrf_token(&c.browser, &flow.to_string());
    let user_id = view.flow.user_id_input.clone().unwrap_or_default();
    let target = form_target(&view);
    let here = format!("/login/{flow}");
    let words = pages::action_words(view.flow.request.action, locale);
    let form = |sub: &str, error: Option<String>| FormPage {
        t,
        words,
        header: Some(header_of(&view, locale)),
        lang_link: lang_link(&format!("{here}{sub}"), t),
        flow,
        csrf: csrf.clone(),
        user_id: user_id.clone(),
        error,
    };
    let request = &view.flow.request;
    match (view.flow.step, step) {
        (FlowStep::UserId, _) => render(
            StatusCode::OK,
            &UserIdPage::from(form("", error)),
            target.as_deref(),
        ),
        (FlowStep::Authenticate, Some(LoginMethod::CodeDisplay))
            if method_meets(LoginMethod::CodeDisplay, request) =>
        {
            render(
                StatusCode::OK,
                &CodeDisplayPage::from(form("/code-display", error)),
                target.as_deref(),
            )
        }
        (FlowStep::Authenticate, Some(LoginMethod::Chip))
            if method_meets(LoginMethod::Chip, request) =>
        {
            render(
                StatusCode::OK,
                &ChipPage::from(form("/chip", error)),
                target.as_deref(),
            )
        }
        (FlowStep::Authenticate, chosen) => {
            let last =
                pages::cookie(headers, pages::LAST_METHOD_COOKIE).and_then(LoginMethod::parse);
            let mut methods: Vec<MethodChoice> = BROWSER_METHODS
                .iter()
                .map(|m| {
                    let (path, name, help) = method_text(*m, t);
                    MethodChoice {
                        path,
                        name,
                        help,
                        allowed: method_meets(*m, &view.flow.request),
                        last: Some(*m) == last,
                    }
                })
                .collect();
            methods.sort_by_key(|m| !m.last);
            let error = match chosen {
                Some(m) if !method_meets(m, &view.flow.request) => Some(t.below_level.to_owned()),
                _ => error,
            };
            render(
                StatusCode::OK,
                &ChoosePage {
                    t,
                    words,
                    header: Some(header_of(&view, locale)),
                    lang_link: lang_link(&here, t),
                    flow,
                    csrf,
                    user_id,
                    methods,
                    error,
                },
                target.as_deref(),
            )
        }
    }
}

async fn show(
    State(state): State<AppState>,
    Path(flow): Path<Uuid>,
    headers: HeaderMap,
) -> Response {
    page_for(&state, &headers, flow, None, None).await
}

async fn code_display_page(
    State(state): State<AppState>,
    Path(flow): Path<Uuid>,
    headers: HeaderMap,
) -> Response {
    page_for(&state, &headers, flow, Some(LoginMethod::CodeDisplay), None).await
}

async fn chip_page(
    State(state): State<AppState>,
    Path(flow): Path<Uuid>,
    headers: HeaderMap,
) -> Response {
    page_for(&state, &headers, flow, Some(LoginMethod::Chip), None).await
}

/// A form post: parsed (each field once), with its CSRF token checked.
fn form(
    state: &AppState,
    headers: &HeaderMap,
    flow: Uuid,
    body: &str,
) -> Result<(Params, String), Box<Response>> {
    let c = ctx(&state.sesam, headers);
    let params = Params::from_urlencoded(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()).into_response())?;
    if !state
        .sesam
        .csrf_ok(&c.browser, &flow.to_string(), params.get("csrf"))
    {
        let t = pages::texts(c.locale);
        let page = MessagePage {
            t,
            header: None,
            lang_link: lang_link(&format!("/login/{flow}"), t),
            title: t.error_title,
            text: t.csrf_failed,
            detail: None,
            link: Some((format!("/login/{flow}"), t.continue_button)),
            alert: true,
        };
        return Err(Box::new(render(StatusCode::FORBIDDEN, &page, None)));
    }
    Ok((params, c.browser))
}

async fn after_step(
    state: &AppState,
    headers: &HeaderMap,
    flow: Uuid,
    step: Option<LoginMethod>,
    result: Result<(), LoginError>,
) -> Response {
    match result {
        Ok(()) => pages::see_other(&format!("/login/{flow}"), vec![]),
        Err(LoginError::Gone) => gone(state, headers, flow).await,
        Err(LoginError::Refused(r)) => {
            let t = pages::texts(ctx(&state.sesam, headers).locale);
            if r == Refusal::IdentityBlocked {
                return blocked(state, headers, flow, t).await;
            }
            page_for(state, headers, flow, step, Some(refusal_text(&r, t))).await
        }
        Err(LoginError::Failed(e)) => failed(e),
    }
}

/// The person proved who they are, but their sesam is blocked: they can go back to the
/// service (the login ends with `access_denied`).
async fn blocked(state: &AppState, headers: &HeaderMap, flow: Uuid, t: &Texts) -> Response {
    let c = ctx(&state.sesam, headers);
    let target = match state.sesam.login_view(flow, &c.browser).await {
        Ok(view) => form_target(&view),
        Err(_) => None,
    };
    let page = EndedPage {
        t,
        header: None,
        lang_link: lang_link(&format!("/login/{flow}"), t),
        title: t.blocked_title,
        text: t.blocked_text,
        alert: true,
        csrf: state.sesam.csrf_token(&c.browser, &flow.to_string()),
        actions: vec![PageAction::post(
            "back-to-service",
            format!("/login/{flow}/cancel"),
            t.back_to_sp,
            true,
        )],
    };
    render(StatusCode::FORBIDDEN, &page, target.as_deref())
}

async fn user_id(
    State(state): State<AppState>,
    Path(flow): Path<Uuid>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (params, browser) = match form(&state, &headers, flow, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let result = state
        .sesam
        .submit_user_id(flow, &browser, params.get("user_id").unwrap_or_default())
        .await;
    after_step(&state, &headers, flow, None, result).await
}

async fn restart(
    State(state): State<AppState>,
    Path(flow): Path<Uuid>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (_, browser) = match form(&state, &headers, flow, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let result = state.sesam.restart_login(flow, &browser).await;
    after_step(&state, &headers, flow, None, result).await
}

async fn cancel(
    State(state): State<AppState>,
    Path(flow): Path<Uuid>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (_, browser) = match form(&state, &headers, flow, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match state.sesam.cancel_login(flow, &browser).await {
        Ok(redirect) => pages::see_other(&redirect, vec![]),
        Err(LoginError::Failed(e)) => failed(e),
        Err(_) => gone(&state, &headers, flow).await,
    }
}

fn done(state: &AppState, d: LoginDone) -> Response {
    let secure = state.sesam.secure_cookies();
    // A new browser value after every login, so one fixed before the login (planted in
    // the browser, or seen on a shared computer) is worth nothing after it.
    let mut cookies = vec![new_browser_cookie(&state.sesam).1];
    if let Some(s) = &d.session {
        cookies.push(pages::set_cookie(
            pages::SESSION_COOKIE,
            s,
            Some(sesam_domain::authorization::SESSION_SECONDS),
            secure,
        ));
    }
    if let Some(m) = d.method {
        cookies.push(pages::set_cookie(
            pages::LAST_METHOD_COOKIE,
            m.as_str(),
            Some(365 * 24 * 3600),
            secure,
        ));
    }
    pages::see_other(&d.redirect, cookies)
}

async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    flow: Uuid,
    step: LoginMethod,
    result: Result<LoginDone, LoginError>,
) -> Response {
    match result {
        Ok(d) => done(state, d),
        Err(e) => after_step(state, headers, flow, Some(step), Err(e)).await,
    }
}

async fn code_display(
    State(state): State<AppState>,
    Path(flow): Path<Uuid>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (params, browser) = match form(&state, &headers, flow, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let result = state
        .sesam
        .login_with_code_display(
            flow,
            &browser,
            params.get("code").unwrap_or_default(),
            params.get("password").unwrap_or_default(),
        )
        .await;
    finish(&state, &headers, flow, LoginMethod::CodeDisplay, result).await
}

async fn chip_challenge(
    State(state): State<AppState>,
    Path(flow): Path<Uuid>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (_, browser) = match form(&state, &headers, flow, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match state.sesam.chip_challenge(flow, &browser).await {
        Ok((ceremony, options)) => {
            axum::Json(json!({ "ceremony": ceremony, "options": options })).into_response()
        }
        Err(LoginError::Failed(e)) => failed(e),
        Err(_) => super::ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "login_gone",
            description: "this login cannot use a chip now".into(),
            retry_after: None,
        }
        .into_response(),
    }
}

async fn chip(
    State(state): State<AppState>,
    Path(flow): Path<Uuid>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (params, browser) = match form(&state, &headers, flow, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let ceremony = params.get("ceremony").and_then(|c| Uuid::parse_str(c).ok());
    let credential: Option<Value> = params
        .get("credential")
        .and_then(|c| serde_json::from_str(c).ok());
    let result = state
        .sesam
        .login_with_chip(
            flow,
            &browser,
            ceremony,
            credential.as_ref(),
            params.get("password").unwrap_or_default(),
        )
        .await;
    finish(&state, &headers, flow, LoginMethod::Chip, result).await
}

#[derive(Template)]
#[template(path = "app_wait.html")]
struct AppWaitPage<'a> {
    t: &'a Texts,
    words: &'static pages::ActionWords,
    header: Option<Header>,
    lang_link: String,
    flow: Uuid,
    request: Uuid,
    user_id: String,
    code: String,
    /// The code as a QR code (an SVG data URL) the app can scan instead.
    qr: Option<String>,
    /// Seconds until the request expires, for the countdown.
    seconds_left: i64,
    /// The expiry as a machine reads it (`<time datetime>`) and as a person does.
    expires_iso: String,
    expires_local: String,
}

async fn app_start(
    State(state): State<AppState>,
    Path(flow): Path<Uuid>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (_, browser) = match form(&state, &headers, flow, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match state
        .sesam
        .start_app_login(flow, &browser, &peer.ip().to_string(), |requested| {
            pages::locale(&headers, requested)
        })
        .await
    {
        Ok(request) => pages::see_other(&format!("/login/{flow}/app/{request}"), vec![]),
        Err(e) => after_step(&state, &headers, flow, Some(LoginMethod::App), Err(e)).await,
    }
}

async fn app_wait(
    State(state): State<AppState>,
    Path((flow, request)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Response {
    use sesam_core::services::approvals::AppLoginStatus;
    let c = ctx(&state.sesam, &headers);
    let status = match state
        .sesam
        .app_login_status(flow, &c.browser, request)
        .await
    {
        Ok(s) => s,
        Err(e) => return after_step(&state, &headers, flow, None, Err(e)).await,
    };
    let (view, message) = match status {
        AppLoginStatus::Done(d) => return done(&state, d),
        AppLoginStatus::Waiting {
            view,
            binding_code,
            expires_at,
            now,
        } => {
            let locale = pages::locale(&headers, view.flow.request.ui_locale);
            let t = pages::texts(locale);
            let page = AppWaitPage {
                t,
                words: pages::action_words(view.flow.request.action, locale),
                header: Some(header_of(&view, locale)),
                lang_link: lang_link(&format!("/login/{flow}/app/{request}"), t),
                flow,
                request,
                user_id: view.flow.user_id_input.clone().unwrap_or_default(),
                code: binding_code.as_str().to_owned(),
                qr: crate::qr::binding_qr(request, binding_code.as_str()),
                seconds_left: (expires_at.millis() - now.millis()).max(0) / 1000,
                expires_iso: expires_at.to_rfc3339(),
                expires_local: sesam_domain::notification::local_clock(
                    expires_at,
                    pages::language(locale),
                ),
            };
            return render(StatusCode::OK, &page, form_target(&view).as_deref());
        }
        AppLoginStatus::Rejected(view) => (view, AppEnd::Rejected),
        AppLoginStatus::Expired(view) => (view, AppEnd::Expired),
    };
    let locale = pages::locale(&headers, view.flow.request.ui_locale);
    let t = pages::texts(locale);
    let (title, text) = match message {
        AppEnd::Rejected => (t.app_rejected_title, t.app_rejected_text),
        AppEnd::Expired => (t.app_expired_title, t.app_expired_text),
    };
    // Never a dead end: a new request, another way, or back to the service (which ends
    // the login with `access_denied`, as cancelling does).
    let actions = vec![
        PageAction::post("try-again", format!("/login/{flow}/app"), t.try_again, true),
        PageAction::link(
            "other-method",
            format!("/login/{flow}"),
            t.other_method,
            false,
        ),
        PageAction::post(
            "back-to-service",
            format!("/login/{flow}/cancel"),
            t.back_to_sp,
            false,
        ),
    ];
    let page = EndedPage {
        t,
        header: Some(header_of(&view, locale)),
        lang_link: lang_link(&format!("/login/{flow}/app/{request}"), t),
        title,
        text,
        alert: true,
        csrf: state.sesam.csrf_token(&c.browser, &flow.to_string()),
        actions,
    };
    render(StatusCode::OK, &page, form_target(&view).as_deref())
}

/// The waiting page's script: `{"state": "waiting", "seconds_left": N}`, `answered` or
/// `expired`. It tells no more than the page itself does, to the same browser only.
async fn app_progress(
    State(state): State<AppState>,
    Path((flow, request)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Response {
    use sesam_core::services::approvals::AppLoginProgress;
    let c = ctx(&state.sesam, &headers);
    match state
        .sesam
        .app_login_progress(flow, &c.browser, request)
        .await
    {
        Ok(p) => {
            let mut body = json!({ "state": p.as_str() });
            if let AppLoginProgress::Waiting { seconds_left } = p {
                body["seconds_left"] = json!(seconds_left);
            }
            axum::Json(body).into_response()
        }
        Err(LoginError::Failed(e)) => failed(e),
        Err(_) => super::ApiError {
            status: StatusCode::NOT_FOUND,
            code: "login_gone",
            description: "this login is not waiting for the app".into(),
            retry_after: None,
        }
        .into_response(),
    }
}

/// One way on from a page where a login stopped: a link, or a small form (with the
/// login's CSRF token) for steps that change the login.
pub struct PageAction {
    /// For tests and styling (`data-action`).
    pub name: &'static str,
    pub href: String,
    pub label: &'static str,
    pub post: bool,
    pub primary: bool,
}

impl PageAction {
    pub fn post(name: &'static str, href: String, label: &'static str, primary: bool) -> Self {
        Self {
            name,
            href,
            label,
            post: true,
            primary,
        }
    }

    pub fn link(name: &'static str, href: String, label: &'static str, primary: bool) -> Self {
        Self {
            name,
            href,
            label,
            post: false,
            primary,
        }
    }
}

/// A page where a login stopped (rejected, expired, blocked, gone), with the ways on.
#[derive(Template)]
#[template(path = "ended.html")]
pub struct EndedPage<'a> {
    pub t: &'a Texts,
    pub header: Option<Header>,
    pub lang_link: String,
    pub title: &'a str,
    pub text: &'a str,
    pub alert: bool,
    pub csrf: String,
    pub actions: Vec<PageAction>,
}

/// How an app login ended without a login.
enum AppEnd {
    Rejected,
    Expired,
}

/// "Forgot your user ID?": the form, and the answer after it.
#[derive(Template)]
#[template(path = "forgot_user_id.html")]
struct ForgotPage<'a> {
    t: &'a Texts,
    header: Option<Header>,
    lang_link: String,
    flow: Uuid,
    csrf: String,
    sent: bool,
}

async fn forgot_view(state: &AppState, headers: &HeaderMap, flow: Uuid, sent: bool) -> Response {
    let c = ctx(&state.sesam, headers);
    let view = match state.sesam.login_view(flow, &c.browser).await {
        Ok(v) => v,
        Err(LoginError::Failed(e)) => return failed(e),
        Err(_) => return gone(state, headers, flow).await,
    };
    let locale = pages::locale(headers, view.flow.request.ui_locale);
    let t = pages::texts(locale);
    let page = ForgotPage {
        t,
        header: Some(header_of(&view, locale)),
        lang_link: lang_link(&format!("/login/{flow}/forgot-user-id"), t),
        flow,
        csrf: state.sesam.csrf_token(&c.browser, &flow.to_string()),
        sent,
    };
    render(StatusCode::OK, &page, form_target(&view).as_deref())
}

async fn forgot_page(
    State(state): State<AppState>,
    Path(flow): Path<Uuid>,
    headers: HeaderMap,
) -> Response {
    forgot_view(&state, &headers, flow, false).await
}

/// The answer is the same page whatever was typed: the reminder is handed to a task of
/// its own first (`Sesam::remind_user_id`), so neither the page nor its timing depends on
/// whether the number belongs to anyone.
async fn forgot(
    State(state): State<AppState>,
    Path(flow): Path<Uuid>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (params, _) = match form(&state, &headers, flow, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    state.sesam.remind_user_id(
        params.get("national_id").unwrap_or_default(),
        &peer.ip().to_string(),
    );
    forgot_view(&state, &headers, flow, true).await
}
