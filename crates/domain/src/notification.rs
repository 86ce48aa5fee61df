//! Notifications: which events are told to the person, on which channels, in which words.
//!
//! A message is written to the outbox in the same transaction as the event that causes it
//! (DESIGN §5). One message has one id on every channel, so receivers can deduplicate.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::code_display::CodeDisplayKind;
use crate::contact::{EmailAddress, PhoneNumber};

/// A delivery channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
    /// The inbox every app of the person reads (`sesam-app inbox`).
    App,
    /// A web push to one subscribed app (the address is the subscription id); it says
    /// only that something waits.
    Push,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::App => "app",
            Self::Email => "email",
            Self::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sms" => Some(Self::Sms),
            "email" => Some(Self::Email),
            "app" => Some(Self::App),
            "push" => Some(Self::Push),
            _ => None,
        }
    }
}

/// Whom a message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Sms(PhoneNumber),
    Email(EmailAddress),
    /// The person's app inbox (the address is the identity id).
    App(Uuid),
}

impl Recipient {
    pub fn channel(&self) -> Channel {
        match self {
            Self::Sms(_) => Channel::Sms,
            Self::Email(_) => Channel::Email,
            Self::App(_) => Channel::App,
        }
    }

    pub fn address(&self) -> String {
        match self {
            Self::Sms(p) => p.as_str().to_owned(),
            // Mailbox names are treated as case-insensitive, as nearly every provider does,
            // so one address cannot be registered twice in different case.
            Self::Email(e) => e.as_str().to_lowercase(),
            Self::App(id) => id.to_string(),
        }
    }
}

/// How a message reaches the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Every registered channel.
    AllChannels,
    /// The first channel that works, in the person's order.
    FirstWorking,
    /// Only this one channel (codes meant for one channel, e.g. the SMS temporary PIN).
    Only(Channel),
}

/// The events people are told about (the catalogue grows with the features).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The temporary PIN for an activation: sent only to the phone the registration unit
    /// registered (the caller passes it as the only channel; never a person-added one),
    /// and one of the two kinds of message that carry a secret.
    TemporaryPin { pin: String, valid_minutes: i64 },
    /// An activation letter (code) was issued: at enrolment (`first`), or a new one that
    /// replaces earlier unused letters. Never carries the code.
    ActivationCodeIssued { at: Timestamp, first: bool },
    /// An activation code was used and a temporary PIN was sent.
    TemporaryPinIssued { at: Timestamp },
    /// An activation was cancelled after 3 wrong SMS codes.
    ActivationVoided { at: Timestamp },
    /// An app was activated.
    AppActivated { device_name: String, at: Timestamp },
    /// Someone asked to pair a new app with the person's user ID. The name the new
    /// device chose is left out on purpose: it is the asker's text, and must not reach
    /// the person by SMS or e-mail as if sesam had written it.
    PairingRequested { at: Timestamp },
    /// An app was locked after wrong PINs.
    AppLocked {
        device_name: String,
        at: Timestamp,
        until_reactivated: bool,
    },
    /// An app was removed (revoked) by the person.
    AppRevoked { device_name: String, at: Timestamp },
    /// A code display was activated.
    CodeDisplayActivated {
        serial: String,
        kind: CodeDisplayKind,
        at: Timestamp,
    },
    /// A code display (its kind and serial) or, for `None`, a chip was removed by the person.
    AuthenticatorRevoked {
        code_display: Option<(CodeDisplayKind, String)>,
        at: Timestamp,
    },
    /// The code that confirms a new channel: sent to that channel only.
    ChannelConfirmation { code: String },
    /// A notification channel was added (after confirmation).
    ChannelAdded { address: String, at: Timestamp },
    /// A notification channel was removed (the removed one is told too).
    ChannelRemoved { address: String, at: Timestamp },
    /// A chip (security key) was registered.
    ChipActivated { at: Timestamp },
    /// A code display was locked after wrong codes or passwords.
    CodeDisplayLocked {
        kind: CodeDisplayKind,
        at: Timestamp,
        until_reactivated: bool,
    },
    /// The identity was suspended (blocked), by the person or by an operator.
    IdentitySuspended { at: Timestamp },
    /// The identity was reopened (by an operator, or by activating a new letter).
    IdentityReopened { at: Timestamp },
    /// The user ID was changed (the new one is not written in the message: a user ID is
    /// half of a login, and messages travel over channels sesam does not control).
    UserIdChanged { at: Timestamp },
    /// Someone asked for the person's user ID on the login pages ("forgot your user
    /// ID?") with their national ID number: the one message that carries the user ID, to
    /// the person's own channels only, stored sealed and scrubbed after delivery.
    UserIdReminder { user_id: String, at: Timestamp },
    /// The password was set for the first time (`first`) or changed.
    PasswordChanged { at: Timestamp, first: bool },
    /// The password was locked after wrong entries.
    PasswordLocked {
        at: Timestamp,
        until_reactivated: bool,
    },
    /// A request was declined in the app; `not_me`: reported as not started by the person.
    RequestRejected {
        service_provider: String,
        at: Timestamp,
        not_me: bool,
    },
    /// The identity was used to log in at a service provider (only for people who opted
    /// in to a message on every use).
    IdentityUsed {
        service_provider: String,
        action: String,
        at: Timestamp,
    },
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Self::TemporaryPin { .. } => "activation.temporary_pin",
            Self::TemporaryPinIssued { .. } => "activation.temporary_pin_issued",
            Self::ActivationCodeIssued { .. } => "activation.code_issued",
            Self::ActivationVoided { .. } => "activation.voided",
            Self::AppActivated { .. } => "authenticator.app_activated",
            Self::PairingRequested { .. } => "authenticator.pairing_requested",
            Self::AppLocked { .. } => "authenticator.app_locked",
            Self::AppRevoked { .. } => "authenticator.app_revoked",
            Self::IdentitySuspended { .. } => "identity.suspended",
            Self::IdentityReopened { .. } => "identity.reopened",
            Self::UserIdChanged { .. } => "identity.user_id_changed",
            Self::UserIdReminder { .. } => "identity.user_id_reminder",
            Self::PasswordChanged { .. } => "authenticator.password_changed",
            Self::CodeDisplayActivated { .. } => "authenticator.code_display_activated",
            Self::ChipActivated { .. } => "authenticator.chip_activated",
            Self::ChannelConfirmation { .. } => "channel.confirmation_code",
            Self::ChannelAdded { .. } => "channel.added",
            Self::ChannelRemoved { .. } => "channel.removed",
            Self::AuthenticatorRevoked { .. } => "authenticator.revoked",
            Self::CodeDisplayLocked { .. } => "authenticator.code_display_locked",
            Self::PasswordLocked { .. } => "authenticator.password_locked",
            Self::IdentityUsed { .. } => "identity.used",
            Self::RequestRejected { not_me: true, .. } => "approval.reported_not_me",
            Self::RequestRejected { .. } => "approval.rejected",
        }
    }

    pub fn mandatory(&self) -> bool {
        !matches!(self, Self::IdentityUsed { .. })
    }

    pub fn delivery(&self) -> Delivery {
        match self {
            Self::TemporaryPin { .. } => Delivery::Only(Channel::Sms),
            // Sent to the one new address by the caller, which passes it as the only channel.
            Self::ChannelConfirmation { .. } => Delivery::AllChannels,
            Self::ChannelAdded { .. } | Self::ChannelRemoved { .. } => Delivery::AllChannels,
            Self::ActivationVoided { .. }
            | Self::AppLocked { .. }
            | Self::CodeDisplayLocked { .. }
            | Self::PasswordLocked { .. }
            | Self::IdentityUsed { .. }
            | Self::RequestRejected { not_me: false, .. } => Delivery::FirstWorking,
            Self::RequestRejected { not_me: true, .. } => Delivery::AllChannels,
            Self::CodeDisplayActivated { .. }
            | Self::ChipActivated { .. }
            | Self::AuthenticatorRevoked { .. } => Delivery::AllChannels,
            Self::TemporaryPinIssued { .. }
            | Self::ActivationCodeIssued { .. }
            | Self::AppActivated { .. }
            | Self::PairingRequested { .. }
            | Self::AppRevoked { .. }
            | Self::IdentitySuspended { .. }
            | Self::IdentityReopened { .. }
            | Self::UserIdChanged { .. }
            | Self::UserIdReminder { .. }
            | Self::PasswordChanged { .. } => Delivery::AllChannels,
        }
    }

    /// Whether the text carries a secret (stored sealed, scrubbed after delivery).
    pub fn secret(&self) -> bool {
        matches!(
            self,
            Self::TemporaryPin { .. }
                | Self::ChannelConfirmation { .. }
                | Self::UserIdReminder { .. }
        )
    }

    /// The text in the person's language. Each says what happened, when, and what to do
    /// if it was not them.
    pub fn text(&self, language: Language) -> String {
        match language {
            Language::Da => self.text_da(),
            Language::En => self.text_en(),
        }
    }

    fn text_da(&self) -> String {
        const NOT_YOU: &str =
            "Var det ikke dig? Spær dit sesam med det samme i appen eller hos sesam-support.";
        let t = |at: &Timestamp| format!("den {}", local_time(*at, Language::Da));
        let lock = |r: bool| {
            if r {
                " og skal aktiveres igen"
            } else {
                " i 15 minutter"
            }
        };
        match self {
            Self::ChannelConfirmation { code } => format!(
                "sesam: Din kode til at bekræfte denne kanal til beskeder er {code}. Den gælder i 15 minutter."
            ),
            Self::ChannelAdded { address, at } => {
                format!(
                    "sesam: {address} blev tilføjet som kanal til beskeder {}. {NOT_YOU}",
                    t(at)
                )
            }
            Self::ChannelRemoved { address, at } => {
                format!(
                    "sesam: {address} blev fjernet som kanal til beskeder {}. {NOT_YOU}",
                    t(at)
                )
            }
            Self::TemporaryPin { pin, valid_minutes } => format!(
                "sesam: Din midlertidige PIN-kode er {pin}. Den gælder i {valid_minutes} minutter. Del den aldrig med andre - heller ikke med nogen, der ringer til dig."
            ),
            Self::ActivationCodeIssued { at, first: true } => format!(
                "sesam: Du blev oprettet i sesam {}, og et aktiveringsbrev blev udstedt til dig. Brug det kun selv, og del aldrig koden. Var det ikke dig? Kontakt sesam-support.",
                t(at)
            ),
            Self::ActivationCodeIssued { at, first: false } => format!(
                "sesam: Et nyt aktiveringsbrev blev udstedt til dig {}. Tidligere ubrugte breve gælder ikke længere. {NOT_YOU}",
                t(at)
            ),
            Self::IdentityReopened { at } => {
                format!("sesam: Dit sesam blev genåbnet {}. {NOT_YOU}", t(at))
            }
            Self::UserIdChanged { at } => {
                format!("sesam: Dit bruger-id blev ændret {}. {NOT_YOU}", t(at))
            }
            Self::UserIdReminder { user_id, at } => format!(
                "sesam: Dit bruger-id er {user_id}. Nogen bad om det på sesams log-på-side {} med dit CPR-nummer. Var det ikke dig, kan du se bort fra beskeden: bruger-id'et alene giver ikke adgang.",
                t(at)
            ),
            Self::PasswordChanged { at, first: true } => format!(
                "sesam: Der blev oprettet en adgangskode til dit sesam {}. {NOT_YOU}",
                t(at)
            ),
            Self::PasswordChanged { at, first: false } => format!(
                "sesam: Adgangskoden til dit sesam blev ændret {}. {NOT_YOU}",
                t(at)
            ),
            Self::TemporaryPinIssued { at } => format!(
                "sesam: Dit aktiveringsbrev blev brugt {} og en midlertidig PIN-kode er sendt til din telefon. {NOT_YOU}",
                t(at)
            ),
            Self::ActivationVoided { at } => {
                format!(
                    "sesam: En aktivering blev annulleret {} efter 3 forkerte SMS-koder. {NOT_YOU}",
                    t(at)
                )
            }
            Self::AppActivated { device_name, at } => {
                format!(
                    "sesam: Appen på \"{device_name}\" blev aktiveret {}. {NOT_YOU}",
                    t(at)
                )
            }
            Self::PairingRequested { at } => format!(
                "sesam: Nogen bad {} om at aktivere en ny app på dit sesam. Godkend kun i din app, hvis det er dig selv, og kun med den kode, den nye app viser. Var det ikke dig, så afvis det - intet ændres, uden at du godkender.",
                t(at)
            ),
            Self::AppLocked {
                device_name,
                at,
                until_reactivated,
            } => format!(
                "sesam: Appen på \"{device_name}\" blev låst {} efter forkerte PIN-koder{}. {NOT_YOU}",
                t(at),
                lock(*until_reactivated)
            ),
            Self::AppRevoked { device_name, at } => {
                format!(
                    "sesam: Appen på \"{device_name}\" blev fjernet {}. {NOT_YOU}",
                    t(at)
                )
            }
            Self::CodeDisplayActivated { serial, kind, at } => {
                format!(
                    "sesam: {} med serienummer {serial} blev aktiveret {}. {NOT_YOU}",
                    capitalised(kind.the_name(Language::Da)),
                    t(at)
                )
            }
            Self::AuthenticatorRevoked {
                code_display: Some((kind, serial)),
                at,
            } => {
                format!(
                    "sesam: {} med serienummer {serial} blev fjernet {}. {NOT_YOU}",
                    capitalised(kind.the_name(Language::Da)),
                    t(at)
                )
            }
            Self::AuthenticatorRevoked {
                code_display: None,
                at,
            } => {
                format!(
                    "sesam: Din chip (sikkerhedsnøgle) blev fjernet {}. {NOT_YOU}",
                    t(at)
                )
            }
            Self::ChipActivated { at } => {
                format!(
                    "sesam: En chip (sikkerhedsnøgle) blev aktiveret {}. {NOT_YOU}",
                    t(at)
                )
            }
            Self::CodeDisplayLocked {
                kind,
                at,
                until_reactivated,
            } => format!(
                "sesam: Din {} blev låst {} efter forkerte koder{}. {} {NOT_YOU}",
                kind.title(Language::Da).to_lowercase(),
                t(at),
                lock(*until_reactivated),
                if *until_reactivated {
                    "Aktivér den igen i appen (eller med et nyt aktiveringsbrev) med serienummeret og to koder i træk."
                } else {
                    "Du kan stadig logge på med appen."
                }
            ),
            Self::IdentitySuspended { at } => format!(
                "sesam: Dit sesam blev spærret {}. Intet kan bruges, før det genåbnes. Var det ikke dig? Kontakt sesam-support.",
                t(at)
            ),
            Self::PasswordLocked {
                at,
                until_reactivated,
            } => format!(
                "sesam: Din adgangskode blev låst {} efter forkerte forsøg{}. {} {NOT_YOU}",
                t(at),
                lock(*until_reactivated),
                if *until_reactivated {
                    "Et nyt aktiveringsbrev genaktiverer den. Du kan stadig logge på med appen."
                } else {
                    "Du kan stadig logge på med appen."
                }
            ),
            Self::IdentityUsed {
                service_provider,
                action,
                at,
            } => format!(
                "sesam: Dit sesam blev brugt hos {service_provider} ({action}) {}. {NOT_YOU}",
                t(at)
            ),
            Self::RequestRejected {
                service_provider,
                at,
                not_me: false,
            } => format!(
                "sesam: Du afviste en anmodning fra {service_provider} {}.",
                t(at)
            ),
            Self::RequestRejected {
                service_provider,
                at,
                not_me: true,
            } => format!(
                "sesam: Du meldte, at en anmodning fra {service_provider} {} ikke kom fra dig. Den blev afvist. Hvis nogen kender din adgangskode eller har din telefon, så spær dit sesam i appen (sesam-app block) eller hos sesam-support.",
                t(at)
            ),
        }
    }

    fn text_en(&self) -> String {
        const NOT_YOU: &str =
            "Was it not you? Block your sesam at once in the app or with sesam support.";
        let t = |at: &Timestamp| format!("on {}", local_time(*at, Language::En));
        let lock = |r: bool| {
            if r {
                " and must be activated again"
            } else {
                " for 15 minutes"
            }
        };
        match self {
            Self::ChannelConfirmation { code } => format!(
                "sesam: Your code to confirm this channel for messages is {code}. It is valid for 15 minutes."
            ),
            Self::ChannelAdded { address, at } => {
                format!(
                    "sesam: {address} was added as a channel for messages {}. {NOT_YOU}",
                    t(at)
                )
            }
            Self::ChannelRemoved { address, at } => {
                format!(
                    "sesam: {address} was removed as a channel for messages {}. {NOT_YOU}",
                    t(at)
                )
            }
            Self::TemporaryPin { pin, valid_minutes } => format!(
                "sesam: Your temporary PIN is {pin}. It is valid for {valid_minutes} minutes. Never share it - not even with someone who calls you."
            ),
            Self::ActivationCodeIssued { at, first: true } => format!(
                "sesam: You were enrolled in sesam {} and an activation letter was issued to you. Use it only yourself and never share its code. Was it not you? Contact sesam support.",
                t(at)
            ),
            Self::ActivationCodeIssued { at, first: false } => format!(
                "sesam: A new activation letter was issued to you {}. Earlier unused letters no longer work. {NOT_YOU}",
                t(at)
            ),
            Self::IdentityReopened { at } => {
                format!("sesam: Your sesam was reopened {}. {NOT_YOU}", t(at))
            }
            Self::UserIdChanged { at } => {
                format!("sesam: Your user ID was changed {}. {NOT_YOU}", t(at))
            }
            Self::UserIdReminder { user_id, at } => format!(
                "sesam: Your user ID is {user_id}. Someone asked for it on sesam's login page {} with your national ID number. If it was not you, you can ignore this message: the user ID alone gives no access.",
                t(at)
            ),
            Self::PasswordChanged { at, first: true } => format!(
                "sesam: A password was set for your sesam {}. {NOT_YOU}",
                t(at)
            ),
            Self::PasswordChanged { at, first: false } => format!(
                "sesam: The password of your sesam was changed {}. {NOT_YOU}",
                t(at)
            ),
            Self::TemporaryPinIssued { at } => format!(
                "sesam: Your activation letter was used {} and a temporary PIN was sent to your phone. {NOT_YOU}",
                t(at)
            ),
            Self::ActivationVoided { at } => {
                format!(
                    "sesam: An activation was cancelled {} after 3 wrong SMS codes. {NOT_YOU}",
                    t(at)
                )
            }
            Self::AppActivated { device_name, at } => {
                format!(
                    "sesam: The app on \"{device_name}\" was activated {}. {NOT_YOU}",
                    t(at)
                )
            }
            Self::PairingRequested { at } => format!(
                "sesam: Someone asked {} to activate a new app on your sesam. Approve it in your app only if it is you, and only with the code the new app shows. Was it not you? Reject it - nothing changes unless you approve.",
                t(at)
            ),
            Self::AppLocked {
                device_name,
                at,
                until_reactivated,
            } => format!(
                "sesam: The app on \"{device_name}\" was locked {} after wrong PINs{}. {NOT_YOU}",
                t(at),
                lock(*until_reactivated)
            ),
            Self::AppRevoked { device_name, at } => {
                format!(
                    "sesam: The app on \"{device_name}\" was removed {}. {NOT_YOU}",
                    t(at)
                )
            }
            Self::CodeDisplayActivated { serial, kind, at } => {
                format!(
                    "sesam: {} with serial number {serial} was activated {}. {NOT_YOU}",
                    capitalised(kind.the_name(Language::En)),
                    t(at)
                )
            }
            Self::AuthenticatorRevoked {
                code_display: Some((kind, serial)),
                at,
            } => {
                format!(
                    "sesam: {} with serial number {serial} was removed {}. {NOT_YOU}",
                    capitalised(kind.the_name(Language::En)),
                    t(at)
                )
            }
            Self::AuthenticatorRevoked {
                code_display: None,
                at,
            } => {
                format!(
                    "sesam: Your chip (security key) was removed {}. {NOT_YOU}",
                    t(at)
                )
            }
            Self::ChipActivated { at } => format!(
                "sesam: A chip (security key) was activated {}. {NOT_YOU}",
                t(at)
            ),
            Self::CodeDisplayLocked {
                kind,
                at,
                until_reactivated,
            } => format!(
                "sesam: Your {} was locked {} after wrong codes{}. {} {NOT_YOU}",
                kind.title(Language::En).to_lowercase(),
                t(at),
                lock(*until_reactivated),
                if *until_reactivated {
                    "Activate it again in the app (or with a new activation letter) with its serial number and two codes in a row."
                } else {
                    "You can still log in with the app."
                }
            ),
            Self::IdentitySuspended { at } => format!(
                "sesam: Your sesam was blocked {}. Nothing can be used until it is reopened. Was it not you? Contact sesam support.",
                t(at)
            ),
            Self::PasswordLocked {
                at,
                until_reactivated,
            } => format!(
                "sesam: Your password was locked {} after wrong attempts{}. {} {NOT_YOU}",
                t(at),
                lock(*until_reactivated),
                if *until_reactivated {
                    "A new activation letter re-activates it. You can still log in with the app."
                } else {
                    "You can still log in with the app."
                }
            ),
            Self::IdentityUsed {
                service_provider,
                action,
                at,
            } => format!(
                "sesam: Your sesam was used at {service_provider} ({action}) {}. {NOT_YOU}",
                t(at)
            ),
            Self::RequestRejected {
                service_provider,
                at,
                not_me: false,
            } => format!(
                "sesam: You declined a request from {service_provider} {}.",
                t(at)
            ),
            Self::RequestRejected {
                service_provider,
                at,
                not_me: true,
            } => format!(
                "sesam: You reported that a request from {service_provider} {} was not yours. It was declined. If someone may know your password or have your phone, block your sesam in the app (sesam-app block) or through sesam support.",
                t(at)
            ),
        }
    }

    /// The e-mail subject.
    pub fn subject(event_name: &str, language: Language) -> &'static str {
        let da = language == Language::Da;
        match event_name {
            "activation.temporary_pin" => {
                if da {
                    "Din midlertidige PIN-kode"
                } else {
                    "Your temporary PIN"
                }
            }
            e if e.starts_with("authenticator.") => {
                if da {
                    "Ændring af dine sesam-enheder"
                } else {
                    "A change to your sesam devices"
                }
            }
            e if e.starts_with("activation.") => {
                if da {
                    "Aktivering af sesam"
                } else {
                    "sesam activation"
                }
            }
            _ => {
                if da {
                    "Dit sesam"
                } else {
                    "Your sesam"
                }
            }
        }
    }
}

/// "kodeviseren" → "Kodeviseren", for the start of a sentence.
fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The time zone people are told times in: Europe/Copenhagen with its summer time,
/// compiled in from the IANA database so no system tz data is needed.
static LOCAL_ZONE: jiff::tz::TimeZone = jiff::tz::get!("Europe/Copenhagen");

const MONTHS_DA: [&str; 12] = [
    "januar",
    "februar",
    "marts",
    "april",
    "maj",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "december",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A moment as a person reads it, in Danish local time, to the minute:
/// "6. december 2026 kl. 19.58" / "6 December 2026 at 19:58". Messages are read by
/// people, not parsers; an RFC 3339 UTC time would be an hour or two off for them.
pub fn local_time(at: Timestamp, language: Language) -> String {
    let Ok(ts) = jiff::Timestamp::from_millisecond(at.millis()) else {
        return at.to_rfc3339();
    };
    let local = LOCAL_ZONE.to_datetime(ts);
    let month = usize::try_from(local.month() - 1).unwrap_or(0) % 12;
    match language {
        Language::Da => format!(
            "{}. {} {} kl. {:02}.{:02}",
            local.day(),
            MONTHS_DA[month],
            local.year(),
            local.hour(),
            local.minute()
        ),
        Language::En => format!(
            "{} {} {} at {:02}:{:02}",
            local.day(),
            MONTHS_EN[month],
            local.year(),
            local.hour(),
            local.minute()
        ),
    }
}

/// The time of day of a moment in Danish local time, as a page beside a date-less
/// countdown says it: "kl. 14.32" / "14:32".
pub fn local_clock(at: Timestamp, language: Language) -> String {
    let Ok(ts) = jiff::Timestamp::from_millisecond(at.millis()) else {
        return at.to_rfc3339();
    };
    let local = LOCAL_ZONE.to_datetime(ts);
    match language {
        Language::Da => format!("kl. {:02}.{:02}", local.hour(), local.minute()),
        Language::En => format!("{:02}:{:02}", local.hour(), local.minute()),
    }
}

/// The language a person reads sesam's messages in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Da,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Da => "da",
            Self::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "da" => Some(Self::Da),
            "en" => Some(Self::En),
            _ => None,
        }
    }
}

impl Delivery {
    /// The stored form of the rule.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllChannels => "all",
            Self::FirstWorking => "first",
            Self::Only(_) => "only",
        }
    }
}

/// One message to one channel, as written to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// Shared by every channel the message goes to.
    pub message_id: Uuid,
    pub identity_id: Option<Uuid>,
    pub event: &'static str,
    pub channel: Channel,
    pub destination: String,
    pub text: String,
    pub language: Language,
    pub secret: bool,
    /// `all`, `first` (fail over along `position`) or `only`.
    pub delivery: &'static str,
    /// The channel's place in the person's order (0 = first).
    pub position: i32,
    pub created_at: Timestamp,
}

/// Expands an event into the messages its delivery rule asks for, given the person's
/// channels in their order.
pub fn messages_for(
    event: &Event,
    identity_id: Uuid,
    channels: &[Recipient],
    language: Language,
    message_id: Uuid,
    at: Timestamp,
) -> Vec<OutgoingMessage> {
    let delivery = event.delivery();
    let chosen: Vec<&Recipient> = match delivery {
        Delivery::AllChannels => channels.iter().collect(),
        // Every external channel in the person's order: the dispatcher sends to the first
        // and fails over along the rest. The app inbox always "accepts", so it would end
        // every chain; it gets all-channel messages only.
        Delivery::FirstWorking => channels
            .iter()
            .filter(|r| r.channel() != Channel::App)
            .collect(),
        Delivery::Only(c) => channels
            .iter()
            .filter(|r| r.channel() == c)
            .take(1)
            .collect(),
    };
    let text = event.text(language);
    chosen
        .into_iter()
        .enumerate()
        .map(|(position, r)| OutgoingMessage {
            message_id,
            identity_id: Some(identity_id),
            event: event.name(),
            channel: r.channel(),
            destination: r.address(),
            text: text.clone(),
            language,
            secret: event.secret(),
            delivery: delivery.as_str(),
            position: position as i32,
            created_at: at,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channels() -> Vec<Recipient> {
        vec![
            Recipient::Sms(PhoneNumber::parse("+4512345678").unwrap()),
            Recipient::Email(EmailAddress::parse("anna@example.dk").unwrap()),
        ]
    }

    #[test]
    fn delivery_rules_pick_channels() {
        let at = Timestamp::from_millis(0);
        let id = Uuid::nil();
        let pin = Event::TemporaryPin {
            pin: "12345678".into(),
            valid_minutes: 30,
        };
        let m = messages_for(&pin, id, &channels(), Language::Da, Uuid::from_u128(1), at);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].channel, Channel::Sms);
        assert!(m[0].secret && m[0].text.contains("12345678"));

        let act = Event::AppActivated {
            device_name: "Pixel".into(),
            at,
        };
        let m = messages_for(&act, id, &channels(), Language::Da, Uuid::from_u128(2), at);
        assert_eq!(m.len(), 2);
        assert!(
            m.iter()
                .all(|x| x.message_id == Uuid::from_u128(2) && !x.secret)
        );
        assert!(m[0].text.contains("Pixel") && m[0].text.contains("Spær"));

        // First-working events list every channel in order; the dispatcher fails over.
        let voided = Event::ActivationVoided { at };
        let m = messages_for(
            &voided,
            id,
            &channels(),
            Language::En,
            Uuid::from_u128(3),
            at,
        );
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m[0].delivery, m[0].position, m[1].position),
            ("first", 0, 1)
        );
        assert_eq!(m[1].channel, Channel::Email);
        assert!(m[0].text.contains("was cancelled") && m[0].text.contains("Block your sesam"));
    }

    #[test]
    fn a_pairing_request_is_told_on_every_channel() {
        let at = Timestamp::from_millis(0);
        let e = Event::PairingRequested { at };
        assert!(e.mandatory() && e.delivery() == Delivery::AllChannels);
        let m = messages_for(
            &e,
            Uuid::nil(),
            &channels(),
            Language::En,
            Uuid::from_u128(4),
            at,
        );
        assert_eq!(m.len(), 2);
        assert!(m[0].text.contains("new app") && m[0].text.contains("code"));
        let da = e.text(Language::Da);
        assert!(da.contains("ny app") && da.contains("kode"), "{da}");
    }

    #[test]
    fn lock_messages_say_how_to_get_back_in() {
        let at = Timestamp::from_millis(0);
        let text = |e: &Event, l| e.text(l);
        for r in [false, true] {
            let pw = Event::PasswordLocked {
                at,
                until_reactivated: r,
            };
            let cd = Event::CodeDisplayLocked {
                kind: CodeDisplayKind::Display,
                at,
                until_reactivated: r,
            };
            for e in [&pw, &cd] {
                assert!(text(e, Language::En).contains(if r {
                    "activation letter"
                } else {
                    "15 minutes"
                }));
                assert!(text(e, Language::Da).contains(if r {
                    "aktiveringsbrev"
                } else {
                    "15 minutter"
                }));
            }
            assert!(text(&pw, Language::En).contains("still log in with the app"));
            assert!(text(&pw, Language::Da).contains("stadig logge på med appen"));
        }
        let cd = Event::CodeDisplayLocked {
            kind: CodeDisplayKind::Display,
            at,
            until_reactivated: true,
        };
        assert!(text(&cd, Language::En).contains("Activate it again in the app"));
        assert!(text(&cd, Language::Da).contains("Aktivér den igen i appen"));
    }

    #[test]
    fn messages_name_the_device_a_person_has() {
        let at = Timestamp::from_millis(0);
        let serial = "AR-1".to_owned();
        let audio = CodeDisplayKind::AudioReader;
        let events = [
            Event::CodeDisplayActivated {
                serial: serial.clone(),
                kind: audio,
                at,
            },
            Event::AuthenticatorRevoked {
                code_display: Some((audio, serial.clone())),
                at,
            },
            Event::CodeDisplayLocked {
                kind: audio,
                at,
                until_reactivated: false,
            },
        ];
        for e in &events {
            let (da, en) = (e.text(Language::Da), e.text(Language::En));
            assert!(da.to_lowercase().contains("kodeoplæser"), "{da}");
            assert!(en.to_lowercase().contains("audio code reader"), "{en}");
            assert!(
                !da.contains("odeviser") && !en.contains("code display"),
                "{da} / {en}"
            );
        }
        let display = Event::CodeDisplayActivated {
            serial,
            kind: CodeDisplayKind::Display,
            at,
        };
        assert!(
            display
                .text(Language::Da)
                .starts_with("sesam: Kodeviseren med serienummer AR-1")
        );
        assert!(
            display
                .text(Language::En)
                .starts_with("sesam: The code display with serial number AR-1")
        );
    }

    fn at(rfc3339: &str) -> Timestamp {
        let t =
            time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
                .unwrap();
        Timestamp::from_millis((t.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    #[test]
    fn clock_times_are_copenhagen_time_in_winter_and_summer() {
        let winter = at("2026-01-15T13:32:10Z");
        assert_eq!(local_clock(winter, Language::Da), "kl. 14.32");
        assert_eq!(local_clock(winter, Language::En), "14:32");
        let summer = at("2026-07-15T13:32:10Z");
        assert_eq!(local_clock(summer, Language::Da), "kl. 15.32");
        assert_eq!(local_clock(summer, Language::En), "15:32");
    }

    #[test]
    fn times_are_written_for_people_in_copenhagen_time() {
        let winter = at("2026-12-06T18:58:32.978Z");
        assert_eq!(
            local_time(winter, Language::Da),
            "6. december 2026 kl. 19.58"
        );
        assert_eq!(local_time(winter, Language::En), "6 December 2026 at 19:58");
        assert_eq!(
            local_time(at("2026-07-01T22:05:00Z"), Language::Da),
            "2. juli 2026 kl. 00.05",
            "summer time, past midnight locally"
        );
        // The spring and autumn changes of 2026 (29 March, 25 October, at 01:00 UTC).
        assert_eq!(
            local_time(at("2026-03-29T00:59:00Z"), Language::En),
            "29 March 2026 at 01:59"
        );
        assert_eq!(
            local_time(at("2026-03-29T01:00:00Z"), Language::En),
            "29 March 2026 at 03:00"
        );
        assert_eq!(
            local_time(at("2026-10-25T00:59:00Z"), Language::En),
            "25 October 2026 at 02:59"
        );
        assert_eq!(
            local_time(at("2026-10-25T01:00:00Z"), Language::En),
            "25 October 2026 at 02:00"
        );
        let text = Event::AppActivated {
            device_name: "Pixel".into(),
            at: winter,
        }
        .text(Language::Da);
        assert!(
            text.contains("den 6. december 2026 kl. 19.58") && !text.contains("2026-12-06"),
            "{text}"
        );
    }

    /// The last Sunday of `month` in `year`, at 01:00 UTC: when EU summer time starts
    /// (March) and ends (October).
    fn eu_change(year: i32, month: time::Month) -> time::OffsetDateTime {
        let mut day = time::Date::from_calendar_date(year, month, 31).unwrap();
        while day.weekday() != time::Weekday::Sunday {
            day = day.previous_day().unwrap();
        }
        day.with_hms(1, 0, 0).unwrap().assume_utc()
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// Against an independent statement of the EU rule (Denmark: UTC+1, and UTC+2
        /// from the last Sunday of March to the last Sunday of October, 01:00 UTC).
        #[test]
        fn local_time_follows_danish_summer_time(
            millis in proptest::prop_oneof![
                946_684_800_000i64..4_102_444_800_000i64,
                // Within two hours of a change, where a wrong rule shows.
                (2000i32..2100, proptest::bool::ANY, -7_200_000i64..7_200_000).prop_map(
                    |(year, spring, offset)| {
                        let month = if spring { time::Month::March } else { time::Month::October };
                        (eu_change(year, month).unix_timestamp_nanos() / 1_000_000) as i64 + offset
                    }
                ),
            ],
        ) {
            let utc = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
                .unwrap();
            let summer = utc >= eu_change(utc.year(), time::Month::March)
                && utc < eu_change(utc.year(), time::Month::October);
            let local = utc + time::Duration::hours(if summer { 2 } else { 1 });
            let month = usize::from(u8::from(local.month())) - 1;
            let da = format!(
                "{}. {} {} kl. {:02}.{:02}",
                local.day(), MONTHS_DA[month], local.year(), local.hour(), local.minute()
            );
            let en = format!(
                "{} {} {} at {:02}:{:02}",
                local.day(), MONTHS_EN[month], local.year(), local.hour(), local.minute()
            );
            let t = Timestamp::from_millis(millis);
            proptest::prop_assert_eq!(local_time(t, Language::Da), da);
            proptest::prop_assert_eq!(local_time(t, Language::En), en);
        }
    }
}
