//! The Danish national identification number (CPR number, `DDMMYYSSSS`).
//!
//! It identifies a person to the registry, never to a login form: it is not a user ID,
//! it is stored encrypted, and it is only ever displayed masked (`010190-****`).

use std::fmt;

use thiserror::Error;
use time::{Date, Month};

/// Why a string is not a national ID number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NationalIdError {
    #[error("a national ID number has 10 digits (DDMMYYSSSS or DDMMYY-SSSS), got {0}")]
    WrongLength(usize),
    #[error("a national ID number may contain only digits and one dash after the sixth digit")]
    NotDigits,
    #[error("the national ID number does not start with a real date (DDMMYY)")]
    ImpossibleDate,
}

/// A syntactically valid national ID number whose first six digits are a real date.
///
/// `Debug` and `Display` print the masked form, so the number cannot leak through logs
/// or error messages by accident; [`NationalId::expose_digits`] is the one way to the full value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NationalId([u8; 10]);

impl NationalId {
    /// Accepts `DDMMYYSSSS` or `DDMMYY-SSSS`, with surrounding white space.
    pub fn parse(input: &str) -> Result<Self, NationalIdError> {
        let s = input.trim();
        if s.chars().any(|c| !c.is_ascii_digit() && c != '-') {
            return Err(NationalIdError::NotDigits);
        }
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_digit).collect();
        if digits.len() != 10 {
            return Err(NationalIdError::WrongLength(digits.len()));
        }
        if (s.len() == 11 && s.as_bytes()[6] != b'-') || s.len() > 11 {
            return Err(NationalIdError::NotDigits);
        }
        let mut raw = [0u8; 10];
        raw.copy_from_slice(&digits);
        let id = Self(raw);
        id.birth_date().ok_or(NationalIdError::ImpossibleDate)?;
        Ok(id)
    }

    fn digit(&self, i: usize) -> u8 {
        self.0[i] - b'0'
    }

    fn pair(&self, i: usize) -> u8 {
        self.digit(i) * 10 + self.digit(i + 1)
    }

    /// The birth date the number encodes. The century follows from the seventh digit
    /// and the year, as the CPR office defines it.
    pub fn birth_date(&self) -> Option<Date> {
        let day = self.pair(0);
        let month = Month::try_from(self.pair(2)).ok()?;
        let yy = i32::from(self.pair(4));
        let century = match (self.digit(6), yy) {
            (0..=3, _) => 1900,
            (4 | 9, 0..=36) => 2000,
            (4 | 9, _) => 1900,
            (5..=8, 0..=57) => 2000,
            (5..=8, _) => 1800,
            _ => return None,
        };
        Date::from_calendar_date(century + yy, month, day).ok()
    }

    /// `DDMMYY-****`: what a person, an operator or a log may see.
    pub fn masked(&self) -> String {
        let head = std::str::from_utf8(&self.0[..6]).unwrap_or("??????");
        format!("{head}-****")
    }

    /// The ten digits, for encryption and the blind index only.
    pub fn expose_digits(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NationalId({})", self.masked())
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::date;

    use super::*;

    #[test]
    fn accepts_both_formats_and_masks() {
        for s in ["0101901234", "010190-1234", "  0101901234 "] {
            let id = NationalId::parse(s).unwrap();
            assert_eq!(id.expose_digits(), "0101901234");
            assert_eq!(id.masked(), "010190-****");
            assert_eq!(format!("{id:?}"), "NationalId(010190-****)");
            assert_eq!(id.to_string(), "010190-****");
        }
    }

    #[test]
    fn century_rules() {
        let cases = [
            ("0101901234", date!(1990 - 01 - 01)),
            ("0101054234", date!(2005 - 01 - 01)),
            ("0101504234", date!(1950 - 01 - 01)),
            ("0101575234", date!(2057 - 01 - 01)),
            ("0101585234", date!(1858 - 01 - 01)),
            ("0101369234", date!(2036 - 01 - 01)),
            ("0101379234", date!(1937 - 01 - 01)),
        ];
        for (s, d) in cases {
            assert_eq!(NationalId::parse(s).unwrap().birth_date(), Some(d), "{s}");
        }
    }

    #[test]
    fn rejects_malformed_and_impossible() {
        use NationalIdError::*;
        let cases: &[(&str, NationalIdError)] = &[
            ("", WrongLength(0)),
            ("123", WrongLength(3)),
            ("01019012345", WrongLength(11)),
            ("010190-123", WrongLength(9)),
            ("01019O1234", NotDigits),
            ("0101-901234", NotDigits),
            ("０１０１９０１２３４", NotDigits),
            ("3202901234", ImpossibleDate),
            ("0013901234", ImpossibleDate),
            ("0001901234", ImpossibleDate),
            ("2902011234", ImpossibleDate),
            ("010190--1234", NotDigits),
        ];
        for (s, e) in cases {
            assert_eq!(NationalId::parse(s).as_ref().err(), Some(e), "{s:?}");
        }
        // 29 Feb 2000 is real (2000 is a leap year), 29 Feb 1900 is not.
        assert!(NationalId::parse("2902004234").is_ok());
        assert!(NationalId::parse("2902005234").is_ok());
        assert!(NationalId::parse("2902001234").is_err());
    }

    proptest! {
        #[test]
        fn never_panics_and_masks_everything(s in "\\PC{0,16}") {
            if let Ok(id) = NationalId::parse(&s) {
                prop_assert_eq!(id.masked(), format!("{}-****", &id.expose_digits()[..6]));
            }
        }

        #[test]
        fn every_real_date_parses(days in 0i64..(199 * 365), serial in 0u16..1000) {
            let d = date!(1858 - 01 - 01) + time::Duration::days(days);
            let yy = d.year() % 100;
            let seventh = match d.year() {
                1858..=1899 => 5,
                1900..=1999 => 0,
                2000..=2036 => 4,
                _ => 5,
            };
            let s = format!("{:02}{:02}{:02}{}{:03}", d.day(), u8::from(d.month()), yy, seventh, serial);
            let id = NationalId::parse(&s).unwrap();
            prop_assert_eq!(id.birth_date(), Some(d));
        }
    }
}
