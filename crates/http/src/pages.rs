//! What every HTML page shares: the language, the texts in Danish and English, cookies,
//! and the strict headers (no inline script, no framing, no referrer).

use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use sesam_domain::authorization::Locale;

/// The browser's login cookie: binds logins and CSRF tokens to this browser.
pub const BROWSER_COOKIE: &str = "sesam_browser";
/// The login session (for `prompt=none`, `max_age` and logout).
pub const SESSION_COOKIE: &str = "sesam_session";
/// The authenticator last used on this browser, offered first next time.
pub const LAST_METHOD_COOKIE: &str = "sesam_last_method";
/// The language the person picked with the language link.
pub const LANGUAGE_COOKIE: &str = "sesam_lang";

/// The value of one cookie of the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when sesam is
/// reached over https. `max_age` `None` makes a session cookie; `Some(0)` deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=1; Max-Age=0"))
}

/// The page language: the person's own pick, then the SP's `ui_locales`, then the
/// browser's `Accept-Language`, then Danish.
pub fn locale(headers: &HeaderMap, requested: Option<Locale>) -> Locale {
    if let Some(l) = cookie(headers, LANGUAGE_COOKIE).and_then(|v| Locale::first_supported([v])) {
        return l;
    }
    if let Some(l) = requested {
        return l;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Locale::first_supported(v.split(',')))
        .unwrap_or_default()
}

/// An HTML page with its own Content-Security-Policy: scripts and styles only from this
/// server's files, forms only to this server (and the SP the login returns to).
pub fn html(status: StatusCode, body: String, form_target: Option<&str>) -> Response {
    let form_action = match form_target {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action {form_action}; base-uri 'none'; frame-ancestors 'none'"
    );
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

/// The origin (scheme://host:port) of a URL, for `form-action`.
pub fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization()).filter(|o| o != "null")
}

/// `back` if it is a path on this server that a browser cannot read as anywhere else, or
/// `None`. The one check for every redirect target taken from a request: browsers drop
/// tabs and newlines and read a backslash as `/` (so `/<tab>/evil` or `/\evil` become
/// `//evil`, another host), and they decode escapes in places a server does not expect.
/// Our own links are plain paths, so anything else is refused rather than repaired:
/// only visible ASCII, no backslash, no `%` escapes (encoded and double-encoded tricks
/// alike), one leading `/`, and the URL it resolves to against the public URL must be
/// on the same origin with exactly this path and query (no dot segments).
pub fn local_path<'a>(back: &'a str, public: &url::Url) -> Option<&'a str> {
    let plain = back.len() <= 2048
        && back
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'\\' && b != b'%')
        && back.starts_with('/')
        && !back.starts_with("//");
    if !plain {
        return None;
    }
    let resolved = public.join(back).ok()?;
    let same_origin = resolved.origin() == public.origin();
    let same_path = &resolved[url::Position::BeforePath..] == back;
    (same_origin && same_path && resolved.fragment().is_none()).then_some(back)
}

/// A 303 to `location`, with cookies to set.
pub fn see_other(location: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// Every text of the pages, in one language.
pub struct Texts {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub other_lang_name: &'static str,
    pub skip_to_content: &'static str,
    pub login_at: &'static str,
    pub user_id_label: &'static str,
    pub user_id_help: &'static str,
    pub continue_button: &'static str,
    pub cancel_button: &'static str,
    pub choose_heading: &'static str,
    pub logging_in_as: &'static str,
    pub not_you: &'static str,
    pub last_used: &'static str,
    pub method_code_display: &'static str,
    pub method_code_display_help: &'static str,
    pub method_chip: &'static str,
    pub method_chip_help: &'static str,
    pub method_below_level: &'static str,
    pub code_label: &'static str,
    pub code_help: &'static str,
    pub password_label: &'static str,
    pub log_in_button: &'static str,
    pub other_method: &'static str,
    pub not_accepted: &'static str,
    pub below_level: &'static str,
    pub chip_intro: &'static str,
    pub chip_button: &'static str,
    pub chip_needs_script: &'static str,
    pub chip_no_answer: &'static str,
    pub chip_waiting: &'static str,
    pub gone_title: &'static str,
    pub gone_text: &'static str,
    pub back_to_sp: &'static str,
    pub blocked_title: &'static str,
    pub blocked_text: &'static str,
    pub error_title: &'static str,
    pub error_intro: &'static str,
    pub logged_out_title: &'static str,
    pub logged_out_text: &'static str,
    pub logout_title: &'static str,
    pub logout_text: &'static str,
    pub logout_button: &'static str,
    pub wrong_step: &'static str,
    pub csrf_failed: &'static str,
    pub error_prefix: &'static str,
    pub approving: &'static str,
    pub too_many: &'static str,
    pub reported: &'static str,
    pub method_app: &'static str,
    pub method_app_help: &'static str,
    pub app_title: &'static str,
    pub app_intro: &'static str,
    pub app_code_label: &'static str,
    pub app_qr_alt: &'static str,
    pub app_waiting: &'static str,
    pub app_continue: &'static str,
    pub app_rejected_title: &'static str,
    pub app_rejected_text: &'static str,
    pub app_expired_title: &'static str,
    pub app_expired_text: &'static str,
    pub limited_title: &'static str,
    pub limited_text: &'static str,
}

pub const DA: Texts = Texts {
    lang: "da",
    other_lang: "en",
    other_lang_name: "English",
    skip_to_content: "Gå til indholdet",
    login_at: "Log på hos",
    user_id_label: "Bruger-ID",
    user_id_help: "Det bruger-ID, du selv har valgt.",
    continue_button: "Fortsæt",
    cancel_button: "Afbryd",
    choose_heading: "Vælg, hvordan du vil logge på",
    logging_in_as: "Du logger på som",
    not_you: "Ikke dig?",
    last_used: "Sidst brugt",
    method_code_display: "Kodeviser eller kodeoplæser og adgangskode",
    method_code_display_help: "Indtast koden fra din kodeviser eller kodeoplæser og din adgangskode.",
    method_chip: "Chip og adgangskode",
    method_chip_help: "Brug din chip (sikkerhedsnøgle) og din adgangskode.",
    method_below_level: "Giver ikke det sikkerhedsniveau, tjenesten kræver.",
    code_label: "Kode fra kodeviseren eller kodeoplæseren (6 cifre)",
    code_help: "Tryk på knappen på kodeviseren, eller på den røde knap på kodeoplæseren og lyt, og indtast de 6 cifre.",
    password_label: "Adgangskode",
    log_in_button: "Log på",
    other_method: "Vælg en anden måde",
    not_accepted: "Koden, adgangskoden eller chippen blev ikke godkendt. Prøv igen. Efter 3 forkerte forsøg spærres den i 15 minutter, og du får besked.",
    below_level: "Den valgte måde giver ikke det sikkerhedsniveau, tjenesten kræver. Vælg en anden.",
    chip_intro: "Indtast din adgangskode, tryk på knappen, og rør derefter din chip.",
    chip_button: "Brug chip",
    chip_needs_script: "Chippen kræver JavaScript i browseren. Slå det til, eller vælg en anden måde.",
    chip_no_answer: "Chippen svarede ikke eller blev ikke genkendt. Prøv igen, eller vælg en anden måde.",
    chip_waiting: "Rør din chip nu …",
    gone_title: "Log-på er ikke længere gyldigt",
    gone_text: "Dette log-på er udløbet, afsluttet eller startet i en anden browser. Start igen fra tjenesten.",
    back_to_sp: "Tilbage til tjenesten",
    blocked_title: "Dit sesam er spærret",
    blocked_text: "Dit sesam kan ikke bruges, før det er genåbnet. Kontakt sesam-support, eller aktiver med et nyt aktiveringsbrev.",
    error_title: "Log-på kan ikke startes",
    error_intro: "Tjenesten sendte en forespørgsel, som sesam ikke kan bruge. Kontakt tjenesten. Detaljer:",
    logged_out_title: "Du er logget af",
    logged_out_text: "Du er logget af sesam i denne browser.",
    logout_title: "Log af sesam?",
    logout_text: "Vil du logge af sesam i denne browser?",
    logout_button: "Log af",
    wrong_step: "Siden var forældet. Prøv igen herfra.",
    csrf_failed: "Formularen var for gammel eller kom fra en anden side. Prøv igen.",
    error_prefix: "Fejl:",
    approving: "Du godkender",
    too_many: "Der er startet for mange anmodninger til dette bruger-ID herfra. Vent lidt, og prøv igen, eller vælg en anden måde.",
    reported: "En anmodning fra denne browser eller netværksadresse blev meldt som \"Det var ikke mig\". Der kan ikke sendes flere til appen herfra i dag.",
    method_app: "sesam-appen",
    method_app_help: "Godkend i appen på din telefon med din PIN-kode.",
    app_title: "Godkend i sesam-appen",
    app_intro: "Åbn sesam-appen, og tjek at teksten er den samme. Indtast denne kode i appen, og godkend med din PIN-kode:",
    app_code_label: "Kode",
    app_qr_alt: "QR-kode, som appen kan scanne, med koden",
    app_waiting: "Venter på dit svar i appen … Siden opdaterer sig selv. Anmodningen gælder i 3 minutter.",
    app_continue: "Fortsæt",
    app_rejected_title: "Afvist i appen",
    app_rejected_text: "Anmodningen blev afvist i appen. Du kan prøve igen eller vælge en anden måde.",
    app_expired_title: "Anmodningen er udløbet",
    app_expired_text: "Appen svarede ikke inden for 3 minutter. Prøv igen, eller vælg en anden måde.",
    limited_title: "For mange forsøg",
    limited_text: "Der er kommet for mange forsøg fra din netværksadresse. Vent et minut, og prøv igen.",
};

pub const EN: Texts = Texts {
    lang: "en",
    other_lang: "da",
    other_lang_name: "Dansk",
    skip_to_content: "Skip to content",
    login_at: "Log on to",
    user_id_label: "User ID",
    user_id_help: "The user ID you chose yourself.",
    continue_button: "Continue",
    cancel_button: "Cancel",
    choose_heading: "Choose how to log on",
    logging_in_as: "You are logging on as",
    not_you: "Not you?",
    last_used: "Last used",
    method_code_display: "Code display or audio code reader and password",
    method_code_display_help: "Enter the code from your code display or audio code reader and your password.",
    method_chip: "Chip and password",
    method_chip_help: "Use your chip (security key) and your password.",
    method_below_level: "Does not give the assurance level this service requires.",
    code_label: "Code from the code display or audio code reader (6 digits)",
    code_help: "Press the button on the code display, or the red button on the audio code reader and listen, and enter the 6 digits.",
    password_label: "Password",
    log_in_button: "Log on",
    other_method: "Choose another way",
    not_accepted: "The code, password or chip was not accepted. Try again. After 3 wrong attempts it is locked for 15 minutes, and you are notified.",
    below_level: "The way you chose does not give the assurance level this service requires. Choose another.",
    chip_intro: "Enter your password, press the button, then touch your chip.",
    chip_button: "Use chip",
    chip_needs_script: "The chip needs JavaScript in the browser. Turn it on, or choose another way.",
    chip_no_answer: "The chip did not answer or was not recognised. Try again, or choose another way.",
    chip_waiting: "Touch your chip now …",
    gone_title: "This logon is no longer valid",
    gone_text: "This logon has expired, was finished, or was started in another browser. Start again from the service.",
    back_to_sp: "Back to the service",
    blocked_title: "Your sesam is blocked",
    blocked_text: "Your sesam cannot be used until it is reopened. Contact sesam support, or activate with a new activation letter.",
    error_title: "The logon cannot start",
    error_intro: "The service sent a request sesam cannot use. Please contact the service. Details:",
    logged_out_title: "You are logged out",
    logged_out_text: "You are logged out of sesam in this browser.",
    logout_title: "Log out of sesam?",
    logout_text: "Do you want to log out of sesam in this browser?",
    logout_button: "Log out",
    wrong_step: "The page was out of date. Please try again from here.",
    csrf_failed: "The form was too old or came from another page. Please try again.",
    error_prefix: "Error:",
    approving: "You are approving",
    too_many: "Too many requests were started for this user ID from here. Wait a little and try again, or choose another way.",
    reported: "A request from this browser or network address was reported as \"This wasn't me\". No more can be sent to the app from here today.",
    method_app: "The sesam app",
    method_app_help: "Approve in the app on your phone with your PIN.",
    app_title: "Approve in the sesam app",
    app_intro: "Open the sesam app and check that the text is the same. Enter this code in the app and approve with your PIN:",
    app_code_label: "Code",
    app_qr_alt: "QR code for the app to scan, with the code",
    app_waiting: "Waiting for your answer in the app … This page refreshes itself. The request is valid for 3 minutes.",
    app_continue: "Continue",
    app_rejected_title: "Declined in the app",
    app_rejected_text: "The request was declined in the app. You can try again or choose another way.",
    app_expired_title: "The request has expired",
    app_expired_text: "The app did not answer within 3 minutes. Try again, or choose another way.",
    limited_title: "Too many attempts",
    limited_text: "Too many attempts came from your network address. Wait a minute and try again.",
};

pub fn texts(locale: Locale) -> &'static Texts {
    match locale {
        Locale::Da => &DA,
        Locale::En => &EN,
    }
}

/// The action as the page header says it.
pub fn action_label(action: sesam_domain::authorization::Action, locale: Locale) -> &'static str {
    use sesam_domain::authorization::Action as A;
    match (action, locale) {
        (A::LogOn, Locale::Da) => "Log på",
        (A::LogOn, Locale::En) => "Log on",
        (A::Approve, Locale::Da) => "Godkend",
        (A::Approve, Locale::En) => "Approve",
        (A::Confirm, Locale::Da) => "Bekræft",
        (A::Confirm, Locale::En) => "Confirm",
        (A::Accept, Locale::Da) => "Accepter",
        (A::Accept, Locale::En) => "Accept",
        (A::Sign, Locale::Da) => "Underskriv",
        (A::Sign, Locale::En) => "Sign",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; sesam_browser=xyz; b="),
        );
        assert_eq!(cookie(&h, BROWSER_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "b"), None);
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn language_order() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("en-GB,en;q=0.9"),
        );
        assert_eq!(locale(&h, None), Locale::En);
        assert_eq!(locale(&h, Some(Locale::Da)), Locale::Da);
        h.insert(header::COOKIE, HeaderValue::from_static("sesam_lang=en"));
        assert_eq!(locale(&h, Some(Locale::Da)), Locale::En);
        assert_eq!(locale(&HeaderMap::new(), None), Locale::Da);
    }

    #[test]
    fn cookie_attributes() {
        let c = set_cookie("x", "v", Some(60), true);
        assert_eq!(
            c.to_str().unwrap(),
            "x=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
    }
}
