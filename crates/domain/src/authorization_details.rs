//! RFC 9396 `authorization_details`: what an SP asks the person to approve.
//!
//! - `sesam_transaction`: an action and the SP's own one-line text.
//! - `payment_initiation`: a structured payment (amount, currency, creditor name and
//!   account), which sesam itself renders into fixed, localised words, so a bank cannot
//!   word a payment misleadingly and the amount always reads the same way.
//!
//! Either way the result is one [`TransactionText`] that the person approves and the
//! approval signature covers.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thiserror::Error;

use crate::action::Action;
use crate::locale::Locale;
use crate::text::first_hidden;
use crate::transaction_text::{TransactionText, TransactionTextError};

/// ISO 4217 codes accepted, with their minor units.
const CURRENCIES: &[(&str, u32)] = &[
    ("DKK", 2),
    ("EUR", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("ISK", 0),
    ("USD", 2),
    ("GBP", 2),
    ("CHF", 2),
    ("PLN", 2),
    ("CZK", 2),
    ("HUF", 2),
    ("JPY", 0),
    ("CAD", 2),
    ("AUD", 2),
];
/// The largest amount accepted, in major units.
const MAX_MAJOR: u64 = 1_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthorizationDetailsError {
    #[error("authorization_details is not a JSON array of objects")]
    NotJsonArray,
    #[error("authorization_details must hold exactly one entry")]
    Count,
    #[error(
        "authorization_details type '{0}' is not supported; use sesam_transaction or payment_initiation"
    )]
    UnknownType(String),
    #[error("authorization_details: {0} is missing")]
    Missing(&'static str),
    #[error(
        "authorization_details: action '{0}' is unknown; use LOG_ON, APPROVE, CONFIRM, ACCEPT or SIGN"
    )]
    UnknownAction(String),
    #[error("authorization_details: {0}")]
    Text(#[from] TransactionTextError),
    #[error(
        "authorization_details: the amount '{0}' must be a positive decimal number such as 1500.00"
    )]
    Amount(String),
    #[error("authorization_details: the amount has more decimals than {currency} has ({minor})")]
    AmountPrecision { currency: String, minor: u32 },
    #[error("authorization_details: currency '{0}' is not a supported ISO 4217 code")]
    Currency(String),
    #[error("authorization_details: the creditor name must have 1 to 70 visible characters")]
    CreditorName,
    #[error(
        "authorization_details: the creditor account must be an IBAN with a valid check number"
    )]
    Iban,
}

/// A structured payment, as approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// In minor units (øre, cent).
    pub amount_minor: u64,
    pub currency: String,
    pub minor_units: u32,
    pub creditor_name: String,
    /// The IBAN without spaces.
    pub creditor_iban: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthorizationDetail {
    Transaction {
        action: Action,
        text: TransactionText,
    },
    Payment(Payment),
}

fn field<'a>(
    o: &'a serde_json::Map<String, Value>,
    name: &'static str,
) -> Result<&'a Value, AuthorizationDetailsError> {
    o.get(name).ok_or(AuthorizationDetailsError::Missing(name))
}

fn string<'a>(v: &'a Value, name: &'static str) -> Result<&'a str, AuthorizationDetailsError> {
    v.as_str().ok_or(AuthorizationDetailsError::Missing(name))
}

fn currency(code: &str) -> Result<(&'static str, u32), AuthorizationDetailsError> {
    CURRENCIES
        .iter()
        .find(|(c, _)| *c == code)
        .copied()
        .ok_or_else(|| AuthorizationDetailsError::Currency(code.chars().take(10).collect()))
}

/// A decimal string ("1500", "1500.5", "1500.50") in minor units.
fn amount(s: &str, code: &str, minor: u32) -> Result<u64, AuthorizationDetailsError> {
    let bad = || AuthorizationDetailsError::Amount(s.chars().take(30).collect());
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || int.len() > 13
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if s.contains('.') && frac.is_empty() {
        return Err(bad());
    }
    if frac.len() > minor as usize {
        return Err(AuthorizationDetailsError::AmountPrecision {
            currency: code.into(),
            minor,
        });
    }
    let major: u64 = int.parse().map_err(|_| bad())?;
    if major > MAX_MAJOR {
        return Err(bad());
    }
    let scale = 10u64.pow(minor);
    let frac_value: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<width$}", width = minor as usize)
            .parse()
            .map_err(|_| bad())?
    };
    let total = major * scale + frac_value;
    if total == 0 {
        return Err(bad());
    }
    Ok(total)
}

/// ISO 13616: two letters, two check digits, up to 30 alphanumerics; mod 97 = 1.
fn iban(s: &str) -> Result<String, AuthorizationDetailsError> {
    let compact: String = s
        .chars()
        .filter(|c| *c != ' ')
        .collect::<String>()
        .to_ascii_uppercase();
    let ok_shape = (15..=34).contains(&compact.len())
        && compact.bytes().take(2).all(|b| b.is_ascii_uppercase())
        && compact.bytes().skip(2).take(2).all(|b| b.is_ascii_digit())
        && compact.bytes().all(|b| b.is_ascii_alphanumeric());
    if !ok_shape {
        return Err(AuthorizationDetailsError::Iban);
    }
    let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
    let mut rem: u32 = 0;
    for c in rearranged.chars() {
        let v = c.to_digit(36).ok_or(AuthorizationDetailsError::Iban)?;
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    if rem != 1 {
        return Err(AuthorizationDetailsError::Iban);
    }
    Ok(compact)
}

fn payment(o: &serde_json::Map<String, Value>) -> Result<Payment, AuthorizationDetailsError> {
    let instructed = field(o, "instructedAmount")?
        .as_object()
        .ok_or(AuthorizationDetailsError::Missing("instructedAmount"))?;
    let code = string(field(instructed, "currency")?, "instructedAmount.currency")?;
    let (code, minor) = currency(code)?;
    let amount_text = match field(instructed, "amount")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(AuthorizationDetailsError::Missing(
                "instructedAmount.amount",
            ));
        }
    };
    let amount_minor = amount(&amount_text, code, minor)?;
    let name = string(field(o, "creditorName")?, "creditorName")?.trim();
    if name.is_empty() || name.chars().count() > 70 || first_hidden(name).is_some() {
        return Err(AuthorizationDetailsError::CreditorName);
    }
    let account = field(o, "creditorAccount")?
        .as_object()
        .ok_or(AuthorizationDetailsError::Missing("creditorAccount"))?;
    let creditor_iban = iban(string(field(account, "iban")?, "creditorAccount.iban")?)?;
    Ok(Payment {
        amount_minor,
        currency: code.to_owned(),
        minor_units: minor,
        creditor_name: name.to_owned(),
        creditor_iban,
    })
}

impl AuthorizationDetail {
    /// Parses the `authorization_details` parameter (a JSON array with one entry).
    pub fn parse(json: &str) -> Result<Self, AuthorizationDetailsError> {
        let v: Value = serde_json::from_str(json).map_err(|e| {
            // serde_json reports a lone surrogate escape (`\ud800`) as a bad hex escape.
            let why = e.to_string();
            if why.contains("surrogate") || why.contains("hex escape") {
                AuthorizationDetailsError::Text(TransactionTextError::NotUtf8)
            } else {
                AuthorizationDetailsError::NotJsonArray
            }
        })?;
        let list = v
            .as_array()
            .ok_or(AuthorizationDetailsError::NotJsonArray)?;
        if list.len() != 1 {
            return Err(AuthorizationDetailsError::Count);
        }
        let o = list[0]
            .as_object()
            .ok_or(AuthorizationDetailsError::NotJsonArray)?;
        match string(field(o, "type")?, "type")? {
            "sesam_transaction" => {
                let action = match o.get("action") {
                    None => Action::LogOn,
                    Some(a) => {
                        let a = string(a, "action")?;
                        Action::parse(a).ok_or_else(|| {
                            AuthorizationDetailsError::UnknownAction(a.chars().take(20).collect())
                        })?
                    }
                };
                let text = TransactionText::parse(string(field(o, "text")?, "text")?)?;
                Ok(Self::Transaction { action, text })
            }
            "payment_initiation" => {
                let p = payment(o)?;
                // The words must fit in every language now: otherwise the request would
                // fail only later, at the approval, and only for people of one language.
                for locale in [Locale::Da, Locale::En] {
                    TransactionText::parse(&p.render(locale))?;
                }
                Ok(Self::Payment(p))
            }
            other => Err(AuthorizationDetailsError::UnknownType(
                other.chars().take(40).collect(),
            )),
        }
    }

    pub fn action(&self) -> Action {
        match self {
            Self::Transaction { action, .. } => *action,
            Self::Payment(_) => Action::Approve,
        }
    }

    /// The text the person reads (and signs), in `locale`.
    pub fn text(&self, locale: Locale) -> Result<TransactionText, TransactionTextError> {
        match self {
            Self::Transaction { text, .. } => Ok(text.clone()),
            Self::Payment(p) => TransactionText::parse(&p.render(locale)),
        }
    }

    /// The approved details as carried in the ID token and the receipt (RFC 9396 shape).
    pub fn to_json(&self) -> Value {
        match self {
            Self::Transaction { action, text } => {
                json!([{ "type": "sesam_transaction", "action": action.as_str(), "text": text.as_str() }])
            }
            Self::Payment(p) => json!([{
                "type": "payment_initiation",
                "instructedAmount": { "currency": p.currency, "amount": p.amount_decimal() },
                "creditorName": p.creditor_name,
                "creditorAccount": { "iban": p.creditor_iban },
            }]),
        }
    }
}

fn group_thousands(mut n: u64, sep: char) -> String {
    let mut parts = vec![];
    loop {
        if n < 1000 {
            parts.push(n.to_string());
            break;
        }
        parts.push(format!("{:03}", n % 1000));
        n /= 1000;
    }
    parts.reverse();
    parts.join(&sep.to_string())
}

impl Payment {
    /// The amount as a plain decimal ("1500.00").
    pub fn amount_decimal(&self) -> String {
        let scale = 10u64.pow(self.minor_units);
        if self.minor_units == 0 {
            return self.amount_minor.to_string();
        }
        format!(
            "{}.{:0width$}",
            self.amount_minor / scale,
            self.amount_minor % scale,
            width = self.minor_units as usize
        )
    }

    /// The amount as people of `locale` write it: `1.500,00 kr.` / `DKK 1,500.00`.
    pub fn amount_for(&self, locale: Locale) -> String {
        let scale = 10u64.pow(self.minor_units);
        let (major, minor) = (self.amount_minor / scale, self.amount_minor % scale);
        let (thousands, decimal) = match locale {
            Locale::Da => ('.', ','),
            Locale::En => (',', '.'),
        };
        let mut number = group_thousands(major, thousands);
        if self.minor_units > 0 {
            number.push(decimal);
            number.push_str(&format!(
                "{minor:0width$}",
                width = self.minor_units as usize
            ));
        }
        match (locale, self.currency.as_str()) {
            (Locale::Da, "DKK") => format!("{number} kr."),
            (Locale::Da, c) => format!("{number} {c}"),
            (Locale::En, c) => format!("{c} {number}"),
        }
    }

    fn iban_grouped(&self) -> String {
        self.creditor_iban
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn render(&self, locale: Locale) -> String {
        match locale {
            Locale::Da => format!(
                "Overfør {} til {}, konto {}",
                self.amount_for(locale),
                self.creditor_name,
                self.iban_grouped()
            ),
            Locale::En => format!(
                "Transfer {} to {}, account {}",
                self.amount_for(locale),
                self.creditor_name,
                self.iban_grouped()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pay(amount: &str, currency: &str) -> String {
        json!([{ "type": "payment_initiation", "instructedAmount": { "currency": currency, "amount": amount },
                 "creditorName": "Jens Hansen", "creditorAccount": { "iban": "DK50 0040 0440 1162 43" } }]).to_string()
    }

    #[test]
    fn payments_render_in_danish_and_english() {
        let d = AuthorizationDetail::parse(&pay("1500.00", "DKK")).unwrap();
        assert_eq!(d.action(), Action::Approve);
        assert_eq!(
            d.text(Locale::Da).unwrap().as_str(),
            "Overfør 1.500,00 kr. til Jens Hansen, konto DK50 0040 0440 1162 43"
        );
        assert_eq!(
            d.text(Locale::En).unwrap().as_str(),
            "Transfer DKK 1,500.00 to Jens Hansen, account DK50 0040 0440 1162 43"
        );
        let d = AuthorizationDetail::parse(&pay("1234.5", "EUR")).unwrap();
        assert!(
            d.text(Locale::Da)
                .unwrap()
                .as_str()
                .starts_with("Overfør 1.234,50 EUR til")
        );
        let d = AuthorizationDetail::parse(&pay("1234567", "ISK")).unwrap();
        assert!(
            d.text(Locale::En)
                .unwrap()
                .as_str()
                .starts_with("Transfer ISK 1,234,567 to")
        );
        assert_eq!(
            AuthorizationDetail::parse(&pay("1500.00", "DKK"))
                .unwrap()
                .to_json()[0]["instructedAmount"],
            json!({ "currency": "DKK", "amount": "1500.00" })
        );
    }

    /// Found by `payments_round_trip`: a large amount and a long creditor name were
    /// accepted, but their words have more than 130 characters, so the request failed
    /// only when the person chose the app.
    #[test]
    fn payments_whose_words_do_not_fit_are_refused_up_front() {
        let name = "ØAAa-aåøøa-Aa  AåA-Å AA ø-AAøåø AøaÅååa-ØÅ- ÅAa ØaØø- øAØØAÅaåA- a";
        let input = json!([{
            "type": "payment_initiation",
            "instructedAmount": { "currency": "DKK", "amount": "1000000000.00" },
            "creditorName": name,
            "creditorAccount": { "iban": "DK5000400440116243" },
        }])
        .to_string();
        assert!(
            matches!(
                AuthorizationDetail::parse(&input),
                Err(AuthorizationDetailsError::Text(
                    TransactionTextError::TooLong { .. }
                ))
            ),
            "{:?}",
            AuthorizationDetail::parse(&input)
        );
        let fits = input.replace(name, "Jens Hansen");
        assert!(AuthorizationDetail::parse(&fits).is_ok());
    }

    #[test]
    fn transactions_carry_their_action_and_text() {
        let d = AuthorizationDetail::parse(
            r#"[{"type":"sesam_transaction","action":"SIGN","text":"Underskriv lejekontrakt"}]"#,
        )
        .unwrap();
        assert_eq!(d.action(), Action::Sign);
        assert_eq!(
            d.text(Locale::En).unwrap().as_str(),
            "Underskriv lejekontrakt"
        );
        let d = AuthorizationDetail::parse(r#"[{"type":"sesam_transaction","text":"Log på"}]"#)
            .unwrap();
        assert_eq!(d.action(), Action::LogOn);
    }

    #[test]
    fn malformed_details_are_refused_specifically() {
        use AuthorizationDetailsError as E;
        let cases: Vec<(String, E)> = vec![
            ("{}".into(), E::NotJsonArray),
            ("[]".into(), E::Count),
            (r#"[{"type":"account_information"}]"#.into(), E::UnknownType("account_information".into())),
            (r#"[{"type":"sesam_transaction","action":"PAY","text":"x"}]"#.into(), E::UnknownAction("PAY".into())),
            (r#"[{"type":"sesam_transaction"}]"#.into(), E::Missing("text")),
            (pay("-1", "DKK"), E::Amount("-1".into())),
            (pay("1e3", "DKK"), E::Amount("1e3".into())),
            (pay("0", "DKK"), E::Amount("0".into())),
            (pay("12.", "DKK"), E::Amount("12.".into())),
            (pay("1.001", "DKK"), E::AmountPrecision { currency: "DKK".into(), minor: 2 }),
            (pay("10", "XXX"), E::Currency("XXX".into())),
            (pay("10", "dkk"), E::Currency("dkk".into())),
            (json!([{ "type": "payment_initiation", "creditorName": "J", "creditorAccount": { "iban": "DK5000400440116243" } }]).to_string(), E::Missing("instructedAmount")),
            (json!([{ "type": "payment_initiation", "instructedAmount": { "currency": "DKK" }, "creditorName": "J", "creditorAccount": { "iban": "DK5000400440116243" } }]).to_string(), E::Missing("amount")),
            (json!([{ "type": "payment_initiation", "instructedAmount": { "currency": "DKK", "amount": "1" }, "creditorName": "J\u{202E}", "creditorAccount": { "iban": "DK5000400440116243" } }]).to_string(), E::CreditorName),
            (json!([{ "type": "payment_initiation", "instructedAmount": { "currency": "DKK", "amount": "1" }, "creditorName": "J", "creditorAccount": { "iban": "DK5000400440116244" } }]).to_string(), E::Iban),
        ];
        for (input, want) in cases {
            assert_eq!(AuthorizationDetail::parse(&input), Err(want), "{input}");
        }
        let e = AuthorizationDetail::parse(r#"[{"type":"sesam_transaction","text":"a\ud800b"}]"#)
            .unwrap_err();
        assert_eq!(e, E::Text(TransactionTextError::NotUtf8));
        let e = AuthorizationDetail::parse(r#"[{"type":"sesam_transaction","text":"a\u202eb"}]"#)
            .unwrap_err();
        assert!(
            matches!(e, E::Text(TransactionTextError::Bidi { .. })),
            "{e}"
        );
    }

    /// Arbitrary JSON values, a few levels deep, with the field names the parser reads.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            any::<String>().prop_map(Value::String),
            prop::sample::select(vec![
                "sesam_transaction",
                "payment_initiation",
                "DKK",
                "JPY",
                "SIGN",
                "1500.00",
                "DK5000400440116243"
            ])
            .prop_map(|s| json!(s)),
        ];
        let keys = prop::sample::select(vec![
            "type",
            "action",
            "text",
            "instructedAmount",
            "currency",
            "amount",
            "creditorName",
            "creditorAccount",
            "iban",
            "x",
        ]);
        leaf.prop_recursive(4, 32, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(keys.clone().prop_map(str::to_owned), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// One-line texts of visible characters (letters of several scripts, digits,
    /// punctuation), 1 to 130 of them: always valid transaction texts.
    fn visible_text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9æøåÆØÅ€.,:;!?()/ -]{0,129}[a-zA-Z0-9æøåÆØÅ€]"
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            Just(Action::LogOn),
            Just(Action::Approve),
            Just(Action::Confirm),
            Just(Action::Accept),
            Just(Action::Sign),
        ]
    }

    proptest! {
        /// Any input at all is answered with a result, never a panic.
        #[test]
        fn parsing_never_panics(input in any::<String>()) {
            let _ = AuthorizationDetail::parse(&input);
        }

        /// Any JSON value (of any shape) is answered with a result, never a panic.
        #[test]
        fn parsing_arbitrary_json_never_panics(v in json_value()) {
            let _ = AuthorizationDetail::parse(&v.to_string());
            let _ = AuthorizationDetail::parse(&json!([v]).to_string());
        }

        /// A transaction parses to its action and text, and its JSON parses to itself.
        #[test]
        fn transactions_round_trip(action in action(), text in visible_text()) {
            let input = json!([{ "type": "sesam_transaction", "action": action.as_str(), "text": text }]);
            let d = AuthorizationDetail::parse(&input.to_string()).unwrap();
            prop_assert_eq!(d.action(), action);
            let shown = d.text(Locale::Da).unwrap();
            prop_assert_eq!(shown.as_str(), text.as_str());
            prop_assert_eq!(&d.to_json(), &input);
            prop_assert_eq!(AuthorizationDetail::parse(&d.to_json().to_string()), Ok(d));
        }

        /// A payment parses to its amount in minor units, and its JSON parses to itself.
        #[test]
        fn payments_round_trip(
            major in 1u64..MAX_MAJOR,
            minor in 0u64..100,
            currency in prop::sample::select(CURRENCIES.to_vec()),
            name in "[A-Za-zÆØÅæøå][A-Za-zÆØÅæøå .-]{0,68}[A-Za-zæøå]",
        ) {
            let (code, digits) = currency;
            let amount = if digits == 0 { major.to_string() } else { format!("{major}.{minor:02}") };
            let want_minor = if digits == 0 { major } else { major * 100 + minor };
            let parsed = AuthorizationDetail::parse(&json!([{
                "type": "payment_initiation",
                "instructedAmount": { "currency": code, "amount": amount },
                "creditorName": name,
                "creditorAccount": { "iban": "DK5000400440116243" },
            }]).to_string());
            if let Err(AuthorizationDetailsError::Text(TransactionTextError::TooLong { .. })) = parsed {
                // Only a long name with a large amount makes words longer than 130.
                prop_assert!(name.chars().count() > 40, "{}", name);
                return Ok(());
            }
            let d = parsed.unwrap();
            let AuthorizationDetail::Payment(p) = &d else { unreachable!() };
            prop_assert_eq!(p.amount_minor, want_minor);
            prop_assert_eq!(p.currency.as_str(), code);
            prop_assert_eq!(p.creditor_name.as_str(), name.as_str());
            for locale in [Locale::Da, Locale::En] {
                prop_assert!(d.text(locale).is_ok());
            }
            prop_assert_eq!(AuthorizationDetail::parse(&d.to_json().to_string()), Ok(d));
        }

        /// Anything but exactly one entry is refused as such.
        #[test]
        fn only_one_entry_is_accepted(n in 0usize..6, text in visible_text()) {
            prop_assume!(n != 1);
            let entry = json!({ "type": "sesam_transaction", "text": text });
            let list = Value::Array(vec![entry; n]);
            prop_assert_eq!(AuthorizationDetail::parse(&list.to_string()), Err(AuthorizationDetailsError::Count));
        }

        /// A hidden, reordering or line-breaking character anywhere in the text refuses it.
        #[test]
        fn texts_with_hidden_characters_are_refused(
            text in visible_text(),
            at in any::<prop::sample::Index>(),
            hidden in prop::sample::select(vec!['\u{202E}', '\u{200B}', '\u{2066}', '\n', '\u{2028}', '\u{0007}', '\u{FEFF}', '\u{E000}']),
        ) {
            let chars: Vec<char> = text.chars().collect();
            let i = at.index(chars.len() + 1);
            let bad: String = chars[..i].iter().chain(std::iter::once(&hidden)).chain(&chars[i..]).collect();
            let input = json!([{ "type": "sesam_transaction", "text": bad }]).to_string();
            prop_assert!(matches!(AuthorizationDetail::parse(&input), Err(AuthorizationDetailsError::Text(_))));
        }

        /// Amounts with more decimals than the currency has, or that are not plain positive
        /// decimals, are refused.
        #[test]
        fn malformed_amounts_are_refused(major in 0u64..1_000_000, extra in "[0-9]{3,5}") {
            let too_precise = AuthorizationDetail::parse(&pay(&format!("{major}.{extra}"), "DKK"));
            let precision_or_amount = matches!(
                too_precise,
                Err(AuthorizationDetailsError::AmountPrecision { .. } | AuthorizationDetailsError::Amount(_))
            );
            prop_assert!(precision_or_amount, "{:?}", too_precise);
            let negative = pay(&format!("-{major}"), "DKK");
            prop_assert!(AuthorizationDetail::parse(&negative).is_err());
            let exponent = pay(&format!("{major}e2"), "DKK");
            prop_assert!(AuthorizationDetail::parse(&exponent).is_err());
        }

        #[test]
        fn rendering_is_deterministic_and_round_trips(major in 1u64..1_000_000_000, minor in 0u64..100) {
            let amount = format!("{major}.{minor:02}");
            let d = AuthorizationDetail::parse(&pay(&amount, "DKK")).unwrap();
            let again = AuthorizationDetail::parse(&pay(&amount, "DKK")).unwrap();
            prop_assert_eq!(d.text(Locale::Da).unwrap(), again.text(Locale::Da).unwrap());
            let AuthorizationDetail::Payment(p) = &d else { unreachable!() };
            prop_assert_eq!(p.amount_decimal(), amount);
            // The Danish amount, with separators removed, is the number itself.
            let shown = p.amount_for(Locale::Da).replace(['.', ' '], "").replace("kr", "").replace(',', ".");
            prop_assert_eq!(shown.parse::<f64>().unwrap(), format!("{major}.{minor:02}").parse::<f64>().unwrap());
        }
    }
}
