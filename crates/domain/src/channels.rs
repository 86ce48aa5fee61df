//! The person's notification channels: phone numbers and e-mail addresses in the order
//! messages fail over along, each confirmed with a code sent to it before it is used.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::notification::{Channel, Recipient};
use crate::random::{Random, uniform_below};

/// How long a confirmation code is valid.
pub const CONFIRMATION_SECONDS: i64 = 15 * 60;
/// Wrong entries that cancel a confirmation.
pub const MAX_CONFIRMATION_ATTEMPTS: i32 = 3;
/// At most this many channels per person.
pub const MAX_CHANNELS: usize = 6;

/// One channel of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelChoice {
    pub id: Uuid,
    pub identity_id: Uuid,
    pub kind: Channel,
    pub address: String,
    pub position: i32,
    pub confirmed_at: Option<Timestamp>,
    pub code_hash: Option<[u8; 32]>,
    pub code_expires_at: Option<Timestamp>,
    pub code_attempts: i32,
    pub created_at: Timestamp,
}

/// Why a channel change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("this channel is already registered")]
    Duplicate,
    #[error("at most {MAX_CHANNELS} channels can be registered")]
    TooMany,
    #[error("the last confirmed channel cannot be removed: add and confirm another first")]
    LastChannel,
    #[error("no such channel")]
    Unknown,
    #[error("the confirmation code is wrong; {remaining} attempts left")]
    WrongCode { remaining: i32 },
    #[error(
        "the confirmation code has expired or was entered wrongly too often; add the channel again"
    )]
    CodeGone,
    #[error("this channel is already confirmed")]
    AlreadyConfirmed,
    #[error("the new order must list each of your channels exactly once")]
    BadOrder,
}

impl ChannelError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Duplicate => "channel_duplicate",
            Self::TooMany => "channel_limit",
            Self::LastChannel => "channel_last",
            Self::Unknown => "channel_unknown",
            Self::WrongCode { .. } => "channel_code_wrong",
            Self::CodeGone => "channel_code_expired",
            Self::AlreadyConfirmed => "channel_confirmed",
            Self::BadOrder => "channel_order",
        }
    }
}

impl ChannelChoice {
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }

    /// The recipient messages go to, for a confirmed channel.
    pub fn recipient(&self) -> Option<Recipient> {
        if !self.is_confirmed() {
            return None;
        }
        match self.kind {
            Channel::Sms => crate::contact::PhoneNumber::parse(&self.address)
                .ok()
                .map(Recipient::Sms),
            Channel::Email => crate::contact::EmailAddress::parse(&self.address)
                .ok()
                .map(Recipient::Email),
            Channel::App | Channel::Push => None,
        }
    }

    /// Checks a confirmation code (as its keyed hash); three wrong entries cancel it.
    pub fn confirm(&mut self, candidate: &[u8; 32], now: Timestamp) -> Result<(), ChannelError> {
        if self.is_confirmed() {
            return Err(ChannelError::AlreadyConfirmed);
        }
        let (Some(hash), Some(expires)) = (self.code_hash, self.code_expires_at) else {
            return Err(ChannelError::CodeGone);
        };
        if now >= expires || self.code_attempts >= MAX_CONFIRMATION_ATTEMPTS {
            return Err(ChannelError::CodeGone);
        }
        if crate::secrets::ct_eq(&hash, candidate) {
            self.confirmed_at = Some(now);
            self.code_hash = None;
            self.code_expires_at = None;
            return Ok(());
        }
        self.code_attempts += 1;
        if self.code_attempts >= MAX_CONFIRMATION_ATTEMPTS {
            return Err(ChannelError::CodeGone);
        }
        Err(ChannelError::WrongCode {
            remaining: MAX_CONFIRMATION_ATTEMPTS - self.code_attempts,
        })
    }
}

/// A 6-digit confirmation code.
pub fn confirmation_code(random: &dyn Random) -> String {
    (0..6)
        .map(|_| char::from(b'0' + uniform_below(random, 10) as u8))
        .collect()
}

/// What sesam recommends when the person has one confirmed channel only (MitID's advice).
pub fn recommendation(confirmed: usize) -> Option<&'static str> {
    (confirmed < 2).then_some(
        "sesam recommends two notification channels, so that you are told even if one fails: add a phone number or e-mail address",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice() -> ChannelChoice {
        ChannelChoice {
            id: Uuid::nil(),
            identity_id: Uuid::nil(),
            kind: Channel::Email,
            address: "anna@example.dk".into(),
            position: 1,
            confirmed_at: None,
            code_hash: Some([1; 32]),
            code_expires_at: Some(Timestamp::from_millis(10_000)),
            code_attempts: 0,
            created_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn confirmation_takes_the_right_code_in_time() {
        let t = Timestamp::from_millis(5_000);
        let mut c = choice();
        assert_eq!(c.recipient(), None, "unconfirmed channels receive nothing");
        assert_eq!(
            c.confirm(&[2; 32], t),
            Err(ChannelError::WrongCode { remaining: 2 })
        );
        c.confirm(&[1; 32], t).unwrap();
        assert!(c.recipient().is_some());
        assert_eq!(c.confirm(&[1; 32], t), Err(ChannelError::AlreadyConfirmed));

        let mut c = choice();
        assert_eq!(
            c.confirm(&[1; 32], Timestamp::from_millis(10_000)),
            Err(ChannelError::CodeGone)
        );
        let mut c = choice();
        for _ in 0..2 {
            let _ = c.confirm(&[2; 32], t);
        }
        assert_eq!(c.confirm(&[2; 32], t), Err(ChannelError::CodeGone));
        assert_eq!(c.confirm(&[1; 32], t), Err(ChannelError::CodeGone));
    }

    #[test]
    fn one_channel_gets_the_recommendation() {
        assert!(recommendation(1).is_some());
        assert!(recommendation(2).is_none());
    }
}
