//! What the person's app shows about them: the account overview, the inbox and the
//! activity (messages with their delivery, and the requests they answered).

use sesam_api as api;
use sesam_domain::device::Device;
use sesam_domain::notification::Channel;
use sesam_domain::{EmailAddress, PhoneNumber};
use uuid::Uuid;

use crate::context::Sesam;
use crate::error::AppError;

/// How many messages and requests the app's lists show.
const LIST_LIMIT: i64 = 200;

impl Sesam {
    /// The person the device belongs to, their apps (`device` marked as this one), code
    /// displays and chips; `None` when the identity no longer exists.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn account_overview(&self, device: &Device) -> Result<Option<api::Me>, AppError> {
        let Some(identity) = self.store.identity(device.identity_id).await? else {
            return Ok(None);
        };
        let devices = self.store.devices_of(identity.id).await?;
        let displays = self.store.code_displays_of(identity.id).await?;
        let chips = self.store.chips_of(identity.id).await?;
        Ok(Some(api::Me {
            user_id: identity.user_id.as_ref().map(|u| u.as_str().to_owned()),
            name: identity.name.as_str().to_owned(),
            state: identity.state.as_str().to_owned(),
            devices: devices
                .iter()
                .map(|d| api::DeviceView {
                    device_id: d.id,
                    name: d.name.as_str().to_owned(),
                    state: d.state.as_str().to_owned(),
                    created_at: d.created_at.to_rfc3339(),
                    this_device: d.id == device.id,
                })
                .collect(),
            code_displays: displays
                .iter()
                .map(|d| api::CodeDisplayView {
                    serial: d.serial.clone(),
                    kind: d.kind.as_str().to_owned(),
                    state: d.state.as_str().to_owned(),
                    activated_at: d.activated_at.map(|t| t.to_rfc3339()),
                })
                .collect(),
            chips: chips
                .iter()
                .map(|c| api::ChipView {
                    chip_id: c.id,
                    state: c.state.as_str().to_owned(),
                    created_at: c.created_at.to_rfc3339(),
                })
                .collect(),
        }))
    }

    /// The person's app inbox: every message sent to the app channel, newest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn inbox(&self, identity_id: Uuid) -> Result<api::Inbox, AppError> {
        let messages = self
            .store
            .recent_messages(Some(identity_id), LIST_LIMIT)
            .await?
            .into_iter()
            .filter(|m| m.channel == Channel::App)
            .map(|m| api::InboxMessage {
                message_id: m.message_id,
                event: m.event,
                text: m.body,
                at: m.created_at.to_rfc3339(),
            })
            .collect();
        Ok(api::Inbox { messages })
    }

    /// Every message sesam sent the person and how its delivery went (addresses masked),
    /// and every request they were asked to answer with its result, newest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn activity(&self, identity_id: Uuid) -> Result<api::Activity, AppError> {
        let messages = self
            .store
            .recent_messages(Some(identity_id), LIST_LIMIT)
            .await?
            .into_iter()
            .map(|m| {
                let to = match m.channel {
                    Channel::Sms => PhoneNumber::parse(&m.destination)
                        .map(|p| p.masked())
                        .unwrap_or_default(),
                    Channel::Email => EmailAddress::parse(&m.destination)
                        .map(|e| e.masked())
                        .unwrap_or_default(),
                    Channel::App => "app".into(),
                    Channel::Push => "app (web push)".into(),
                };
                api::ActivityMessage {
                    message_id: m.message_id,
                    event: m.event,
                    channel: m.channel.as_str().to_owned(),
                    to,
                    status: m.state,
                    attempts: m.attempts,
                    last_error: m.last_error,
                    at: m.created_at.to_rfc3339(),
                    sent_at: m.sent_at.map(|t| t.to_rfc3339()),
                }
            })
            .collect();
        let now = self.clock.now();
        let requests = self
            .store
            .auth_requests_of(identity_id, LIST_LIMIT)
            .await?
            .into_iter()
            .map(|r| api::RequestHistoryEntry {
                id: r.id,
                result: r.status(now).to_owned(),
                sp_name: r.sp_name,
                action: r.action.as_str().to_owned(),
                text: r.text.as_str().to_owned(),
                not_me: r.not_me,
                browser: r.binding_code.is_some(),
                at: r.created_at.to_rfc3339(),
                answered_at: r.decided_at.map(|t| t.to_rfc3339()),
            })
            .collect();
        Ok(api::Activity { messages, requests })
    }
}
