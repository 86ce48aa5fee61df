//! What every HTML page shares: the language, the texts in Danish and English, cookies,
//! and the strict headers (no inline script, no framing, no referrer).

use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use sesam_domain::authorization::Locale;

pub use crate::site::Info;

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
    pub app_waiting_script: &'static str,
    pub app_noscript: &'static str,
    pub app_valid_until: &'static str,
    pub app_time_left: &'static str,
    pub app_minute_left: &'static str,
    pub app_answered: &'static str,
    pub app_qr_help: &'static str,
    pub app_continue_help: &'static str,
    pub try_again: &'static str,
    pub ended_choices: &'static str,
    pub footer_run_by: &'static str,
    pub footer_label: &'static str,
    pub help: &'static str,
    pub privacy: &'static str,
    pub about: &'static str,
    pub forgot_link: &'static str,
    pub forgot_title: &'static str,
    pub forgot_intro: &'static str,
    pub forgot_label: &'static str,
    pub forgot_help: &'static str,
    pub forgot_button: &'static str,
    pub forgot_sent: &'static str,
    pub forgot_back: &'static str,
    pub help_page: Info,
    pub privacy_page: Info,
    pub about_page: Info,
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
    app_rejected_text: "Anmodningen blev afvist i appen. Du kan prøve igen, vælge en anden måde eller gå tilbage til tjenesten.",
    app_expired_title: "Anmodningen er udløbet",
    app_expired_text: "Appen svarede ikke inden for 3 minutter. Du kan prøve igen, vælge en anden måde eller gå tilbage til tjenesten.",
    limited_title: "For mange forsøg",
    limited_text: "Der er kommet for mange forsøg fra din netværksadresse. Vent et minut, og prøv igen.",
    app_waiting_script: "Venter på dit svar i appen …",
    app_noscript: "Siden opdaterer sig selv hvert 3. sekund.",
    app_valid_until: "Anmodningen gælder til",
    app_time_left: "Tid tilbage:",
    app_minute_left: "Der er 1 minut tilbage til at svare i appen.",
    app_answered: "Du har svaret i appen. Et øjeblik …",
    app_qr_help: "Du kan også scanne QR-koden med sesam-appen i stedet for at skrive koden.",
    app_continue_help: "Siden går videre af sig selv, når du har svaret i appen. Sker det ikke, så tryk på Fortsæt.",
    try_again: "Prøv igen",
    ended_choices: "Hvad vil du gøre nu?",
    footer_run_by: "sesam drives af",
    footer_label: "Om sesam",
    help: "Hjælp",
    privacy: "Privatlivspolitik",
    about: "Hvad er sesam?",
    forgot_link: "Glemt bruger-ID?",
    forgot_title: "Glemt bruger-ID",
    forgot_intro: "Skriv dit CPR-nummer. Hører det til et sesam, sender vi dit bruger-ID til dine egne kanaler: appen, SMS eller e-mail.",
    forgot_label: "CPR-nummer",
    forgot_help: "10 cifre, med eller uden bindestreg.",
    forgot_button: "Send mit bruger-ID",
    forgot_sent: "Tak. Hører CPR-nummeret til et sesam, får personen sit bruger-ID på sine egne kanaler inden for få minutter. Af hensyn til sikkerheden står der ikke her, om det gør.",
    forgot_back: "Tilbage til log på",
    help_page: Info {
        title: "Hjælp til sesam",
        paragraphs: &[
            "Du logger på med dit bruger-ID og en af dine godkendelsesmåder: sesam-appen, en kodeviser med adgangskode eller en chip med adgangskode.",
            "Har du glemt din adgangskode, eller er din telefon, kodeviser eller chip væk, så spær dit sesam i appen, eller kontakt sesam-support. Du kan aktivere igen med et nyt aktiveringsbrev.",
            "Godkend kun det, du selv har sat i gang. Står der noget i appen, du ikke kender, så tryk \"Det var ikke mig\".",
        ],
    },
    privacy_page: Info {
        title: "Privatlivspolitik",
        paragraphs: &[
            "sesam gemmer dit navn, din fødselsdato, dit CPR-nummer (krypteret), dit bruger-ID, dine godkendelsesmåder og dine kontaktoplysninger, så du kan bevise, hvem du er.",
            "Hver brug af dit sesam og hver besked til dig bliver logget, så du og operatøren kan se, hvad der er sket. Tjenester får kun de oplysninger, de har lov til, og kun når du godkender.",
            "Sider fra sesam bruger kun de cookies, der skal til for at logge på: ingen reklame og ingen sporing.",
        ],
    },
    about_page: Info {
        title: "Hvad er sesam?",
        paragraphs: &[
            "sesam er et åbent digitalt ID. Med ét bruger-ID, du selv vælger, logger du på hos banker, det offentlige og andre tjenester, og du godkender betalinger og underskrifter.",
            "Du ser altid, hvilken tjeneste der spørger, og præcis hvad du godkender. Hver vigtig hændelse får du besked om.",
        ],
    },
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
    app_rejected_text: "The request was declined in the app. You can try again, choose another way or go back to the service.",
    app_expired_title: "The request has expired",
    app_expired_text: "The app did not answer within 3 minutes. You can try again, choose another way or go back to the service.",
    limited_title: "Too many attempts",
    limited_text: "Too many attempts came from your network address. Wait a minute and try again.",
    app_waiting_script: "Waiting for your answer in the app …",
    app_noscript: "This page refreshes itself every 3 seconds.",
    app_valid_until: "The request is valid until",
    app_time_left: "Time left:",
    app_minute_left: "There is 1 minute left to answer in the app.",
    app_answered: "You answered in the app. One moment …",
    app_qr_help: "You can also scan the QR code with the sesam app instead of typing the code.",
    app_continue_help: "The page moves on by itself once you have answered in the app. If it does not, press Continue.",
    try_again: "Try again",
    ended_choices: "What would you like to do?",
    footer_run_by: "sesam is run by",
    footer_label: "About sesam",
    help: "Help",
    privacy: "Privacy notice",
    about: "What is sesam?",
    forgot_link: "Forgot your user ID?",
    forgot_title: "Forgot your user ID",
    forgot_intro: "Enter your national ID number (CPR). If it belongs to a sesam, we send your user ID to your own channels: the app, SMS or e-mail.",
    forgot_label: "National ID number (CPR)",
    forgot_help: "10 digits, with or without the dash.",
    forgot_button: "Send my user ID",
    forgot_sent: "Thank you. If the number belongs to a sesam, its owner gets their user ID on their own channels within a few minutes. For security, this page does not say whether it does.",
    forgot_back: "Back to logging on",
    help_page: Info {
        title: "Help with sesam",
        paragraphs: &[
            "You log on with your user ID and one of your ways to approve: the sesam app, a code display with your password, or a chip with your password.",
            "If you forgot your password, or your phone, code display or chip is lost, block your sesam in the app or contact sesam support. You can activate again with a new activation letter.",
            "Only approve what you started yourself. If the app shows something you do not recognise, press \"This wasn't me\".",
        ],
    },
    privacy_page: Info {
        title: "Privacy notice",
        paragraphs: &[
            "sesam keeps your name, date of birth, national ID number (encrypted), user ID, your ways to approve and your contact details, so that you can prove who you are.",
            "Every use of your sesam and every message to you is logged, so you and the operator can see what happened. Services get only the details they are allowed to, and only when you approve.",
            "sesam's pages use only the cookies logging on needs: no advertising and no tracking.",
        ],
    },
    about_page: Info {
        title: "What is sesam?",
        paragraphs: &[
            "sesam is an open digital identity. With one user ID you choose yourself, you log on to banks, public services and others, and you approve payments and signatures.",
            "You always see which service is asking and exactly what you approve. You are told about every important event.",
        ],
    },
};

impl Texts {
    /// The language these texts are in.
    pub fn locale(&self) -> Locale {
        if self.lang == "en" {
            Locale::En
        } else {
            Locale::Da
        }
    }
}

/// The language of messages that matches a page language (for times said in words).
pub fn language(locale: Locale) -> sesam_domain::notification::Language {
    match locale {
        Locale::Da => sesam_domain::notification::Language::Da,
        Locale::En => sesam_domain::notification::Language::En,
    }
}

pub fn texts(locale: Locale) -> &'static Texts {
    match locale {
        Locale::Da => &DA,
        Locale::En => &EN,
    }
}

/// The words of one action on the pages: what the header, the heading, the box around the
/// text and the button say, so a payment reads "Godkend" and a contract "Underskriv",
/// never "Log på".
pub struct ActionWords {
    /// The action in the header, above the SP's name.
    pub label: &'static str,
    /// Before the SP's name in the header ("Log på hos", "Godkend hos").
    pub intro: &'static str,
    /// The heading of the authenticator choice.
    pub choose_heading: &'static str,
    /// Before the user ID ("Du logger på som").
    pub as_who: &'static str,
    /// The label of the box around the transaction text.
    pub text_label: &'static str,
    /// The button that finishes the step.
    pub button: &'static str,
}

/// The words of `action` in `locale`.
pub fn action_words(
    action: sesam_domain::authorization::Action,
    locale: Locale,
) -> &'static ActionWords {
    use sesam_domain::authorization::Action as A;
    const fn w(
        label: &'static str,
        intro: &'static str,
        choose_heading: &'static str,
        as_who: &'static str,
        text_label: &'static str,
        button: &'static str,
    ) -> ActionWords {
        ActionWords {
            label,
            intro,
            choose_heading,
            as_who,
            text_label,
            button,
        }
    }
    static DA_LOG_ON: ActionWords = w(
        "Log på",
        "Log på hos",
        "Vælg, hvordan du vil logge på",
        "Du logger på som",
        "Teksten, du godkender",
        "Log på",
    );
    static EN_LOG_ON: ActionWords = w(
        "Log on",
        "Log on to",
        "Choose how to log on",
        "You are logging on as",
        "The text you approve",
        "Log on",
    );
    static DA_APPROVE: ActionWords = w(
        "Godkend",
        "Godkend hos",
        "Vælg, hvordan du vil godkende",
        "Du godkender som",
        "Du godkender",
        "Godkend",
    );
    static EN_APPROVE: ActionWords = w(
        "Approve",
        "Approve for",
        "Choose how to approve",
        "You are approving as",
        "You are approving",
        "Approve",
    );
    static DA_CONFIRM: ActionWords = w(
        "Bekræft",
        "Bekræft hos",
        "Vælg, hvordan du vil bekræfte",
        "Du bekræfter som",
        "Du bekræfter",
        "Bekræft",
    );
    static EN_CONFIRM: ActionWords = w(
        "Confirm",
        "Confirm for",
        "Choose how to confirm",
        "You are confirming as",
        "You are confirming",
        "Confirm",
    );
    static DA_ACCEPT: ActionWords = w(
        "Accepter",
        "Accepter hos",
        "Vælg, hvordan du vil acceptere",
        "Du accepterer som",
        "Du accepterer",
        "Accepter",
    );
    static EN_ACCEPT: ActionWords = w(
        "Accept",
        "Accept for",
        "Choose how to accept",
        "You are accepting as",
        "You are accepting",
        "Accept",
    );
    static DA_SIGN: ActionWords = w(
        "Underskriv",
        "Underskriv hos",
        "Vælg, hvordan du vil underskrive",
        "Du underskriver som",
        "Du underskriver",
        "Underskriv",
    );
    static EN_SIGN: ActionWords = w(
        "Sign",
        "Sign for",
        "Choose how to sign",
        "You are signing as",
        "You are signing",
        "Sign",
    );
    match (action, locale) {
        (A::LogOn, Locale::Da) => &DA_LOG_ON,
        (A::LogOn, Locale::En) => &EN_LOG_ON,
        (A::Approve, Locale::Da) => &DA_APPROVE,
        (A::Approve, Locale::En) => &EN_APPROVE,
        (A::Confirm, Locale::Da) => &DA_CONFIRM,
        (A::Confirm, Locale::En) => &EN_CONFIRM,
        (A::Accept, Locale::Da) => &DA_ACCEPT,
        (A::Accept, Locale::En) => &EN_ACCEPT,
        (A::Sign, Locale::Da) => &DA_SIGN,
        (A::Sign, Locale::En) => &EN_SIGN,
    }
}

/// The action as the page header says it.
pub fn action_label(action: sesam_domain::authorization::Action, locale: Locale) -> &'static str {
    action_words(action, locale).label
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

    #[test]
    fn every_action_has_its_own_words_and_only_logging_on_says_log_on() {
        use sesam_domain::authorization::Action as A;
        for locale in [Locale::Da, Locale::En] {
            let log_on = action_words(A::LogOn, locale).button;
            for a in [A::Approve, A::Confirm, A::Accept, A::Sign] {
                let w = action_words(a, locale);
                for said in [w.label, w.intro, w.choose_heading, w.as_who, w.button] {
                    assert!(!said.contains(log_on), "{a:?} {locale:?}: {said}");
                }
            }
        }
        assert_eq!(action_words(A::Approve, Locale::Da).button, "Godkend");
        assert_eq!(action_words(A::Sign, Locale::En).intro, "Sign for");
    }
}
