//! The self-service site ("Min sesam") at `/min-sesam`: server-rendered pages in Danish and
//! English. Handlers only translate: the session, the level each change needs and every
//! change are decided in `sesam_core::services::self_service`.
//!
//! The site's cookie is its own (`sesam_self`, `__Host-` on https by the router's
//! middleware), `HttpOnly` and `SameSite=Strict`, and holds a random value whose keyed
//! hash names the server-side session. Every form carries a CSRF token bound to that
//! value; pages have the login pages' strict headers and Content-Security-Policy.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sesam_core::services::self_service::{
    OwnAuthenticator, SelfService, SelfServiceError, StartedLogin,
};
use sesam_domain::authorization::Locale;
use sesam_domain::notification::{Event, Language, local_time};
use sesam_domain::{Level, Timestamp};
use sesam_oidc::Params;
use uuid::Uuid;

use super::AppState;
use super::login::{Header, lang_link, render};
use super::pages::{self, Texts};

/// The site's session cookie.
const SESSION_COOKIE: &str = "sesam_self";
/// The sealed state of a login to the site, kept from its start to its callback.
const LOGIN_COOKIE: &str = "sesam_self_login";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/min-sesam", get(home))
        .route("/min-sesam/login", get(login))
        .route("/min-sesam/callback", get(callback))
        .route("/min-sesam/logout", post(logout))
        .route("/min-sesam/activity", get(activity))
        .route("/min-sesam/authenticators", get(authenticators))
        .route("/min-sesam/authenticators/revoke", post(revoke))
        .route("/min-sesam/channels", get(channels))
        .route("/min-sesam/channels/add", post(channel_add))
        .route("/min-sesam/channels/confirm", post(channel_confirm))
        .route("/min-sesam/channels/remove", post(channel_remove))
        .route("/min-sesam/channels/up", post(channel_up))
        .route("/min-sesam/channels/every-use", post(channel_every_use))
        .route("/min-sesam/password", get(password_page).post(password))
        .route("/min-sesam/user-id", get(user_id_page).post(user_id))
        .route("/min-sesam/block", get(block_page).post(block))
        .route("/static/self-service.css", get(css))
}

async fn css() -> Response {
    let mut r = include_str!("../static/self-service.css").into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css"));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// The site's cookies: `HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` on https (and
/// then named `__Host-…` by the router). `max_age` `Some(0)` deletes.
fn strict_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}");
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=1; Max-Age=0"))
}

/// Every text of the site, in one language.
pub struct SelfTexts {
    pub site: &'static str,
    pub intro: &'static str,
    pub log_in: &'static str,
    pub log_out: &'static str,
    pub nav_label: &'static str,
    pub profile: &'static str,
    pub activity: &'static str,
    pub authenticators: &'static str,
    pub channels: &'static str,
    pub password: &'static str,
    pub user_id: &'static str,
    pub block: &'static str,
    pub name: &'static str,
    pub birthdate: &'static str,
    pub national_id: &'static str,
    pub assurance: &'static str,
    pub logged_in_with: &'static str,
    pub level_low_note: &'static str,
    pub session_ended: &'static str,
    pub login_failed: &'static str,
    pub blocked_title: &'static str,
    pub blocked_text: &'static str,
    pub uses: &'static str,
    pub no_uses: &'static str,
    pub requests: &'static str,
    pub no_requests: &'static str,
    pub messages: &'static str,
    pub no_messages: &'static str,
    pub when: &'static str,
    pub service: &'static str,
    pub action: &'static str,
    pub how: &'static str,
    pub text: &'static str,
    pub result: &'static str,
    pub message: &'static str,
    pub to: &'static str,
    pub delivery: &'static str,
    pub apps: &'static str,
    pub code_displays: &'static str,
    pub chips: &'static str,
    pub none: &'static str,
    pub active: &'static str,
    pub inactive: &'static str,
    pub since: &'static str,
    pub revoke: &'static str,
    pub revoke_warning: &'static str,
    pub add_channel: &'static str,
    pub kind: &'static str,
    pub sms: &'static str,
    pub email: &'static str,
    pub address: &'static str,
    pub add: &'static str,
    pub confirm_code: &'static str,
    pub confirm: &'static str,
    pub unconfirmed: &'static str,
    pub remove: &'static str,
    pub move_up: &'static str,
    pub order_help: &'static str,
    pub every_use: &'static str,
    pub every_use_on: &'static str,
    pub every_use_off: &'static str,
    pub turn_on: &'static str,
    pub turn_off: &'static str,
    pub recommend_two: &'static str,
    pub current_password: &'static str,
    pub new_password: &'static str,
    pub new_password_help: &'static str,
    pub repeat_password: &'static str,
    pub change_password: &'static str,
    pub passwords_differ: &'static str,
    pub wrong_password: &'static str,
    pub password_locked: &'static str,
    pub no_password: &'static str,
    pub current_user_id: &'static str,
    pub new_user_id: &'static str,
    pub new_user_id_help: &'static str,
    pub change_user_id: &'static str,
    pub block_intro: &'static str,
    pub block_button: &'static str,
    pub level_too_low: &'static str,
    pub unknown: &'static str,
    pub done: &'static str,
    pub done_password: &'static str,
    pub done_user_id: &'static str,
    pub done_channel_added: &'static str,
    pub done_revoked: &'static str,
    pub back: &'static str,
}

pub const DA: SelfTexts = SelfTexts {
    site: "Min sesam",
    intro: "Her kan du se, hvor dit sesam er brugt, og ændre din adgangskode, dit bruger-ID, dine enheder og hvor du får beskeder. Du logger på med appen, din kodeviser eller din chip.",
    log_in: "Log på Min sesam",
    log_out: "Log af",
    nav_label: "Min sesam",
    profile: "Dine oplysninger",
    activity: "Aktivitet",
    authenticators: "Enheder",
    channels: "Beskeder",
    password: "Adgangskode",
    user_id: "Bruger-ID",
    block: "Spær dit sesam",
    name: "Navn",
    birthdate: "Fødselsdato",
    national_id: "CPR-nummer",
    assurance: "Sikringsniveau for din identitet",
    logged_in_with: "Du er logget på med",
    level_low_note: "Du er logget på med sikringsniveau lavt. For at ændre noget skal du logge på med sikringsniveau betydelig.",
    session_ended: "Du er logget af Min sesam (efter 15 minutter uden brug, efter en time, eller fordi du loggede af). Log på igen for at fortsætte.",
    login_failed: "Log-på blev ikke gennemført. Prøv igen.",
    blocked_title: "Dit sesam er spærret",
    blocked_text: "Dit sesam er spærret og kan ikke bruges, før det er genåbnet. Kontakt sesam-support, eller aktiver med et nyt aktiveringsbrev.",
    uses: "Brug af dit sesam",
    no_uses: "Dit sesam er ikke brugt endnu.",
    requests: "Anmodninger til appen",
    no_requests: "Ingen anmodninger.",
    messages: "Beskeder sendt til dig",
    no_messages: "Ingen beskeder.",
    when: "Tidspunkt",
    service: "Tjeneste",
    action: "Handling",
    how: "Hvordan",
    text: "Tekst",
    result: "Resultat",
    message: "Besked",
    to: "Til",
    delivery: "Levering",
    apps: "Apps",
    code_displays: "Kodevisere og kodeoplæsere",
    chips: "Chips",
    none: "Ingen.",
    active: "Aktiv",
    inactive: "Ikke aktiv",
    since: "siden",
    revoke: "Fjern",
    revoke_warning: "Det var din sidste enhed. For at bruge sesam igen skal du have et nyt aktiveringsbrev fra et borgerservicecenter.",
    add_channel: "Tilføj et telefonnummer eller en e-mailadresse",
    kind: "Slags",
    sms: "SMS",
    email: "E-mail",
    address: "Telefonnummer eller e-mailadresse",
    add: "Tilføj",
    confirm_code: "Koden, vi sendte dertil",
    confirm: "Bekræft",
    unconfirmed: "ikke bekræftet",
    remove: "Fjern",
    move_up: "Flyt op",
    order_help: "Beskeder, der kun skal nå dig én gang, prøves i denne rækkefølge.",
    every_use: "Besked ved hver brug",
    every_use_on: "Du får en besked, hver gang dit sesam bruges.",
    every_use_off: "Du får ikke besked, når dit sesam bruges.",
    turn_on: "Slå til",
    turn_off: "Slå fra",
    recommend_two: "Vi anbefaler mindst to måder at få beskeder på.",
    current_password: "Nuværende adgangskode",
    new_password: "Ny adgangskode",
    new_password_help: "8–64 tegn. Ikke dit bruger-ID, ikke 10 cifre i træk, ikke ordet adgangskode.",
    repeat_password: "Gentag den nye adgangskode",
    change_password: "Skift adgangskode",
    passwords_differ: "De to nye adgangskoder er ikke ens.",
    wrong_password: "Den nuværende adgangskode er forkert. Efter 3 forkerte forsøg spærres den i 15 minutter, og du får besked.",
    password_locked: "Din adgangskode er spærret lige nu. Prøv igen senere; du har fået besked om spærringen.",
    no_password: "Du har ingen adgangskode. Den vælges, når du aktiverer en kodeviser eller en chip.",
    current_user_id: "Dit bruger-ID nu",
    new_user_id: "Nyt bruger-ID",
    new_user_id_help: "5–48 tegn: bogstaver, cifre, mellemrum og tegn som . - _ @. Ikke dit CPR-nummer eller telefonnummer.",
    change_user_id: "Skift bruger-ID",
    block_intro: "Spær dit sesam med det samme, hvis du tror, at andre kan bruge det. Intet kan bruges, før det er genåbnet af sesam-support eller med et nyt aktiveringsbrev.",
    block_button: "Spær mit sesam",
    level_too_low: "Det kræver, at du er logget på med sikringsniveau betydelig (to faktorer). Log af, og log på igen med en anden enhed.",
    unknown: "Den findes ikke blandt dine.",
    done: "Gemt.",
    done_password: "Din adgangskode er skiftet. Du har fået besked på alle dine kanaler.",
    done_user_id: "Dit bruger-ID er skiftet. Du har fået besked på alle dine kanaler.",
    done_channel_added: "Vi har sendt en kode. Indtast den ud for den nye kanal.",
    done_revoked: "Enheden er fjernet. Du har fået besked på alle dine kanaler.",
    back: "Tilbage",
};

pub const EN: SelfTexts = SelfTexts {
    site: "My sesam",
    intro: "See where your sesam was used, and change your password, your user ID, your devices and where you get messages. You log on with the app, your code display or your chip.",
    log_in: "Log on to My sesam",
    log_out: "Log out",
    nav_label: "My sesam",
    profile: "Your details",
    activity: "Activity",
    authenticators: "Devices",
    channels: "Messages",
    password: "Password",
    user_id: "User ID",
    block: "Block your sesam",
    name: "Name",
    birthdate: "Date of birth",
    national_id: "National ID number",
    assurance: "Assurance level of your identity",
    logged_in_with: "You are logged on with",
    level_low_note: "You are logged on at assurance level low. To change anything, log on at level substantial.",
    session_ended: "You are logged out of My sesam (after 15 minutes without use, after an hour, or because you logged out). Log on again to go on.",
    login_failed: "The logon was not completed. Please try again.",
    blocked_title: "Your sesam is blocked",
    blocked_text: "Your sesam is blocked and cannot be used until it is reopened. Contact sesam support, or activate with a new activation letter.",
    uses: "Uses of your sesam",
    no_uses: "Your sesam has not been used yet.",
    requests: "Requests to the app",
    no_requests: "No requests.",
    messages: "Messages sent to you",
    no_messages: "No messages.",
    when: "Time",
    service: "Service",
    action: "Action",
    how: "How",
    text: "Text",
    result: "Result",
    message: "Message",
    to: "To",
    delivery: "Delivery",
    apps: "Apps",
    code_displays: "Code displays and audio code readers",
    chips: "Chips",
    none: "None.",
    active: "Active",
    inactive: "Not active",
    since: "since",
    revoke: "Remove",
    revoke_warning: "That was your last device. To use sesam again you need a new activation letter from a registration office.",
    add_channel: "Add a phone number or e-mail address",
    kind: "Kind",
    sms: "SMS",
    email: "E-mail",
    address: "Phone number or e-mail address",
    add: "Add",
    confirm_code: "The code we sent there",
    confirm: "Confirm",
    unconfirmed: "not confirmed",
    remove: "Remove",
    move_up: "Move up",
    order_help: "Messages that need to reach you once are tried in this order.",
    every_use: "A message on every use",
    every_use_on: "You get a message every time your sesam is used.",
    every_use_off: "You do not get a message when your sesam is used.",
    turn_on: "Turn on",
    turn_off: "Turn off",
    recommend_two: "We recommend at least two ways to get messages.",
    current_password: "Current password",
    new_password: "New password",
    new_password_help: "8–64 characters. Not your user ID, not 10 digits in a row, not the word password.",
    repeat_password: "Repeat the new password",
    change_password: "Change password",
    passwords_differ: "The two new passwords are not the same.",
    wrong_password: "The current password is wrong. After 3 wrong attempts it is locked for 15 minutes, and you are notified.",
    password_locked: "Your password is locked right now. Try again later; you were notified of the lock.",
    no_password: "You have no password. It is chosen when you activate a code display or a chip.",
    current_user_id: "Your user ID now",
    new_user_id: "New user ID",
    new_user_id_help: "5–48 characters: letters, digits, spaces and signs such as . - _ @. Not your national ID number or phone number.",
    change_user_id: "Change user ID",
    block_intro: "Block your sesam at once if you think someone else can use it. Nothing can be used until sesam support reopens it or you activate with a new activation letter.",
    block_button: "Block my sesam",
    level_too_low: "This needs a logon at assurance level substantial (two factors). Log out and log on again with another device.",
    unknown: "It is not one of yours.",
    done: "Saved.",
    done_password: "Your password is changed. You were notified on all your channels.",
    done_user_id: "Your user ID is changed. You were notified on all your channels.",
    done_channel_added: "We sent a code. Enter it next to the new channel.",
    done_revoked: "The device is removed. You were notified on all your channels.",
    back: "Back",
};

fn self_texts(locale: Locale) -> &'static SelfTexts {
    match locale {
        Locale::Da => &DA,
        Locale::En => &EN,
    }
}

fn language(locale: Locale) -> Language {
    match locale {
        Locale::Da => Language::Da,
        Locale::En => Language::En,
    }
}

/// A time as people read it (Danish local time), from an RFC 3339 string.
fn when(rfc3339: &str, locale: Locale) -> String {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok())
        .map(|ms| local_time(Timestamp::from_millis(ms), language(locale)))
        .unwrap_or_else(|| rfc3339.to_owned())
}

fn level_text(level: &str, locale: Locale) -> &'static str {
    match (level, locale) {
        ("low", Locale::Da) => "lav",
        ("substantial", Locale::Da) => "betydelig",
        ("high", Locale::Da) => "høj",
        ("low", Locale::En) => "low",
        ("substantial", Locale::En) => "substantial",
        ("high", Locale::En) => "high",
        _ => "",
    }
}

fn method_text(method: &str, t: &Texts) -> &'static str {
    match method {
        "app" => t.method_app,
        "code_display" => t.method_code_display,
        "chip" => t.method_chip,
        _ => "",
    }
}

fn action_text(action: &str, locale: Locale) -> &'static str {
    sesam_domain::authorization::Action::parse(action)
        .map(|a| pages::action_label(a, locale))
        .unwrap_or("")
}

fn result_text(result: &str, locale: Locale) -> String {
    let da = locale == Locale::Da;
    match result {
        "approved" => if da { "godkendt" } else { "approved" }.into(),
        "rejected" => if da { "afvist" } else { "declined" }.into(),
        "expired" => if da { "udløbet" } else { "expired" }.into(),
        "pending" => if da { "venter" } else { "waiting" }.into(),
        "sent" => if da { "sendt" } else { "sent" }.into(),
        "failed" => if da { "mislykkedes" } else { "failed" }.into(),
        "standby" | "skipped" => if da { "ikke nødvendig" } else { "not needed" }.into(),
        other => other.to_owned(),
    }
}

/// Which tab a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    None,
    Profile,
    Activity,
    Authenticators,
    Channels,
    Password,
    UserId,
    Block,
}

pub struct UseRow {
    when: String,
    service: String,
    action: &'static str,
    how: &'static str,
    level: &'static str,
}

pub struct RequestRow {
    when: String,
    service: String,
    action: &'static str,
    text: String,
    result: String,
}

pub struct MessageRow {
    when: String,
    subject: &'static str,
    to: String,
    status: String,
}

pub struct AuthenticatorRow {
    kind: &'static str,
    id: String,
    name: String,
    active: bool,
    since: String,
}

pub struct ChannelRow {
    id: Uuid,
    kind: &'static str,
    address: String,
    confirmed: bool,
    first: bool,
}

/// What a page shows besides the common frame.
enum Body {
    Start,
    Profile {
        user_id: String,
        name: String,
        birthdate: String,
        national_id: String,
        ial: &'static str,
        method: &'static str,
        level: &'static str,
        level_low: bool,
    },
    Activity {
        uses: Vec<UseRow>,
        requests: Vec<RequestRow>,
        messages: Vec<MessageRow>,
    },
    Authenticators {
        /// Apps, code displays, chips: each with its heading.
        sections: Vec<(&'static str, Vec<AuthenticatorRow>)>,
    },
    Channels {
        rows: Vec<ChannelRow>,
        every_use: bool,
        recommend: bool,
    },
    Password,
    UserId {
        current: String,
    },
    Block,
    Blocked,
}

#[derive(Template)]
#[template(path = "self_service.html")]
struct SelfPage<'a> {
    t: &'a Texts,
    s: &'a SelfTexts,
    header: Option<Header>,
    lang_link: String,
    title: &'a str,
    tab: Tab,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
    body: Body,
}

struct Frame {
    locale: Locale,
    path: &'static str,
    tab: Tab,
}

fn page(
    frame: &Frame,
    csrf: String,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    body: Body,
) -> Response {
    let t = pages::texts(frame.locale);
    let s = self_texts(frame.locale);
    let title = match frame.tab {
        Tab::None => s.site,
        Tab::Profile => s.profile,
        Tab::Activity => s.activity,
        Tab::Authenticators => s.authenticators,
        Tab::Channels => s.channels,
        Tab::Password => s.change_password,
        Tab::UserId => s.change_user_id,
        Tab::Block => s.block,
    };
    let title = if matches!(body, Body::Blocked) {
        s.blocked_title
    } else {
        title
    };
    let p = SelfPage {
        t,
        s,
        header: None,
        lang_link: lang_link(frame.path, t),
        title,
        tab: frame.tab,
        csrf,
        notice,
        error,
        body,
    };
    render(status, &p, None)
}

/// The start page (no session), with a notice why, and the stale cookie deleted.
fn start(state: &AppState, locale: Locale, notice: Option<&str>) -> Response {
    let frame = Frame {
        locale,
        path: "/min-sesam",
        tab: Tab::None,
    };
    let mut r = page(
        &frame,
        String::new(),
        StatusCode::OK,
        notice.map(str::to_owned),
        None,
        Body::Start,
    );
    if notice.is_some() {
        r.headers_mut().append(
            header::SET_COOKIE,
            strict_cookie(SESSION_COOKIE, "", 0, state.sesam.secure_cookies()),
        );
    }
    r
}

fn blocked(state: &AppState, locale: Locale) -> Response {
    let frame = Frame {
        locale,
        path: "/min-sesam",
        tab: Tab::None,
    };
    let mut r = page(
        &frame,
        String::new(),
        StatusCode::FORBIDDEN,
        None,
        None,
        Body::Blocked,
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        strict_cookie(SESSION_COOKIE, "", 0, state.sesam.secure_cookies()),
    );
    r
}

/// The session of the request, or the answer to give without one.
async fn session(state: &AppState, headers: &HeaderMap) -> Result<SelfService, Box<Response>> {
    let locale = pages::locale(headers, None);
    match state
        .sesam
        .self_service(pages::cookie(headers, SESSION_COOKIE))
        .await
    {
        Ok(me) => Ok(me),
        Err(SelfServiceError::Blocked) => Err(Box::new(blocked(state, locale))),
        Err(SelfServiceError::Failed(e)) => Err(Box::new(super::ApiError::from(e).into_response())),
        Err(_) => Err(Box::new(pages::see_other("/min-sesam", vec![]))),
    }
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let locale = pages::locale(&headers, None);
    let cookie = pages::cookie(&headers, SESSION_COOKIE);
    let me = match state.sesam.self_service(cookie).await {
        Ok(me) => me,
        Err(SelfServiceError::Blocked) => return blocked(&state, locale),
        Err(SelfServiceError::Failed(e)) => return super::ApiError::from(e).into_response(),
        Err(_) => {
            let s = self_texts(locale);
            return start(&state, locale, cookie.map(|_| s.session_ended));
        }
    };
    let t = pages::texts(locale);
    let i = &me.identity;
    let a = &me.session.authentication;
    let frame = Frame {
        locale,
        path: "/min-sesam",
        tab: Tab::Profile,
    };
    page(
        &frame,
        me.csrf.clone(),
        StatusCode::OK,
        None,
        None,
        Body::Profile {
            user_id: i
                .user_id
                .as_ref()
                .map(|u| u.as_str().to_owned())
                .unwrap_or_default(),
            name: i.name.as_str().to_owned(),
            birthdate: i.birthdate.to_string(),
            national_id: i.national_id_masked.clone(),
            ial: level_text(i.ial.as_str(), locale),
            method: method_text(a.method.as_str(), t),
            level: level_text(a.level.as_str(), locale),
            level_low: a.level < Level::Substantial,
        },
    )
}

async fn login(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let locale = pages::locale(&headers, None);
    match state.sesam.start_self_service_login(locale).await {
        Ok(StartedLogin { location, cookie }) => pages::see_other(
            &location,
            vec![strict_cookie(
                LOGIN_COOKIE,
                &cookie,
                sesam_core::services::self_service::LOGIN_STATE_SECONDS,
                state.sesam.secure_cookies(),
            )],
        ),
        Err(e) => super::ApiError::from(e).into_response(),
    }
}

async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let locale = pages::locale(&headers, None);
    let secure = state.sesam.secure_cookies();
    let clear_login = strict_cookie(LOGIN_COOKIE, "", 0, secure);
    match state
        .sesam
        .finish_self_service_login(
            pages::cookie(&headers, LOGIN_COOKIE),
            query.as_deref().unwrap_or_default(),
        )
        .await
    {
        Ok(value) => pages::see_other(
            "/min-sesam",
            vec![
                clear_login,
                strict_cookie(
                    SESSION_COOKIE,
                    &value,
                    sesam_domain::self_service::ABSOLUTE_SECONDS,
                    secure,
                ),
            ],
        ),
        Err(SelfServiceError::Blocked) => blocked(&state, locale),
        Err(e) => {
            tracing::info!(reason = ?e, "a login to self-service did not complete");
            let mut r = start(&state, locale, Some(self_texts(locale).login_failed));
            r.headers_mut().append(header::SET_COOKIE, clear_login);
            r
        }
    }
}

/// A form post of the site: the session, then the CSRF token, then the fields.
async fn form(
    state: &AppState,
    headers: &HeaderMap,
    body: &str,
) -> Result<(SelfService, Params), Box<Response>> {
    let me = session(state, headers).await?;
    let params = Params::from_urlencoded(body)
        .map_err(|e| Box::new((StatusCode::BAD_REQUEST, e.to_string()).into_response()))?;
    if !state
        .sesam
        .self_service_csrf_ok(pages::cookie(headers, SESSION_COOKIE), params.get("csrf"))
    {
        let locale = pages::locale(headers, None);
        let t = pages::texts(locale);
        let frame = Frame {
            locale,
            path: "/min-sesam",
            tab: Tab::None,
        };
        return Err(Box::new(page(
            &frame,
            me.csrf.clone(),
            StatusCode::FORBIDDEN,
            None,
            Some(t.csrf_failed.to_owned()),
            Body::Start,
        )));
    }
    Ok((me, params))
}

/// The text for a refusal, in the page's language.
fn refusal(e: &SelfServiceError, locale: Locale) -> (StatusCode, String) {
    let s = self_texts(locale);
    match e {
        SelfServiceError::LevelTooLow { .. } => (StatusCode::FORBIDDEN, s.level_too_low.into()),
        SelfServiceError::WrongPassword => (StatusCode::BAD_REQUEST, s.wrong_password.into()),
        SelfServiceError::PasswordLocked => (StatusCode::BAD_REQUEST, s.password_locked.into()),
        SelfServiceError::NoPassword => (StatusCode::BAD_REQUEST, s.no_password.into()),
        SelfServiceError::Unknown => (StatusCode::NOT_FOUND, s.unknown.into()),
        SelfServiceError::Failed(e) if e.is_client_error() => {
            (StatusCode::BAD_REQUEST, refused_text(e, locale))
        }
        SelfServiceError::Failed(e) => {
            tracing::error!(error = %e, "a self-service change failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::texts(locale).error_title.into(),
            )
        }
        SelfServiceError::NoSession
        | SelfServiceError::Blocked
        | SelfServiceError::LoginFailed(_) => (StatusCode::FORBIDDEN, s.session_ended.into()),
    }
}

/// A rule's refusal in the page's language: the domain says it in English; the rules a
/// person meets here are said in Danish too (anything else keeps the English words).
fn refused_text(e: &sesam_core::error::AppError, locale: Locale) -> String {
    use sesam_core::error::AppError;
    use sesam_domain::DomainError;
    use sesam_domain::channels::ChannelError;
    use sesam_domain::password::PasswordError;
    use sesam_domain::user_id::UserIdError;
    use sesam_store::StoreError;
    if locale == Locale::En {
        return e.to_string();
    }
    let da: Option<String> = match e {
        AppError::Invalid(DomainError::Password(p)) => Some(match p {
            PasswordError::TooShort(n) => {
                format!("En adgangskode skal have mindst 8 tegn; denne har {n}.")
            }
            PasswordError::TooLong(n) => {
                format!("En adgangskode må højst have 64 tegn; denne har {n}.")
            }
            PasswordError::HiddenCharacter { position, .. } => {
                format!("Tegn nummer {position} i adgangskoden er usynligt og kan ikke bruges.")
            }
            PasswordError::ContainsUserId => {
                "En adgangskode må ikke indeholde dit bruger-ID.".into()
            }
            PasswordError::TenDigitRun => {
                "En adgangskode må ikke indeholde 10 cifre i træk.".into()
            }
            PasswordError::ForbiddenWord(w) => {
                format!("En adgangskode må ikke indeholde ordet \"{w}\".")
            }
            PasswordError::KeyboardSequence => "En adgangskode må ikke indeholde en række tegn i tastatur- eller alfabetrækkefølge, som \"qwerty\", \"123456\" eller \"abcdef\".".into(),
            _ => return e.to_string(),
        }),
        AppError::Invalid(DomainError::UserId(u)) => Some(match u {
            UserIdError::TooShort(n) => {
                format!("Et bruger-ID skal have mindst 5 tegn; dette har {n}.")
            }
            UserIdError::TooLong(n) => {
                format!("Et bruger-ID må højst have 48 tegn; dette har {n}.")
            }
            UserIdError::ForbiddenCharacter { position, shown } => format!(
                "Tegn nummer {position} ({shown}) kan ikke bruges i et bruger-ID. Brug bogstaver a-z, æ, ø, å, cifre, mellemrum og {{ }} ! # $ ^ , * ( ) _ + - = : ; ? . @"
            ),
            UserIdError::EdgeSpace => {
                "Et bruger-ID må ikke begynde eller slutte med et mellemrum.".into()
            }
            UserIdError::TenDigitRun => {
                "Et bruger-ID må ikke indeholde 10 cifre i træk.".into()
            }
            UserIdError::ContainsNationalId => {
                "Et bruger-ID må ikke indeholde dit CPR-nummer.".into()
            }
            UserIdError::ContainsPhoneNumber => {
                "Et bruger-ID må ikke indeholde dit telefonnummer.".into()
            }
        }),
        AppError::Store(StoreError::UserIdTaken | StoreError::UserIdReserved) => {
            Some("Det bruger-ID kan ikke vælges. Vælg et andet.".into())
        }
        AppError::Invalid(DomainError::Channel(c)) => Some(match c {
            ChannelError::Duplicate => "Den kanal har du allerede.".into(),
            ChannelError::TooMany => "Du har allerede så mange kanaler, som man kan have.".into(),
            ChannelError::LastChannel => "Din sidste bekræftede kanal kan ikke fjernes. Tilføj og bekræft en anden først.".into(),
            ChannelError::Unknown => "Den kanal findes ikke blandt dine.".into(),
            ChannelError::WrongCode { remaining } => {
                format!("Koden er forkert; du har {remaining} forsøg tilbage.")
            }
            ChannelError::CodeGone => "Koden er udløbet eller tastet forkert for mange gange. Tilføj kanalen igen.".into(),
            ChannelError::AlreadyConfirmed => "Kanalen er allerede bekræftet.".into(),
            ChannelError::BadOrder => "Rækkefølgen skal nævne hver af dine kanaler én gang.".into(),
        }),
        AppError::Invalid(DomainError::Contact(_)) => {
            Some("Telefonnummeret eller e-mailadressen kan ikke bruges. Skriv telefonnumre som +45 12 34 56 78.".into())
        }
        _ => None,
    };
    da.unwrap_or_else(|| e.to_string())
}

/// `?ok=…` on a page after a change: which notice to show.
fn notice_of(query: Option<&str>, s: &SelfTexts) -> Option<String> {
    let params = Params::from_urlencoded(query.unwrap_or_default()).ok()?;
    Some(
        match params.get("ok")? {
            "password" => s.done_password,
            "user-id" => s.done_user_id,
            "channel-added" => s.done_channel_added,
            "revoked" => s.done_revoked,
            "revoked-last" => s.revoke_warning,
            _ => s.done,
        }
        .to_owned(),
    )
}

async fn activity_body(
    state: &AppState,
    me: &SelfService,
    locale: Locale,
) -> Result<Body, SelfServiceError> {
    let a = state.sesam.self_service_activity(me).await?;
    let t = pages::texts(locale);
    let lang = language(locale);
    Ok(Body::Activity {
        uses: a
            .uses
            .iter()
            .map(|u| UseRow {
                when: local_time(u.at, lang),
                service: u.sp_name.clone(),
                action: action_text(&u.action, locale),
                how: method_text(&u.method, t),
                level: level_text(&u.level, locale),
            })
            .collect(),
        requests: a
            .app
            .requests
            .iter()
            .map(|r| RequestRow {
                when: when(&r.at, locale),
                service: r.sp_name.clone(),
                action: action_text(&r.action, locale),
                text: r.text.clone(),
                result: result_text(&r.result, locale),
            })
            .collect(),
        messages: a
            .app
            .messages
            .iter()
            .map(|m| MessageRow {
                when: when(&m.at, locale),
                subject: Event::subject(&m.event, lang),
                to: m.to.clone(),
                status: result_text(&m.status, locale),
            })
            .collect(),
    })
}

/// Renders a tab's page for the session, with a notice or an error.
async fn show(
    state: &AppState,
    headers: &HeaderMap,
    me: &SelfService,
    tab: Tab,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let locale = pages::locale(headers, None);
    let (path, body) = match tab {
        Tab::Activity => (
            "/min-sesam/activity",
            activity_body(state, me, locale).await,
        ),
        Tab::Authenticators => (
            "/min-sesam/authenticators",
            authenticators_body(state, me, locale).await,
        ),
        Tab::Channels => ("/min-sesam/channels", channels_body(state, me).await),
        Tab::Password => ("/min-sesam/password", Ok(Body::Password)),
        Tab::UserId => (
            "/min-sesam/user-id",
            Ok(Body::UserId {
                current: me
                    .identity
                    .user_id
                    .as_ref()
                    .map(|u| u.as_str().to_owned())
                    .unwrap_or_default(),
            }),
        ),
        Tab::Block => ("/min-sesam/block", Ok(Body::Block)),
        Tab::Profile | Tab::None => return pages::see_other("/min-sesam", vec![]),
    };
    let frame = Frame { locale, path, tab };
    match body {
        Ok(body) => page(&frame, me.csrf.clone(), status, notice, error, body),
        Err(e) => {
            let (status, text) = refusal(&e, locale);
            page(
                &frame,
                me.csrf.clone(),
                status,
                None,
                Some(text),
                Body::Start,
            )
        }
    }
}

async fn get_tab(state: AppState, headers: HeaderMap, query: Option<String>, tab: Tab) -> Response {
    let me = match session(&state, &headers).await {
        Ok(me) => me,
        Err(r) => return *r,
    };
    let notice = notice_of(query.as_deref(), self_texts(pages::locale(&headers, None)));
    show(&state, &headers, &me, tab, StatusCode::OK, notice, None).await
}

async fn activity(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    get_tab(state, headers, q, Tab::Activity).await
}

async fn authenticators(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    get_tab(state, headers, q, Tab::Authenticators).await
}

async fn channels(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    get_tab(state, headers, q, Tab::Channels).await
}

async fn password_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    get_tab(state, headers, q, Tab::Password).await
}

async fn user_id_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    get_tab(state, headers, q, Tab::UserId).await
}

async fn block_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    get_tab(state, headers, q, Tab::Block).await
}

async fn authenticators_body(
    state: &AppState,
    me: &SelfService,
    locale: Locale,
) -> Result<Body, SelfServiceError> {
    use sesam_domain::chip::ChipState;
    use sesam_domain::code_display::CodeDisplayState;
    use sesam_domain::device::DeviceState;
    let a = state.sesam.own_authenticators(me).await?;
    let lang = language(locale);
    let s = self_texts(locale);
    let apps = a
        .apps
        .iter()
        .map(|d| AuthenticatorRow {
            kind: "app",
            id: d.id.to_string(),
            name: d.name.as_str().to_owned(),
            active: d.state == DeviceState::Active,
            since: local_time(d.created_at, lang),
        })
        .collect();
    let code_displays = a
        .code_displays
        .iter()
        .map(|d| AuthenticatorRow {
            kind: "code_display",
            id: d.serial.clone(),
            name: format!("{} {}", d.kind.title(lang), d.serial),
            active: d.state == CodeDisplayState::Active,
            since: local_time(d.activated_at.unwrap_or(d.imported_at), lang),
        })
        .collect();
    let chips = a
        .chips
        .iter()
        .map(|c| AuthenticatorRow {
            kind: "chip",
            id: c.id.to_string(),
            name: c.id.to_string().chars().take(8).collect(),
            active: c.state == ChipState::Active,
            since: local_time(c.created_at, lang),
        })
        .collect();
    Ok(Body::Authenticators {
        sections: vec![
            (s.apps, apps),
            (s.code_displays, code_displays),
            (s.chips, chips),
        ],
    })
}

async fn channels_body(state: &AppState, me: &SelfService) -> Result<Body, SelfServiceError> {
    use sesam_domain::notification::Channel;
    let list = state.sesam.own_channels(me).await?;
    let confirmed = list.iter().filter(|c| c.is_confirmed()).count();
    Ok(Body::Channels {
        rows: list
            .iter()
            .enumerate()
            .map(|(n, c)| ChannelRow {
                id: c.id,
                kind: match c.kind {
                    Channel::Sms => "sms",
                    Channel::Email => "email",
                    Channel::App => "app",
                    Channel::Push => "push",
                },
                address: c.address.clone(),
                confirmed: c.is_confirmed(),
                first: n == 0,
            })
            .collect(),
        every_use: me.identity.notify_every_use,
        recommend: sesam_domain::channels::recommendation(confirmed).is_some(),
    })
}

/// After a change: back to the tab with a notice (post/redirect/get), or the tab again
/// with the refusal.
async fn after(
    state: &AppState,
    headers: &HeaderMap,
    me: &SelfService,
    tab: Tab,
    result: Result<&str, SelfServiceError>,
) -> Response {
    let path = match tab {
        Tab::Authenticators => "/min-sesam/authenticators",
        Tab::Channels => "/min-sesam/channels",
        Tab::Password => "/min-sesam/password",
        Tab::UserId => "/min-sesam/user-id",
        _ => "/min-sesam",
    };
    match result {
        Ok(ok) => pages::see_other(&format!("{path}?ok={ok}"), vec![]),
        Err(e) => {
            let (status, text) = refusal(&e, pages::locale(headers, None));
            // The change may have changed the person (e.g. a new user ID): read again.
            let me = match session(state, headers).await {
                Ok(fresh) => fresh,
                Err(_) => me.clone(),
            };
            show(state, headers, &me, tab, status, None, Some(text)).await
        }
    }
}

macro_rules! form_or_return {
    ($state:expr, $headers:expr, $body:expr) => {
        match form(&$state, &$headers, &$body).await {
            Ok(f) => f,
            Err(r) => return *r,
        }
    };
}

fn uuid_field(params: &Params, name: &str) -> Result<Uuid, SelfServiceError> {
    params
        .get(name)
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or(SelfServiceError::Unknown)
}

async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let (me, params) = form_or_return!(state, headers, body);
    let result = match OwnAuthenticator::parse(
        params.get("kind").unwrap_or_default(),
        params.get("id").unwrap_or_default(),
    ) {
        Some(target) => state
            .sesam
            .revoke_own_authenticator(&me, &target)
            .await
            .map(|warning| {
                if warning.is_some() {
                    "revoked-last"
                } else {
                    "revoked"
                }
            }),
        None => Err(SelfServiceError::Unknown),
    };
    after(&state, &headers, &me, Tab::Authenticators, result).await
}

async fn channel_add(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let (me, params) = form_or_return!(state, headers, body);
    let result = state
        .sesam
        .add_own_channel(
            &me,
            params.get("kind").unwrap_or_default(),
            params.get("address").unwrap_or_default(),
        )
        .await
        .map(|_| "channel-added");
    after(&state, &headers, &me, Tab::Channels, result).await
}

async fn channel_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (me, params) = form_or_return!(state, headers, body);
    let result = match uuid_field(&params, "channel") {
        Ok(id) => state
            .sesam
            .confirm_own_channel(&me, id, params.get("code").unwrap_or_default())
            .await
            .map(|()| "saved"),
        Err(e) => Err(e),
    };
    after(&state, &headers, &me, Tab::Channels, result).await
}

async fn channel_remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (me, params) = form_or_return!(state, headers, body);
    let result = match uuid_field(&params, "channel") {
        Ok(id) => state
            .sesam
            .remove_own_channel(&me, id)
            .await
            .map(|()| "saved"),
        Err(e) => Err(e),
    };
    after(&state, &headers, &me, Tab::Channels, result).await
}

async fn channel_up(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let (me, params) = form_or_return!(state, headers, body);
    let result = match uuid_field(&params, "channel") {
        Ok(id) => state
            .sesam
            .move_own_channel_up(&me, id)
            .await
            .map(|()| "saved"),
        Err(e) => Err(e),
    };
    after(&state, &headers, &me, Tab::Channels, result).await
}

async fn channel_every_use(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (me, params) = form_or_return!(state, headers, body);
    let enabled = params.get("enabled") == Some("true");
    let result = state
        .sesam
        .set_own_notify_every_use(&me, enabled)
        .await
        .map(|()| "saved");
    after(&state, &headers, &me, Tab::Channels, result).await
}

async fn password(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let (me, params) = form_or_return!(state, headers, body);
    let new = params.get("new").unwrap_or_default();
    if params.get("repeat").unwrap_or_default() != new {
        let s = self_texts(pages::locale(&headers, None));
        return show(
            &state,
            &headers,
            &me,
            Tab::Password,
            StatusCode::BAD_REQUEST,
            None,
            Some(s.passwords_differ.to_owned()),
        )
        .await;
    }
    let result = state
        .sesam
        .change_own_password(&me, params.get("current").unwrap_or_default(), new)
        .await
        .map(|()| "password");
    after(&state, &headers, &me, Tab::Password, result).await
}

async fn user_id(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let (me, params) = form_or_return!(state, headers, body);
    let result = state
        .sesam
        .change_own_user_id_in_self_service(&me, params.get("user_id").unwrap_or_default())
        .await
        .map(|_| "user-id");
    after(&state, &headers, &me, Tab::UserId, result).await
}

async fn block(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let (me, _) = form_or_return!(state, headers, body);
    match state.sesam.block_own_identity(&me).await {
        Ok(()) => blocked(&state, pages::locale(&headers, None)),
        Err(e) => after(&state, &headers, &me, Tab::Block, Err(e)).await,
    }
}

async fn logout(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let (me, _) = form_or_return!(state, headers, body);
    if let Err(e) = state.sesam.end_self_service(&me).await {
        return super::ApiError::from(e).into_response();
    }
    let locale = pages::locale(&headers, None);
    start(&state, locale, Some(self_texts(locale).session_ended))
}
