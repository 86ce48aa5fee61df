//! Turning events into outbox messages for a person's channels.

use sesam_domain::Identity;
use sesam_domain::notification::{Event, Language, Recipient, messages_for};
use sesam_store::QueuedMessage;
use uuid::Uuid;

use crate::context::Sesam;

impl Sesam {
    /// The person's confirmed channels in their order, then the app inbox.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn channels_of(
        &self,
        identity: &Identity,
    ) -> Result<Vec<Recipient>, crate::error::AppError> {
        let mut c: Vec<Recipient> = self
            .store
            .channel_choices(identity.id)
            .await?
            .iter()
            .filter_map(|choice| choice.recipient())
            .collect();
        c.push(Recipient::App(identity.id));
        Ok(c)
    }

    /// The messages `event` causes for `identity`, secret texts sealed.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn messages(
        &self,
        event: &Event,
        identity: &Identity,
    ) -> Result<Vec<QueuedMessage>, crate::error::AppError> {
        let channels = self.channels_of(identity).await?;
        Ok(self.queue(event, identity, &channels))
    }

    /// The messages `event` causes on the given channels, secret texts sealed.
    pub fn queue(
        &self,
        event: &Event,
        identity: &Identity,
        channels: &[Recipient],
    ) -> Vec<QueuedMessage> {
        self.queue_to(event, identity.id, identity.language, channels)
    }

    /// [`Self::queue`] for an identity not written yet (at enrolment).
    pub fn queue_to(
        &self,
        event: &Event,
        identity_id: Uuid,
        language: Language,
        channels: &[Recipient],
    ) -> Vec<QueuedMessage> {
        let now = self.clock.now();
        messages_for(event, identity_id, channels, language, Uuid::now_v7(), now)
            .into_iter()
            .map(|mut message| {
                let sealed_text = message.secret.then(|| {
                    let sealed =
                        self.keys
                            .seal_data("outbox", message.text.as_bytes(), &*self.random);
                    message.text =
                        format!("[{}: one-time code, sealed until delivery]", message.event);
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
