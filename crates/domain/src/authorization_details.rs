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

use crate::authorization::{Action, Locale};
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
            "payment_initiation" => Ok(Self::Payment(payment(o)?)),
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

    proptest! {
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
