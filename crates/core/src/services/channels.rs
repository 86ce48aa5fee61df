//! The person's notification channels: list, add (confirmed with a code sent to the new
//! address), remove (the removed channel is told too), reorder, and the opt-in to a
//! message on every use. Every change needs the app PIN: a stolen phone whose screen is
//! unlocked must not be able to redirect the messages that would warn the person.

use serde_json::json;
use sesam_domain::app_protocol::{
    channel_add_binding, channel_confirm_binding, channel_every_use_binding, channel_order_binding,
    channel_remove_binding,
};
use sesam_domain::channels::{
    CONFIRMATION_SECONDS, ChannelChoice, ChannelError, MAX_CHANNELS, confirmation_code,
    recommendation,
};
use sesam_domain::notification::{Channel, Event, Recipient};
use sesam_domain::{AuditDraft, DomainError, EmailAddress, Identity, PhoneNumber};
use sesam_store::{Effects, StoreError};
use uuid::Uuid;

use crate::context::Sesam;
use crate::error::AppError;

fn refused(e: ChannelError) -> AppError {
    AppError::Invalid(DomainError::Channel(e))
}

/// A channel as the person sees it.
#[derive(Debug, Clone)]
pub struct ChannelView {
    pub channels: Vec<ChannelChoice>,
    pub notify_every_use: bool,
    pub recommendation: Option<&'static str>,
}

impl Sesam {
    async fn identity_of_device(&self, device_id: Uuid) -> Result<Identity, AppError> {
        let device = self
            .store
            .device(device_id)
            .await?
            .ok_or(StoreError::NotFound("device"))?;
        Ok(self
            .store
            .identity(device.identity_id)
            .await?
            .ok_or(StoreError::NotFound("identity"))?)
    }

    /// The identity of `device_id`, once the app PIN (a proof bound to `binding`) is
    /// right. Wrong PINs count toward the app's lockout; a locked app's PIN is not
    /// evaluated, so a locked app changes nothing.
    async fn identity_with_pin(
        &self,
        device_id: Uuid,
        pin_proof: &str,
        binding: &[u8],
    ) -> Result<Identity, AppError> {
        let device_unit = self
            .store
            .lock_device(device_id)
            .await?
            .ok_or_else(|| AppError::BadInput("this app is not active".into()))?;
        let identity = device_unit.identity().clone();
        let (device_unit, device) = self
            .check_device_pin(device_unit, pin_proof, binding)
            .await?;
        device_unit.save(&device, Effects::default()).await?;
        Ok(identity)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_channels(&self, device_id: Uuid) -> Result<ChannelView, AppError> {
        let identity = self.identity_of_device(device_id).await?;
        let channels = self.store.channel_choices(identity.id).await?;
        let confirmed = channels.iter().filter(|c| c.is_confirmed()).count();
        Ok(ChannelView {
            channels,
            notify_every_use: identity.notify_every_use,
            recommendation: recommendation(confirmed),
        })
    }

    /// Adds a phone number or e-mail address; a code is sent to it, and it receives
    /// nothing else until the code is confirmed. Needs the app PIN.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn add_channel(
        &self,
        device_id: Uuid,
        kind: &str,
        address: &str,
        pin_proof: &str,
    ) -> Result<ChannelChoice, AppError> {
        let identity = self
            .identity_with_pin(
                device_id,
                pin_proof,
                &channel_add_binding(kind, address, device_id),
            )
            .await?;
        self.add_channel_for(&identity, format!("device:{device_id}"), kind, address)
            .await
    }

    /// Adds a channel to `identity` for `actor` (who proved it is theirs to change).
    pub(crate) async fn add_channel_for(
        &self,
        identity: &Identity,
        actor: String,
        kind: &str,
        address: &str,
    ) -> Result<ChannelChoice, AppError> {
        let (kind, recipient) = match kind {
            "sms" => {
                let p = PhoneNumber::parse(address).map_err(DomainError::from)?;
                (Channel::Sms, Recipient::Sms(p))
            }
            "email" => {
                let e = EmailAddress::parse(address).map_err(DomainError::from)?;
                (Channel::Email, Recipient::Email(e))
            }
            other => {
                return Err(AppError::BadInput(format!(
                    "channel kind '{}' is not sms or email",
                    other.chars().take(10).collect::<String>()
                )));
            }
        };
        if self.store.channel_choices(identity.id).await?.len() >= MAX_CHANNELS {
            return Err(refused(ChannelError::TooMany));
        }
        let now = self.clock.now();
        let code = confirmation_code(&*self.random);
        let id = Uuid::now_v7();
        let choice = ChannelChoice {
            id,
            identity_id: identity.id,
            kind,
            address: recipient.address(),
            position: 0,
            confirmed_at: None,
            code_hash: Some(self.keys.channel_code_hash(id, &code)),
            code_expires_at: Some(now.plus_seconds(CONFIRMATION_SECONDS)),
            code_attempts: 0,
            created_at: now,
        };
        let effects = Effects {
            audit: vec![
                AuditDraft::new(actor, "channel.added_unconfirmed")
                    .subject(identity.id.to_string())
                    .details(json!({ "channel": id, "kind": kind.as_str() })),
            ],
            messages: self.queue(&Event::ChannelConfirmation { code }, identity, &[recipient]),
        };
        self.store
            .add_channel(&choice, effects)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => refused(ChannelError::Duplicate),
                other => other.into(),
            })?;
        self.wake_outbox();
        Ok(choice)
    }

    /// Confirms a new channel with the code sent to it; then every channel (the new one
    /// included) is told that it was added. Needs the app PIN (checked before the code).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn confirm_channel(
        &self,
        device_id: Uuid,
        channel_id: Uuid,
        code: &str,
        pin_proof: &str,
    ) -> Result<(), AppError> {
        let identity = self
            .identity_with_pin(
                device_id,
                pin_proof,
                &channel_confirm_binding(channel_id, device_id),
            )
            .await?;
        self.confirm_channel_for(&identity, format!("device:{device_id}"), channel_id, code)
            .await
    }

    /// Confirms one of `identity`'s new channels with its code, for `actor`.
    pub(crate) async fn confirm_channel_for(
        &self,
        identity: &Identity,
        actor: String,
        channel_id: Uuid,
        code: &str,
    ) -> Result<(), AppError> {
        let unit = self
            .store
            .lock_channel(channel_id)
            .await?
            .filter(|u| u.choice().identity_id == identity.id)
            .ok_or_else(|| refused(ChannelError::Unknown))?;
        let now = self.clock.now();
        let mut choice = unit.choice().clone();
        let result = choice.confirm(&self.keys.channel_code_hash(choice.id, code.trim()), now);
        let mut effects = Effects::default();
        if result.is_ok() {
            let mut recipients = self.channels_of(identity).await?;
            if let Some(new) = choice.recipient() {
                recipients.insert(recipients.len().saturating_sub(1), new);
            }
            effects.audit.push(
                AuditDraft::new(actor, "channel.added")
                    .subject(identity.id.to_string())
                    .details(json!({ "channel": choice.id, "kind": choice.kind.as_str() })),
            );
            effects.messages = self.queue(
                &Event::ChannelAdded {
                    address: masked(&choice),
                    at: now,
                },
                identity,
                &recipients,
            );
        }
        if choice != *unit.choice() {
            unit.save(&choice, now, effects).await?;
            self.wake_outbox();
        }
        result.map_err(refused)
    }

    /// Removes a channel, with the app PIN; refused for the last confirmed channel.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn remove_channel(
        &self,
        device_id: Uuid,
        channel_id: Uuid,
        pin_proof: &str,
    ) -> Result<(), AppError> {
        let identity = self
            .identity_with_pin(
                device_id,
                pin_proof,
                &channel_remove_binding(channel_id, device_id),
            )
            .await?;
        self.remove_channel_of(&identity, channel_id, format!("device:{device_id}"), None)
            .await
    }

    /// Removes one of the identity's channels: refused for the last confirmed one; every
    /// confirmed channel, the removed one included, is told.
    pub(crate) async fn remove_channel_of(
        &self,
        identity: &Identity,
        channel_id: Uuid,
        actor: String,
        reason: Option<String>,
    ) -> Result<(), AppError> {
        let recipients = self.channels_of(identity).await?;
        let mut unit = self
            .store
            .lock_channel(channel_id)
            .await?
            .filter(|u| u.choice().identity_id == identity.id)
            .ok_or_else(|| refused(ChannelError::Unknown))?;
        let choice = unit.choice().clone();
        if choice.is_confirmed() && !unit.others().await?.iter().any(ChannelChoice::is_confirmed) {
            return Err(refused(ChannelError::LastChannel));
        }
        let now = self.clock.now();
        let effects = Effects {
            audit: vec![
                AuditDraft::new(actor, "channel.removed")
                    .subject(identity.id.to_string())
                    .reason(reason)
                    .details(json!({ "channel": choice.id, "kind": choice.kind.as_str() })),
            ],
            messages: if choice.is_confirmed() {
                self.queue(
                    &Event::ChannelRemoved {
                        address: masked(&choice),
                        at: now,
                    },
                    identity,
                    &recipients,
                )
            } else {
                vec![]
            },
        };
        unit.remove(now, effects).await?;
        self.wake_outbox();
        Ok(())
    }

    /// Puts the channels in a new order (the order messages fail over along), with the
    /// app PIN.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn reorder_channels(
        &self,
        device_id: Uuid,
        order: &[Uuid],
        pin_proof: &str,
    ) -> Result<(), AppError> {
        let identity = self
            .identity_with_pin(
                device_id,
                pin_proof,
                &channel_order_binding(order, device_id),
            )
            .await?;
        self.reorder_channels_for(&identity, format!("device:{device_id}"), order)
            .await
    }

    /// Puts `identity`'s channels in a new order, for `actor`.
    pub(crate) async fn reorder_channels_for(
        &self,
        identity: &Identity,
        actor: String,
        order: &[Uuid],
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let effects = Effects {
            audit: vec![
                AuditDraft::new(actor, "channel.reordered")
                    .subject(identity.id.to_string())
                    .details(json!({ "order": order })),
            ],
            messages: vec![],
        };
        self.store
            .reorder_channels(identity.id, order, now, effects)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => refused(ChannelError::BadOrder),
                other => other.into(),
            })
    }

    /// Opts in or out of a message on every use of the identity, with the app PIN (a thief
    /// must not be able to silence the messages about their own uses).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn set_notify_every_use(
        &self,
        device_id: Uuid,
        enabled: bool,
        pin_proof: &str,
    ) -> Result<(), AppError> {
        let identity = self
            .identity_with_pin(
                device_id,
                pin_proof,
                &channel_every_use_binding(enabled, device_id),
            )
            .await?;
        self.set_notify_every_use_for(&identity, format!("device:{device_id}"), enabled)
            .await
    }

    /// Opts `identity` in or out of a message on every use, for `actor`.
    pub(crate) async fn set_notify_every_use_for(
        &self,
        identity: &Identity,
        actor: String,
        enabled: bool,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let effects = Effects {
            audit: vec![
                AuditDraft::new(actor, "channel.every_use")
                    .subject(identity.id.to_string())
                    .details(json!({ "enabled": enabled })),
            ],
            messages: vec![],
        };
        Ok(self
            .store
            .set_notify_every_use(identity.id, enabled, now, effects)
            .await?)
    }
}

/// How a channel is named in messages: masked, so a message never spells out an address.
fn masked(c: &ChannelChoice) -> String {
    match c.kind {
        Channel::Sms => PhoneNumber::parse(&c.address)
            .map(|p| p.masked())
            .unwrap_or_default(),
        Channel::Email => EmailAddress::parse(&c.address)
            .map(|e| e.masked())
            .unwrap_or_default(),
        Channel::App => "app".into(),
        Channel::Push => "app (web push)".into(),
    }
}

impl Sesam {
    /// The operator adds a channel the person gave at the counter (confirmed there, in
    /// person); every channel, the new one included, is told.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn operator_add_channel(
        &self,
        actor: &super::Actor,
        user_id: &str,
        kind: &str,
        address: &str,
        reason: &str,
    ) -> Result<ChannelChoice, AppError> {
        let reason = super::reason(reason)?;
        let identity = self.identity_by_given_user_id(user_id).await?;
        let recipient = match kind {
            "sms" => Recipient::Sms(PhoneNumber::parse(address).map_err(DomainError::from)?),
            _ => Recipient::Email(EmailAddress::parse(address).map_err(DomainError::from)?),
        };
        if self.store.channel_choices(identity.id).await?.len() >= MAX_CHANNELS {
            return Err(refused(ChannelError::TooMany));
        }
        let now = self.clock.now();
        let choice = ChannelChoice {
            id: Uuid::now_v7(),
            identity_id: identity.id,
            kind: recipient.channel(),
            address: recipient.address(),
            position: 0,
            confirmed_at: Some(now),
            code_hash: None,
            code_expires_at: None,
            code_attempts: 0,
            created_at: now,
        };
        let mut recipients = self.channels_of(&identity).await?;
        recipients.insert(recipients.len().saturating_sub(1), recipient);
        let effects = Effects {
            audit: vec![
                AuditDraft::new(actor.audit_name(), "channel.added")
                    .subject(identity.id.to_string())
                    .reason(Some(reason))
                    .details(json!({ "channel": choice.id, "kind": choice.kind.as_str() })),
            ],
            messages: self.queue(
                &Event::ChannelAdded {
                    address: masked(&choice),
                    at: now,
                },
                &identity,
                &recipients,
            ),
        };
        self.store
            .add_channel(&choice, effects)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => refused(ChannelError::Duplicate),
                other => other.into(),
            })?;
        self.wake_outbox();
        Ok(choice)
    }

    /// The operator removes a channel at the person's request; it is told too.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn operator_remove_channel(
        &self,
        actor: &super::Actor,
        user_id: &str,
        channel_id: Uuid,
        reason: &str,
    ) -> Result<(), AppError> {
        let reason = super::reason(reason)?;
        let identity = self.identity_by_given_user_id(user_id).await?;
        self.remove_channel_of(&identity, channel_id, actor.audit_name(), Some(reason))
            .await
    }

    async fn identity_by_given_user_id(&self, user_id: &str) -> Result<Identity, AppError> {
        self.store
            .identity_by_user_id(&sesam_domain::UserIdKey::of_input(user_id))
            .await?
            .ok_or_else(|| AppError::UnknownUserId(user_id.chars().take(48).collect()))
    }
}
