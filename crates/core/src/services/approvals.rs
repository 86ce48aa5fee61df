//! Logging in with the app: the browser's request with its channel-binding code, the
//! app's signed answer (PIN proof, binding code, device signature over the exact text),
//! and the waiting page's question "answered yet?".

use serde_json::json;
use sesam_domain::app_protocol::{MAX_CLOCK_SKEW_MS, unb64};
use sesam_domain::auth_request::{
    self, ApprovalError, AuthRequest, AuthRequestState, BindingCode, Decision, REQUEST_SECONDS,
};
use sesam_domain::authorization::{Locale, LoginMethod};
use sesam_domain::notification::Event;
use sesam_domain::{AuditDraft, DomainError, IdentityState};
use sesam_store::{AuthAnswer, Effects, StartOutcome, StoreError};
use uuid::Uuid;

use super::login::{LoginDone, LoginError, LoginView, Refusal};
use crate::context::Sesam;
use crate::error::AppError;

/// Where a browser's app login stands. The pages of an unfinished login get the login's
/// view with it, so the waiting page reads the flow once.
#[derive(Debug)]
pub enum AppLoginStatus {
    Waiting {
        view: LoginView,
        binding_code: BindingCode,
        /// When the request expires, and the server's now (for the page's countdown).
        expires_at: sesam_domain::Timestamp,
        now: sesam_domain::Timestamp,
    },
    Done(LoginDone),
    Rejected(LoginView),
    Expired(LoginView),
}

/// What the waiting page's script is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppLoginProgress {
    Waiting {
        seconds_left: i64,
    },
    /// Approved or rejected in the app: the page shows which.
    Answered,
    Expired,
}

impl AppLoginProgress {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting { .. } => "waiting",
            Self::Answered => "answered",
            Self::Expired => "expired",
        }
    }
}

fn refused(why: &str) -> AppError {
    AppError::BadInput(why.into())
}

impl Sesam {
    /// The browser chose the app: a request for the person's apps, bound to this browser by
    /// a new 4-digit code. For an unknown user ID the request is stored all the same (it
    /// can never be approved), so the page cannot tell. `locale` picks the text's language
    /// from the language the SP asked for (the page's own choice may override it).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn start_app_login(
        &self,
        flow_id: Uuid,
        browser: &str,
        source: &str,
        locale: impl FnOnce(Option<Locale>) -> Locale,
    ) -> Result<Uuid, LoginError> {
        let view = self.login_view(flow_id, browser).await?;
        let flow = view.flow;
        let locale = locale(flow.request.ui_locale);
        Sesam::flow_for_method(&flow, LoginMethod::App)?;
        let now = self.clock.now();
        let text = match &flow.request.details {
            Some(d) => d.text(locale),
            None => auth_request::login_text(&view.sp_name, locale),
        }
        .map_err(|e| LoginError::Failed(AppError::BadInput(e.to_string())))?;
        let subject = match flow.identity_id {
            Some(id) => id.to_string(),
            None => format!(
                "unknown:{}",
                hex_string(
                    &self.keys.flow_token_hash(
                        "unknown-user",
                        &[flow
                            .user_id_input
                            .as_deref()
                            .unwrap_or_default()
                            .to_lowercase()
                            .as_bytes()]
                    )
                )
            ),
        };
        let request = AuthRequest {
            id: Uuid::now_v7(),
            identity_id: flow.identity_id,
            client_id: flow.request.client_id.clone(),
            sp_name: view.sp_name.clone(),
            action: flow.request.action,
            text,
            binding_code: Some(BindingCode::generate(&*self.random)),
            flow_id: Some(flow.id),
            source_hash: self.keys.flow_token_hash("source", &[source.as_bytes()]),
            browser_hash: Some(flow.browser_hash),
            state: AuthRequestState::Pending,
            created_at: now,
            expires_at: now.plus_seconds(REQUEST_SECONDS),
            decided_at: None,
            device_id: None,
            signature: None,
            not_me: false,
            binding_failures: 0,
            signed_bytes: None,
            details: flow.request.details.clone(),
            ciba: None,
        };
        let limits = self.request_limits.start_limits(now);
        let pushes = self.push_messages(request.identity_id).await?;
        let woken = !pushes.is_empty();
        let audit = AuditDraft::new("browser", "approval.requested")
            .subject(subject.clone())
            .details(json!({ "request": request.id, "client_id": request.client_id, "action": request.action.as_str() }));
        match self
            .store
            .start_auth_request(
                &request,
                &subject,
                limits,
                Effects {
                    audit: vec![audit],
                    messages: pushes,
                },
            )
            .await?
        {
            StartOutcome::Started { .. } => {
                self.signal_pending(request.identity_id);
                if woken {
                    self.wake_outbox();
                }
                Ok(request.id)
            }
            StartOutcome::TooMany => Err(LoginError::Refused(Refusal::TooManyRequests)),
            StartOutcome::BrowserReported => Err(LoginError::Refused(Refusal::BrowserReported)),
        }
    }

    /// The waiting page's question. Once approved, the login completes (once).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn app_login_status(
        &self,
        flow_id: Uuid,
        browser: &str,
        request_id: Uuid,
    ) -> Result<AppLoginStatus, LoginError> {
        let view = self.login_view(flow_id, browser).await?;
        let request = self
            .store
            .auth_request(request_id)
            .await?
            .filter(|r| r.flow_id == Some(flow_id))
            .ok_or(LoginError::Gone)?;
        let now = self.clock.now();
        match request.status(now) {
            "pending" => Ok(AppLoginStatus::Waiting {
                binding_code: request.binding_code.clone().ok_or(LoginError::Gone)?,
                view,
                expires_at: request.expires_at,
                now,
            }),
            "approved" => Ok(AppLoginStatus::Done(
                self.finish_login(view.flow, LoginMethod::App, Some(&request))
                    .await?,
            )),
            "rejected" => Ok(AppLoginStatus::Rejected(view)),
            _ => Ok(AppLoginStatus::Expired(view)),
        }
    }

    /// The waiting page's script asks: still waiting (and how many seconds are left), or
    /// not. It never finishes the login; the page it then opens does, once
    /// ([`Self::app_login_status`]). The same checks as the page: this browser's flow,
    /// and a request of that flow.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn app_login_progress(
        &self,
        flow_id: Uuid,
        browser: &str,
        request_id: Uuid,
    ) -> Result<AppLoginProgress, LoginError> {
        self.login_view(flow_id, browser).await?;
        let request = self
            .store
            .auth_request(request_id)
            .await?
            .filter(|r| r.flow_id == Some(flow_id))
            .ok_or(LoginError::Gone)?;
        let now = self.clock.now();
        Ok(match request.status(now) {
            "pending" => AppLoginProgress::Waiting {
                seconds_left: (request.expires_at.millis() - now.millis()).max(0) / 1000,
            },
            "approved" | "rejected" => AppLoginProgress::Answered,
            _ => AppLoginProgress::Expired,
        })
    }

    /// The person's pending requests, for their app.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn pending_requests(&self, identity_id: Uuid) -> Result<Vec<AuthRequest>, AppError> {
        Ok(self
            .store
            .pending_auth_requests(identity_id, self.clock.now())
            .await?)
    }

    /// The app approves: PIN (bound to this request and device), the binding code the
    /// browser shows, and the device's signature over the approval bytes.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn approve_request(
        &self,
        device_id: Uuid,
        request_id: Uuid,
        answer: &SignedAnswer,
    ) -> Result<AuthRequest, AppError> {
        self.answer_request(
            device_id,
            request_id,
            Decision::Approve,
            Answer::Read(answer),
        )
        .await?
        .ok_or_else(|| StoreError::NotFound("approval request").into())
    }

    /// The app declines (no PIN needed to say no); `not_me` reports it as not started by
    /// the person: every channel is told.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn reject_request(
        &self,
        device_id: Uuid,
        request_id: Uuid,
        answer: &SignedAnswer,
    ) -> Result<AuthRequest, AppError> {
        self.answer_request(
            device_id,
            request_id,
            Decision::Reject,
            Answer::Read(answer),
        )
        .await?
        .ok_or_else(|| StoreError::NotFound("approval request").into())
    }

    /// The app's answer to request `id` when it is a login or approval; `None` when no
    /// such request exists (it may name a pairing), found without a read of its own.
    pub(crate) async fn answer_if_login_request(
        &self,
        device_id: Uuid,
        request_id: Uuid,
        decision: Decision,
        body: &[u8],
    ) -> Result<Option<AuthRequest>, AppError> {
        self.answer_request(device_id, request_id, decision, Answer::Body(body))
            .await
    }

    async fn answer_request(
        &self,
        device_id: Uuid,
        request_id: Uuid,
        decision: Decision,
        answer: Answer<'_>,
    ) -> Result<Option<AuthRequest>, AppError> {
        let mut unit = self
            .store
            .lock_device(device_id)
            .await?
            .ok_or_else(|| refused("this app is not active"))?;
        // Read inside the unit (locked): wrong codes are counted one at a time.
        let Some(mut request) = unit.lock_auth_request(request_id).await? else {
            return Ok(None);
        };
        let identity = unit.identity().clone();
        if identity.state != IdentityState::Active {
            return Err(AppError::Invalid(
                sesam_domain::activation::ActivationError::IdentityBlocked.into(),
            ));
        }
        let answer = answer.read()?;
        let answer = answer.as_ref();
        let now = self.clock.now();
        if !request.is_pending(now) {
            return Err(refused("this request has expired or was already answered"));
        }
        if answer.timestamp_ms.abs_diff(now.millis()) > MAX_CLOCK_SKEW_MS.unsigned_abs() {
            return Err(refused(
                "the approval's timestamp is too far from the server's clock",
            ));
        }
        let (unit, mut device) = if decision == Decision::Approve {
            if let Some(code) = &request.binding_code
                && !code.matches(answer.binding_code.as_deref())
            {
                let refusal = request.binding_code_wrong(now);
                let mut device = unit.device().clone();
                device.record_use(now);
                let mut audit = vec![
                    AuditDraft::new(format!("device:{device_id}"), "approval.binding_code_wrong")
                        .subject(identity.id.to_string())
                        .details(
                            json!({ "request": request.id, "failures": request.binding_failures }),
                        ),
                ];
                if refusal == ApprovalError::BindingCodeVoided {
                    audit.push(
                        AuditDraft::new("system", "approval.voided")
                            .subject(identity.id.to_string())
                            .details(
                                json!({ "request": request.id, "client_id": request.client_id }),
                            ),
                    );
                }
                unit.record_binding_failure(
                    &device,
                    &request,
                    Effects {
                        audit,
                        messages: vec![],
                    },
                )
                .await?;
                return Err(AppError::Invalid(DomainError::Approval(refusal)));
            }
            let proof = answer
                .pin_proof
                .as_deref()
                .ok_or_else(|| refused("the PIN proof is required to approve"))?;
            self.check_device_pin(
                unit,
                proof,
                &auth_request::approval_pin_binding(request.id, device_id),
            )
            .await?
        } else {
            let d = unit.device().clone();
            (unit, d)
        };
        let signature = unb64(&answer.signature, "signature").map_err(DomainError::from)?;
        let signed = request.signing_bytes(decision, device_id, answer.timestamp_ms);
        if device.public_key.verify(&signed, &signature).is_err() {
            return Err(AppError::Invalid(DomainError::Approval(
                ApprovalError::Signature,
            )));
        }
        device.record_use(now);
        let (action, state) = match decision {
            Decision::Approve => ("approval.approved", AuthRequestState::Approved),
            Decision::Reject if answer.not_me => {
                ("approval.reported_not_me", AuthRequestState::Rejected)
            }
            Decision::Reject => ("approval.rejected", AuthRequestState::Rejected),
        };
        let mut effects = Effects {
            audit: vec![
                AuditDraft::new(format!("device:{device_id}"), action)
                    .subject(identity.id.to_string())
                    .details(json!({ "request": request.id, "client_id": request.client_id, "action": request.action.as_str(), "text": request.text.as_str() })),
            ],
            messages: vec![],
        };
        if decision == Decision::Reject {
            let event = Event::RequestRejected {
                service_provider: request.sp_name.clone(),
                at: now,
                not_me: answer.not_me,
            };
            effects.messages = self.messages(&event, &identity).await?;
        }
        let stored = AuthAnswer {
            request_id: request.id,
            state,
            signature: signature.clone(),
            signed_bytes: signed.clone(),
            not_me: answer.not_me,
            at: now,
        };
        let notify = !effects.messages.is_empty();
        if !unit.answer_auth_request(&device, &stored, effects).await? {
            return Err(refused("this request has expired or was already answered"));
        }
        if notify {
            self.wake_outbox();
        }
        Ok(Some(AuthRequest {
            state,
            decided_at: Some(now),
            device_id: Some(device_id),
            not_me: answer.not_me,
            ..request
        }))
    }
}

/// An app's answer: already read, or the body of its request, read as a signed answer
/// once the request turned out to be a login or approval.
#[derive(Clone, Copy)]
enum Answer<'a> {
    Read(&'a SignedAnswer),
    Body(&'a [u8]),
}

impl<'a> Answer<'a> {
    fn read(self) -> Result<std::borrow::Cow<'a, SignedAnswer>, AppError> {
        Ok(match self {
            Answer::Read(a) => std::borrow::Cow::Borrowed(a),
            Answer::Body(b) => std::borrow::Cow::Owned(super::device_requests::json_body(b)?),
        })
    }
}

pub use sesam_api::SignedAnswer;

pub(crate) fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
