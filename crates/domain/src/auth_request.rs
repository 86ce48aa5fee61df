//! An authentication or approval request waiting for the person's app: what the app shows
//! (the SP's registered name, the action, the exact text), the channel-binding code that
//! ties it to the browser that started it, its expiry, and the decision with the device's
//! signature over [`approval_signing_bytes`].
//!
//! The binding code is what stops "MFA fatigue": the app asks for the 4 digits the
//! person's own browser shows, and the server refuses an approval without them, so a
//! request started by someone else cannot be approved by reflex.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::action::Action;
use crate::clock::Timestamp;
use crate::locale::Locale;
use crate::random::Random;
use crate::transaction_text::{TransactionText, TransactionTextError};

/// Why the app's answer to a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error("the code does not match the one shown in the browser that asked")]
    BindingCode,
    #[error(
        "the code was wrong 3 times: this request is cancelled; start the login again in the browser"
    )]
    BindingCodeVoided,
    #[error("the approval signature does not verify for this request and device")]
    Signature,
}

impl ApprovalError {
    pub fn code(self) -> &'static str {
        match self {
            Self::BindingCode => "binding_code_wrong",
            Self::BindingCodeVoided => "request_voided",
            Self::Signature => "approval_signature_invalid",
        }
    }
}

/// A request waits 3 minutes for the app (DESIGN §4).
pub const REQUEST_SECONDS: i64 = 180;
/// At most this many requests wait for one person at once; a new one evicts the oldest.
pub const MAX_PENDING_PER_IDENTITY: i64 = 3;
/// At most this many requests are started for one person, from one address, per window.
pub const MAX_STARTED_PER_WINDOW: i64 = 10;
pub const START_WINDOW_SECONDS: i64 = 600;
/// At most this many requests (for anyone) from one address per window.
pub const MAX_STARTED_PER_SOURCE: i64 = 100;
/// After "this wasn't me", the browser that asked, and the address it asked from, may not
/// ask that person again for a day.
pub const NOT_ME_BLOCK_SECONDS: i64 = 24 * 3600;
/// Wrong binding codes before a request is cancelled: without a limit the 4 digits could
/// be tried one by one (10,000 tries) from a stolen, unlocked app.
pub const MAX_BINDING_FAILURES: i32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthRequestState {
    Pending,
    Approved,
    Rejected,
    /// Pushed out by newer requests (the per-person limit).
    Evicted,
}

impl AuthRequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Evicted => "evicted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "evicted" => Self::Evicted,
            _ => return None,
        })
    }
}

/// The person's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
        }
    }
}

/// The 4-digit channel-binding code, shown by the browser and typed into the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingCode(String);

impl BindingCode {
    pub fn generate(random: &dyn Random) -> Self {
        // Rejection sampling: uniform over 0000–9999.
        loop {
            let mut b = [0u8; 2];
            random.fill(&mut b);
            let n = u16::from_be_bytes(b);
            if n < 60_000 {
                return Self(format!("{:04}", n % 10_000));
            }
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        (s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit())).then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with what the app sent.
    pub fn matches(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| crate::secrets::ct_eq(p.trim().as_bytes(), self.0.as_bytes()))
    }
}

/// The text of a plain login, in the person's language.
pub fn login_text(sp_name: &str, locale: Locale) -> Result<TransactionText, TransactionTextError> {
    TransactionText::parse(&match locale {
        Locale::Da => format!("Log på hos {sp_name}"),
        Locale::En => format!("Log on to {sp_name}"),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub id: Uuid,
    /// `None` for an unknown user ID: the request is kept (and never approvable) so the
    /// browser sees the same as for a real person.
    pub identity_id: Option<Uuid>,
    pub client_id: String,
    /// The SP's registered display name at the time of the request.
    pub sp_name: String,
    pub action: Action,
    pub text: TransactionText,
    /// `None` for back-channel (CIBA) requests, which have no browser.
    pub binding_code: Option<BindingCode>,
    /// The browser login this request belongs to.
    pub flow_id: Option<Uuid>,
    /// A keyed hash of the address that started it (for the per-address limit).
    pub source_hash: [u8; 32],
    /// The browser that asked, for browser logins (after "this wasn't me" it is refused).
    pub browser_hash: Option<[u8; 32]>,
    pub state: AuthRequestState,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub device_id: Option<Uuid>,
    /// The device's signature over the approval bytes, kept as evidence.
    pub signature: Option<Vec<u8>>,
    /// Rejected with "this wasn't me".
    pub not_me: bool,
    /// Wrong binding codes given so far (the third cancels the request).
    pub binding_failures: i32,
    /// The exact bytes the device signed, kept for the receipt.
    pub signed_bytes: Option<Vec<u8>>,
    /// The RFC 9396 details the text was rendered from, if any.
    pub details: Option<crate::authorization_details::AuthorizationDetail>,
    /// Back-channel (CIBA) requests only.
    pub ciba: Option<CibaState>,
}

/// What a back-channel (CIBA) request keeps besides the request itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibaState {
    /// Keyed hash of the `auth_req_id` given to the client.
    pub handle_hash: [u8; 32],
    pub scope: Vec<String>,
    pub last_polled_at: Option<Timestamp>,
    pub redeemed_at: Option<Timestamp>,
}

/// The polling interval a CIBA client is given; polling faster gets `slow_down`.
pub const CIBA_INTERVAL_SECONDS: i64 = 5;

impl AuthRequest {
    /// Counts a wrong binding code at `now`; the third rejects the request. Returns the
    /// refusal to give the app.
    pub fn binding_code_wrong(&mut self, now: Timestamp) -> ApprovalError {
        self.binding_failures = self.binding_failures.saturating_add(1);
        if self.binding_failures >= MAX_BINDING_FAILURES {
            self.state = AuthRequestState::Rejected;
            self.decided_at = Some(now);
            ApprovalError::BindingCodeVoided
        } else {
            ApprovalError::BindingCode
        }
    }

    pub fn is_pending(&self, now: Timestamp) -> bool {
        self.state == AuthRequestState::Pending && now < self.expires_at
    }

    /// The state as the browser or SP sees it.
    pub fn status(&self, now: Timestamp) -> &'static str {
        match self.state {
            AuthRequestState::Pending if now >= self.expires_at => "expired",
            AuthRequestState::Evicted => "expired",
            s => s.as_str(),
        }
    }

    /// The bytes the device signs for `decision` at `timestamp_ms`. A rejection carries no
    /// binding code (the person need not type it to say no).
    pub fn signing_bytes(&self, decision: Decision, device_id: Uuid, timestamp_ms: i64) -> Vec<u8> {
        approval_signing_bytes(&ApprovalFields {
            request_id: self.id,
            client_id: &self.client_id,
            sp_name: &self.sp_name,
            action: self.action,
            text_sha256: self.text.sha256(),
            binding_code: match decision {
                Decision::Approve => self.binding_code.as_ref().map(BindingCode::as_str),
                Decision::Reject => None,
            },
            decision,
            device_id,
            timestamp_ms,
        })
    }
}

/// What an approval signature covers.
pub struct ApprovalFields<'a> {
    pub request_id: Uuid,
    pub client_id: &'a str,
    pub sp_name: &'a str,
    pub action: Action,
    pub text_sha256: [u8; 32],
    pub binding_code: Option<&'a str>,
    pub decision: Decision,
    pub device_id: Uuid,
    pub timestamp_ms: i64,
}

/// The canonical approval bytes (one field a line; the SP name is length-prefixed so no
/// name can imitate the lines after it):
///
/// ```text
/// sesam-approval/v1
/// {request id}
/// {client id}
/// {byte length of SP name}:{SP name}
/// {action}
/// {hex sha256(text)}
/// {binding code; "-" without a browser, and for a rejection}
/// {approve|reject}
/// {device id}
/// {timestamp ms}
/// ```
pub fn approval_signing_bytes(f: &ApprovalFields<'_>) -> Vec<u8> {
    format!(
        "sesam-approval/v1\n{}\n{}\n{}:{}\n{}\n{}\n{}\n{}\n{}\n{}",
        f.request_id.hyphenated(),
        f.client_id,
        f.sp_name.len(),
        f.sp_name,
        f.action.as_str(),
        hex::encode(f.text_sha256),
        f.binding_code.unwrap_or("-"),
        f.decision.as_str(),
        f.device_id.hyphenated(),
        f.timestamp_ms,
    )
    .into_bytes()
}

/// What the PIN proof of an approval is bound to.
pub fn approval_pin_binding(request_id: Uuid, device_id: Uuid) -> Vec<u8> {
    format!(
        "sesam-approval-pin/v1\n{}\n{}",
        request_id.hyphenated(),
        device_id.hyphenated()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::testing::SeqRandom;

    #[test]
    fn binding_codes_are_four_digits_compared_exactly() {
        let r = SeqRandom::new(1);
        for _ in 0..200 {
            let c = BindingCode::generate(&r);
            assert_eq!(c.as_str().len(), 4);
            assert!(c.matches(Some(c.as_str())));
            assert!(c.matches(Some(&format!(" {} ", c.as_str()))));
        }
        let c = BindingCode::parse("0042").unwrap();
        assert!(!c.matches(Some("0043")) && !c.matches(None) && !c.matches(Some("42")));
        assert!(BindingCode::parse("12a4").is_none() && BindingCode::parse("12345").is_none());
    }

    #[test]
    fn approval_bytes_are_canonical() {
        let f = ApprovalFields {
            request_id: Uuid::parse_str("01a23000-0000-7000-8000-000000000001").unwrap(),
            client_id: "sp_1",
            sp_name: "Demo Bank",
            action: Action::Approve,
            text_sha256: [0xab; 32],
            binding_code: Some("0042"),
            decision: Decision::Approve,
            device_id: Uuid::parse_str("01a23000-0000-7000-8000-000000000002").unwrap(),
            timestamp_ms: 1_800_000_000_000,
        };
        let bytes = String::from_utf8(approval_signing_bytes(&f)).unwrap();
        assert_eq!(
            bytes,
            format!(
                "sesam-approval/v1\n01a23000-0000-7000-8000-000000000001\nsp_1\n9:Demo Bank\nAPPROVE\n{}\n0042\napprove\n01a23000-0000-7000-8000-000000000002\n1800000000000",
                "ab".repeat(32)
            )
        );
        let rejected = approval_signing_bytes(&ApprovalFields {
            decision: Decision::Reject,
            ..f
        });
        assert_ne!(rejected, bytes.into_bytes());
    }

    #[test]
    fn login_texts() {
        assert_eq!(
            login_text("Skat", Locale::Da).unwrap().as_str(),
            "Log på hos Skat"
        );
        assert_eq!(
            login_text("Skat", Locale::En).unwrap().as_str(),
            "Log on to Skat"
        );
    }
}
