//! Enrolling people and managing their identity: look-up, suspension, reopening, user ID.

use serde_json::json;
use sesam_domain::identity::Enrolment;
use sesam_domain::notification::{Event, Recipient};
use sesam_domain::user_id::QUARANTINE_DAYS;
use sesam_domain::{
    ActivationCode, ActivationGrant, ActivationPurpose, AuditDraft, EmailAddress, Identity, Level,
    NationalId, PersonName, PhoneNumber, Timestamp, UserId, UserIdKey,
};
use sesam_store::{Effects, NewIdentity, UserIdChange, UserIdHistoryEntry};
use time::Date;
use time::macros::format_description;
use uuid::Uuid;

use super::Actor;
use crate::context::Sesam;
use crate::error::AppError;

/// An enrolment as the registration unit enters it, unvalidated.
#[derive(Debug, Clone, Default)]
pub struct EnrolRequest {
    pub national_id: String,
    pub name: String,
    pub birthdate: String,
    pub phone: String,
    pub email: Option<String>,
    pub user_id: Option<String>,
    pub ial: Option<String>,
    /// `da` (default) or `en`: the language of the person's messages.
    pub language: Option<String>,
}

/// A user ID changed: the identity as it is now, the ID it had, and until when that one
/// stays reserved for this person.
#[derive(Debug)]
pub struct UserIdChanged {
    pub identity: Identity,
    pub old_user_id: Option<UserId>,
    pub old_reserved_until: Timestamp,
}

/// The result of an enrolment: the activation code exists only here, once.
#[derive(Debug)]
pub struct Enrolled {
    pub identity: Identity,
    pub activation_code: ActivationCode,
    pub activation_code_expires_at: Timestamp,
}

/// What an operator sees of an identity.
#[derive(Debug)]
pub struct IdentityView {
    pub identity: Identity,
    pub user_id_history: Vec<UserIdHistoryEntry>,
    pub open_grants: Vec<ActivationGrant>,
    pub channels: Vec<sesam_domain::channels::ChannelChoice>,
}

fn parse_date(s: &str) -> Result<Date, AppError> {
    Date::parse(s.trim(), format_description!("[year]-[month]-[day]")).map_err(|_| {
        AppError::BadInput(format!(
            "birth date '{}' is not a real date in the form YYYY-MM-DD",
            s.chars().take(20).collect::<String>()
        ))
    })
}

/// One enrolment ready to be written.
pub(crate) struct PreparedEnrolment {
    pub identity: NewIdentity,
    pub grant: ActivationGrant,
    pub activation_code: ActivationCode,
    pub audit: AuditDraft,
}

impl EnrolRequest {
    pub(crate) fn validate(&self) -> Result<Enrolment, AppError> {
        let national_id =
            NationalId::parse(&self.national_id).map_err(sesam_domain::DomainError::from)?;
        let name = PersonName::parse(&self.name).map_err(sesam_domain::DomainError::from)?;
        let birthdate = parse_date(&self.birthdate)?;
        let phone = PhoneNumber::parse(&self.phone).map_err(sesam_domain::DomainError::from)?;
        let email = self
            .email
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()
            .map_err(sesam_domain::DomainError::from)?;
        let user_id = self
            .user_id
            .as_deref()
            .map(UserId::parse)
            .transpose()
            .map_err(sesam_domain::DomainError::from)?;
        let ial = match &self.ial {
            Some(l) => l
                .parse::<Level>()
                .map_err(sesam_domain::DomainError::from)?,
            None => Level::Substantial,
        };
        let language = match &self.language {
            Some(l) => sesam_domain::notification::Language::parse(l).ok_or_else(|| {
                AppError::BadInput(format!(
                    "language '{}' is not da or en",
                    l.chars().take(10).collect::<String>()
                ))
            })?,
            None => sesam_domain::notification::Language::Da,
        };
        let mut enrolment =
            Enrolment::new(national_id, name, birthdate, phone, email, user_id, ial)
                .map_err(sesam_domain::DomainError::from)?;
        enrolment.language = language;
        Ok(enrolment)
    }
}

impl Sesam {
    /// Enrols a person: identity in state `pending`, plus the first activation grant whose
    /// code goes on the paper letter. The letter is announced (without its code) on the
    /// phone and e-mail given at the counter, so a letter issued behind the person's back
    /// does not go unnoticed.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn enrol(&self, actor: &Actor, req: &EnrolRequest) -> Result<Enrolled, AppError> {
        let prepared = self.prepare_enrolment(actor, req.validate()?, None);
        let e = &prepared.identity.enrolment;
        let mut channels = vec![Recipient::Sms(e.phone.clone())];
        channels.extend(e.email.clone().map(Recipient::Email));
        channels.push(Recipient::App(prepared.identity.id));
        let effects = Effects {
            audit: vec![prepared.audit.clone()],
            messages: self.queue_to(
                &Event::ActivationCodeIssued {
                    at: prepared.identity.created_at,
                    first: true,
                },
                prepared.identity.id,
                e.language,
                &channels,
            ),
        };
        self.store
            .enrol(&prepared.identity, &prepared.grant, &effects)
            .await?;
        self.wake_outbox();
        let identity = self
            .store
            .identity(prepared.identity.id)
            .await?
            .ok_or(sesam_store::StoreError::NotFound("identity"))?;
        Ok(Enrolled {
            identity,
            activation_code: prepared.activation_code,
            activation_code_expires_at: prepared.grant.expires_at,
        })
    }

    /// Everything one enrolment writes, computed before anything is written: the sealed
    /// national ID and its blind index, the first activation grant and its audit entry.
    /// `import` says where a bulk-imported person came from (file and line).
    pub(crate) fn prepare_enrolment(
        &self,
        actor: &Actor,
        enrolment: Enrolment,
        import: Option<serde_json::Value>,
    ) -> PreparedEnrolment {
        let now = self.clock.now();
        let id = Uuid::now_v7();
        let code = ActivationCode::generate(&*self.random);
        let grant = ActivationGrant::issue(
            id,
            ActivationPurpose::FirstActivation,
            self.keys.activation_code_hash(code.normalized()),
            now,
        );
        let identity = NewIdentity {
            id,
            national_id_sealed: self.keys.seal_national_id(
                &enrolment.national_id,
                id,
                &*self.random,
            ),
            national_id_index: self.keys.national_id_index(&enrolment.national_id),
            enrolment,
            created_at: now,
        };
        let e = &identity.enrolment;
        let mut details = json!({
            "national_id": e.national_id.masked(),
            "ial": e.ial,
            "user_id": e.user_id.as_ref().map(UserId::as_str),
            "activation_grant": grant.id,
            "activation_code_expires_at": grant.expires_at.to_rfc3339(),
        });
        if let Some(import) = import {
            details["import"] = import;
        }
        let audit = AuditDraft::new(actor.audit_name(), "identity.enrolled")
            .subject(id.to_string())
            .details(details);
        PreparedEnrolment {
            identity,
            grant,
            activation_code: code,
            audit,
        }
    }

    async fn find(&self, user_id: &str) -> Result<Identity, AppError> {
        self.store
            .identity_by_user_id(&UserIdKey::of_input(user_id))
            .await?
            .ok_or_else(|| AppError::UnknownUserId(user_id.chars().take(48).collect()))
    }

    /// Looks a person up by the user ID they gave; the look-up itself is audited.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn show_identity(
        &self,
        actor: &Actor,
        user_id: &str,
    ) -> Result<IdentityView, AppError> {
        let identity = self.find(user_id).await?;
        let now = self.clock.now();
        let audit =
            AuditDraft::new(actor.audit_name(), "identity.viewed").subject(identity.id.to_string());
        self.store.append_audit(now, &audit).await?;
        let user_id_history = self.store.user_id_history(identity.id).await?;
        let open_grants = self
            .store
            .grants_of(identity.id)
            .await?
            .into_iter()
            .filter(|g| g.is_usable(now))
            .collect();
        let channels = self.store.channel_choices(identity.id).await?;
        Ok(IdentityView {
            identity,
            user_id_history,
            open_grants,
            channels,
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn suspend(
        &self,
        actor: &Actor,
        user_id: &str,
        reason: &str,
    ) -> Result<Identity, AppError> {
        let reason = super::reason(reason)?;
        let identity = self.find(user_id).await?;
        let to = identity
            .state
            .suspend()
            .map_err(sesam_domain::DomainError::from)?;
        let event = Event::IdentitySuspended {
            at: self.clock.now(),
        };
        self.change_state(actor, identity, to, "identity.suspended", reason, &event)
            .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn reopen(
        &self,
        actor: &Actor,
        user_id: &str,
        reason: &str,
    ) -> Result<Identity, AppError> {
        let reason = super::reason(reason)?;
        let identity = self.find(user_id).await?;
        let to = identity
            .state
            .reopen(identity.activated_at.is_some())
            .map_err(sesam_domain::DomainError::from)?;
        let event = Event::IdentityReopened {
            at: self.clock.now(),
        };
        self.change_state(actor, identity, to, "identity.reopened", reason, &event)
            .await
    }

    async fn change_state(
        &self,
        actor: &Actor,
        identity: Identity,
        to: sesam_domain::IdentityState,
        action: &str,
        reason: String,
        event: &Event,
    ) -> Result<Identity, AppError> {
        let now = self.clock.now();
        let audit = AuditDraft::new(actor.audit_name(), action)
            .subject(identity.id.to_string())
            .reason(Some(reason))
            .details(json!({ "from": identity.state, "to": to }));
        let effects = Effects {
            audit: vec![audit],
            messages: self.messages(event, &identity).await?,
        };
        self.store
            .set_state(identity.id, identity.state, to, now, &effects)
            .await?;
        self.wake_outbox();
        Ok(self
            .store
            .identity(identity.id)
            .await?
            .ok_or(sesam_store::StoreError::NotFound("identity"))?)
    }

    /// Changes a person's user ID (the operator, naming the person by their current one).
    /// The old one stays reserved for them for 365 days.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn change_user_id(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
        reason: Option<&str>,
    ) -> Result<Identity, AppError> {
        let identity = self.find(current).await?;
        Ok(self
            .change_user_id_of(actor, identity.id, new, reason)
            .await?
            .identity)
    }

    /// The person changes their own user ID from their app, with the PIN: a proof bound
    /// to the new ID exactly as sent (wrong PINs count toward the app's lockout; a locked
    /// app changes nothing). The rules are those of [`Sesam::change_user_id_of`].
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn change_own_user_id(
        &self,
        device_id: Uuid,
        new: &str,
        pin_proof: &str,
    ) -> Result<UserIdChanged, AppError> {
        let identity = self
            .identity_with_pin(
                device_id,
                pin_proof,
                &sesam_domain::app_protocol::user_id_change_binding(new, device_id),
            )
            .await?;
        self.change_user_id_of(&Actor::Device(device_id), identity.id, new, None)
            .await
    }

    /// Changes the user ID of the identity `identity_id` for whoever `actor` is (the
    /// operator, the person's app, a self-service site that has authenticated the person):
    /// the `UserId` rules, not the person's national ID or phone, not taken and not in
    /// someone else's 365-day quarantine; the old ID goes into quarantine for this
    /// person. Audited, and every channel of the person is told, in one transaction.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn change_user_id_of(
        &self,
        actor: &Actor,
        identity_id: Uuid,
        new: &str,
        reason: Option<&str>,
    ) -> Result<UserIdChanged, AppError> {
        let reason = reason.map(super::reason).transpose()?;
        let identity = self
            .store
            .identity(identity_id)
            .await?
            .ok_or(sesam_store::StoreError::NotFound("identity"))?;
        identity
            .state
            .ensure_changeable()
            .map_err(sesam_domain::DomainError::from)?;
        let new = UserId::parse(new).map_err(sesam_domain::DomainError::from)?;
        let sealed = self
            .store
            .national_id_sealed(identity.id)
            .await?
            .ok_or(sesam_store::StoreError::NotFound("identity"))?;
        let national_id = self
            .keys
            .open_national_id(&sealed, identity.id)
            .map_err(sesam_domain::DomainError::from)?;
        new.check_personal(&national_id, Some(&identity.phone))
            .map_err(sesam_domain::DomainError::from)?;
        let now = self.clock.now();
        let audit = AuditDraft::new(actor.audit_name(), "identity.user_id_changed")
            .subject(identity.id.to_string())
            .reason(reason)
            .details(json!({
                "from": identity.user_id.as_ref().map(UserId::as_str),
                "to": new.as_str(),
            }));
        let change = UserIdChange {
            identity_id: identity.id,
            new,
            at: now,
            reserved_until: now.plus_days(QUARANTINE_DAYS),
        };
        let effects = Effects {
            audit: vec![audit],
            messages: self
                .messages(&Event::UserIdChanged { at: now }, &identity)
                .await?,
        };
        let old_reserved_until = change.reserved_until;
        self.store.change_user_id(&change, &effects).await?;
        self.wake_outbox();
        Ok(UserIdChanged {
            identity: self
                .store
                .identity(identity.id)
                .await?
                .ok_or(sesam_store::StoreError::NotFound("identity"))?,
            old_user_id: identity.user_id,
            old_reserved_until,
        })
    }
}
