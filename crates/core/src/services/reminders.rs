//! "Forgot your user ID?": the user ID sent to the person's own channels after they type
//! their national ID number on the login pages.
//!
//! The answer must not tell whether the number belongs to anyone, neither by what it
//! says nor by when it comes. So the page's request only hands the work to a task of its
//! own ([`Sesam::remind_user_id`]) and answers at once, the same for every input; the
//! task then does the same work whatever was typed (a keyed index, a read, one counted
//! unit with an audit entry) and adds the messages only for a known person.

use serde_json::json;
use sesam_domain::notification::Event;
use sesam_domain::{AuditDraft, IdentityState, user_id_reminder};
use sesam_store::Effects;

use crate::context::Sesam;
use crate::error::AppError;

impl Sesam {
    /// Queues a reminder for what was typed and returns at once (the page answers the
    /// same whatever happens next). `source` is the asking address.
    pub fn remind_user_id(&self, typed: &str, source: &str) {
        let sesam = self.clone();
        let typed = typed.chars().take(64).collect::<String>();
        let source = source.to_owned();
        tokio::spawn(async move {
            match sesam.send_user_id_reminder(&typed, &source).await {
                Ok(outcome) => {
                    metrics::counter!("sesam_user_id_reminders_total", "outcome" => outcome)
                        .increment(1);
                }
                Err(e) => tracing::warn!(error = %e, "a user-ID reminder could not be handled"),
            }
        });
    }

    /// The reminder's work: `sent`, `unknown` (no one with a user ID has that number) or
    /// `limited` (too many for that number or from that address in 24 hours; nothing is
    /// sent). Every outcome is audited; the number itself is never written anywhere.
    pub async fn send_user_id_reminder(
        &self,
        typed: &str,
        source: &str,
    ) -> Result<&'static str, AppError> {
        let now = self.clock.now();
        // The key the number is counted under: its blind index if it reads as a national
        // ID number, else a keyed hash of the text (typed garbage is counted too).
        let number = user_id_reminder::typed_national_id(typed);
        let index = match &number {
            Some(n) => self.keys.national_id_index(n),
            None => self
                .keys
                .flow_token_hash("reminder-typed", &[typed.as_bytes()]),
        };
        let identity = match number {
            Some(_) => self.store.identity_by_national_id(&index).await?,
            None => None,
        }
        .filter(|i| i.state != IdentityState::Revoked);
        let user_id = identity.as_ref().and_then(|i| i.user_id.clone());
        let source_hash = self.keys.flow_token_hash("source", &[source.as_bytes()]);
        let person_key = [b"r:p:".as_slice(), &index[..]].concat();
        let source_key = [b"r:s:".as_slice(), &source_hash[..]].concat();
        let counted = [
            (&person_key[..], user_id_reminder::per_person()),
            (&source_key[..], user_id_reminder::per_source()),
        ];
        let window = user_id_reminder::window().start(now);
        let (outcome, messages) = match (&identity, &user_id) {
            (Some(identity), Some(user_id)) => (
                "sent",
                self.messages(
                    &Event::UserIdReminder {
                        user_id: user_id.as_str().to_owned(),
                        at: now,
                    },
                    identity,
                )
                .await?,
            ),
            _ => ("unknown", vec![]),
        };
        let mut audit = AuditDraft::new("browser", "identity.user_id_reminder").details(json!({
            "outcome": outcome,
            "channels": messages.len(),
        }));
        if let Some(i) = &identity {
            audit = audit.subject(i.id.to_string());
        }
        let effects = Effects {
            audit: vec![audit],
            messages,
        };
        if self
            .store
            .remind_user_id(counted, window, now, &effects)
            .await?
        {
            self.wake_outbox();
            return Ok(outcome);
        }
        let mut refused = AuditDraft::new("browser", "identity.user_id_reminder")
            .details(json!({ "outcome": "limited" }));
        if let Some(i) = &identity {
            refused = refused.subject(i.id.to_string());
        }
        self.store.append_audit(now, &refused).await?;
        Ok("limited")
    }
}
