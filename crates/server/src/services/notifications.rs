//! Turning events into outbox messages for a person's channels.

use sesam_domain::Identity;
use sesam_domain::notification::{Event, Recipient, messages_for};
use sesam_store::QueuedMessage;
use uuid::Uuid;

use crate::context::Sesam;

impl Sesam {
    /// The person's channels in failover order: phone, e-mail, then the app inbox.
    pub fn channels_of(identity: &Identity) -> Vec<Recipient> {
        let mut c = vec![Recipient::Sms(identity.phone.clone())];
        if let Some(e) = &identity.email {
            c.push(Recipient::Email(e.clone()));
        }
        c.push(Recipient::App(identity.id));
        c
    }

    /// The messages `event` causes for `identity`, secret texts sealed.
    pub fn messages(&self, event: &Event, identity: &Identity) -> Vec<QueuedMessage> {
        let now = self.clock.now();
        messages_for(
            event,
            identity.id,
            &Self::channels_of(identity),
            identity.language,
            Uuid::now_v7(),
            now,
        )
        .into_iter()
        .map(|mut message| {
            let sealed_text = message.secret.then(|| {
                let sealed = self
                    .keys
                    .seal_data("outbox", message.text.as_bytes(), &*self.random);
                message.text = format!("[{}: one-time code, sealed until delivery]", message.event);
                sealed
            });
            QueuedMessage {
                message,
                sealed_text,
            }
        })
        .collect()
    }

    /// Tells the dispatcher that messages are waiting.
    pub fn wake_outbox(&self) {
        self.outbox_wake.notify_one();
    }
}
