//! What waits for the person in their app (logins, approvals, pairings), and the app's
//! answer to one of them, whichever kind it is.

use sesam_api as api;
use sesam_domain::app_protocol::b64;
use sesam_domain::authorization::LoginMethod;
use sesam_domain::device::Device;
use uuid::Uuid;

use crate::context::Sesam;
use crate::error::AppError;

/// The answer an app sends is read as the kind of request it answers; the body was not
/// the JSON that kind needs.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(bytes)
        .map_err(|e| AppError::BadInput(format!("the request body is not the expected JSON: {e}")))
}

impl Sesam {
    /// Everything waiting for the decision of the person `device` belongs to: their
    /// logins and approvals (with the level an approval in this app gives: the identity's
    /// IAL capped by app with PIN), then the pairings of new apps.
    pub async fn pending_for_device(&self, device: &Device) -> Result<api::PendingList, AppError> {
        let pairings = self.pending_approvals(device).await?;
        let level = self
            .store
            .identity(device.identity_id)
            .await?
            .map(|i| LoginMethod::App.level_for(i.ial).as_str().to_owned());
        let mut requests: Vec<api::Pending> = self
            .pending_requests(device.identity_id)
            .await?
            .into_iter()
            .map(|r| {
                api::Pending::Login(api::PendingLogin {
                    id: r.id,
                    kind: "approval".into(),
                    client_id: r.client_id,
                    sp_name: r.sp_name,
                    action: r.action.as_str().to_owned(),
                    text: r.text.as_str().to_owned(),
                    binding_required: r.binding_code.is_some(),
                    expires_at: r.expires_at.to_rfc3339(),
                    level: level.clone(),
                })
            })
            .collect();
        requests.extend(pairings.into_iter().map(|a| {
            api::Pending::Pairing(api::PendingPairing {
                id: a.id,
                kind: a.kind.to_owned(),
                text: a.text,
                device_name: a.device_name,
                expires_at: a.expires_at.to_rfc3339(),
                pairing_code_required: true,
                new_device_key: a.new_device_key.as_deref().map(b64),
            })
        }));
        Ok(api::PendingList { requests })
    }

    /// Whether `id` names a login or approval (else it is taken for a pairing).
    async fn is_login_request(&self, id: Uuid) -> Result<bool, AppError> {
        Ok(self.store.auth_request(id).await?.is_some())
    }

    /// The app approves request `id`: a login or approval with a signed answer, or a
    /// pairing with the PIN proof and the code the new app shows. `body` is read as the
    /// kind `id` names.
    pub async fn approve_from_app(
        &self,
        device_id: Uuid,
        id: Uuid,
        answer: &[u8],
    ) -> Result<api::Approved, AppError> {
        if self.is_login_request(id).await? {
            let answer: api::SignedAnswer = body(answer)?;
            let r = self.approve_request(device_id, id, &answer).await?;
            return Ok(api::Approved::Login(api::LoginApproved {
                approved: id,
                client_id: r.client_id,
                sp_name: r.sp_name,
            }));
        }
        let answer: api::PairingApproval = body(answer)?;
        let d = self
            .approve_pairing(
                device_id,
                id,
                answer.pairing_code.as_deref(),
                &answer.pin_proof,
            )
            .await?;
        Ok(api::Approved::Pairing(api::PairingApproved {
            approved: id,
            device_id: d.id,
            device_name: d.name.as_str().to_owned(),
        }))
    }

    /// The app declines request `id`: a login or approval with a signed answer (`not_me`
    /// adds advice to block the identity), or a pairing (no body needed).
    pub async fn reject_from_app(
        &self,
        device_id: Uuid,
        id: Uuid,
        answer: &[u8],
    ) -> Result<api::Rejected, AppError> {
        if self.is_login_request(id).await? {
            let answer: api::SignedAnswer = body(answer)?;
            let r = self.reject_request(device_id, id, &answer).await?;
            return Ok(api::Rejected::Login(api::LoginRejected {
                rejected: id,
                not_me: r.not_me,
                advice: r.not_me.then(|| {
                    "If you did not start this, block your sesam now: sesam-app block".to_owned()
                }),
            }));
        }
        self.reject_pairing(device_id, id).await?;
        Ok(api::Rejected::Pairing(api::PairingRejected {
            rejected: id,
        }))
    }
}
