//! "Forgot your user ID?": a person types their national ID number on the login pages and
//! sesam sends the user ID to that identity's own channels. The page answers the same
//! whatever was typed (the sending happens after the answer, so neither its content nor
//! its timing tells whether the number belongs to anyone); these limits keep it from
//! becoming a way to flood a person's phone or to probe numbers at machine speed.

use crate::rate_limit::{RateWindow, WindowLimit};

/// The counting window of reminders.
pub const REMINDER_WINDOW_SECONDS: i64 = 24 * 3600;

/// Reminders per national ID number (typed, known or not) per window: enough for a person
/// who asks again, too few to flood their phone.
pub const REMINDERS_PER_PERSON: i64 = 3;

/// Reminders per asking address per window, whatever numbers were typed.
pub const REMINDERS_PER_SOURCE: i64 = 20;

pub fn window() -> RateWindow {
    RateWindow::seconds(REMINDER_WINDOW_SECONDS)
}

pub fn per_person() -> WindowLimit {
    WindowLimit::at_most(REMINDERS_PER_PERSON)
}

pub fn per_source() -> WindowLimit {
    WindowLimit::at_most(REMINDERS_PER_SOURCE)
}

/// What is typed, as a national ID number if it reads as one (10 digits, with or without
/// the dash after the birth date, spaces around ignored).
pub fn typed_national_id(input: &str) -> Option<crate::NationalId> {
    crate::NationalId::parse(input).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_is_read_with_or_without_its_dash() {
        assert!(typed_national_id("010190-1234").is_some());
        assert!(typed_national_id(" 0101901234 ").is_some());
        assert!(typed_national_id("01019012345").is_none());
        assert!(typed_national_id("anna").is_none());
        assert!(typed_national_id("").is_none());
    }

    #[test]
    fn limits() {
        assert!(per_person().admits(3) && !per_person().admits(4));
        assert!(per_source().admits(20) && !per_source().admits(21));
    }
}
