//! The app API: activation (unauthenticated: no device exists yet) and device-signed calls.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::handler::Handler;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use sesam_api as api;
use sesam_api::openapi::{Method, Operation};
use sesam_core::services::device_requests::{DeviceRequest, DeviceRequestError, SentSignature};
use sesam_domain::app_protocol::{HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use sesam_domain::device::Device;
use uuid::Uuid;

use super::{ApiError, ApiJson, AppState};
use sesam_api::{
    AddChannel, ChannelOrder, ChipFinish, ChipStart, CompleteActivation, ConfirmChannel, EveryUse,
    PairingApproval, PinBody, RenameBody, StartActivation,
};

/// Every route of the app API: its operation in the OpenAPI document and its handler. The
/// router is built from this table, and a test compares it with the document.
fn table() -> Vec<(Operation, MethodRouter<AppState>)> {
    use sesam_api::openapi as op;
    vec![
        route(op::OPENAPI, openapi),
        route(op::CONFIG, config),
        route(op::ACTIVATION_START, start_activation),
        route(op::ACTIVATION_COMPLETE, complete_activation),
        route(op::ME, me),
        route(op::INBOX, inbox),
        route(op::CHANNELS, list_channels),
        route(op::CHANNEL_ADD, add_channel),
        route(op::CHANNEL_ORDER, reorder_channels),
        route(op::CHANNEL_EVERY_USE, set_every_use),
        route(op::CHANNEL_CONFIRM, confirm_channel),
        route(op::CHANNEL_REMOVE, remove_channel),
        route(op::ACTIVITY, activity),
        route(op::PAIRING_START, start_pairing),
        route(op::PAIRING_STATUS, pairing_status),
        route(op::APPROVALS, approvals),
        route(op::APPROVE, approve),
        route(op::REJECT, reject),
        route(op::DEVICE_REVOKE, revoke_device),
        route(op::DEVICE_RENAME, rename_device),
        route(op::IDENTITY_BLOCK, block_identity),
        route(op::USER_ID_CHANGE, change_user_id),
        route(op::PUSH_SUBSCRIBE, subscribe_push),
        route(op::PUSH_UNSUBSCRIBE, unsubscribe_push),
        route(op::CODE_DISPLAY_ACTIVATE, activate_code_display),
        route(op::CHIP_REGISTER_START, start_chip_registration),
        route(op::CHIP_REGISTER_FINISH, finish_chip_registration),
        route(
            op::CODE_DISPLAY_ACTIVATE_WITH_LETTER,
            activate_code_display_with_letter,
        ),
        route(op::CODE_DISPLAY_REVOKE, revoke_code_display),
        route(op::CHIP_REVOKE, revoke_chip),
    ]
}

/// A table row: the handler answers the operation's method only.
fn route<H, T>(op: Operation, handler: H) -> (Operation, MethodRouter<AppState>)
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let method = match op.method {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
    };
    (op, axum::routing::on(method, handler))
}

pub fn routes() -> axum::Router<AppState> {
    table()
        .into_iter()
        .fold(axum::Router::new(), |router, (op, handler)| {
            router.route(op.path, handler)
        })
}

/// The OpenAPI document, written once per process; cacheable like the discovery document.
async fn openapi() -> Response {
    static DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        serde_json::to_string(&sesam_api::document()).unwrap_or_else(|_| "{}".into())
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        DOCUMENT.as_str(),
    )
        .into_response()
}

async fn revoke_code_display(
    State(state): State<AppState>,
    Path(serial): Path<String>,
    signed: SignedRequest,
) -> Result<Json<api::Revoked>, ApiError> {
    use sesam_core::services::devices::OtherAuthenticator;
    let body: PinBody = json_body(&signed)?;
    let target = OtherAuthenticator::CodeDisplay(serial.clone());
    let warning = state
        .sesam
        .revoke_other_authenticator(signed.device.id, target, &body.pin_proof)
        .await?;
    Ok(Json(api::Revoked {
        revoked: format!("code_display:{serial}"),
        warning,
    }))
}

async fn revoke_chip(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    signed: SignedRequest,
) -> Result<Json<api::Revoked>, ApiError> {
    use sesam_core::services::devices::OtherAuthenticator;
    let body: PinBody = json_body(&signed)?;
    let warning = state
        .sesam
        .revoke_other_authenticator(
            signed.device.id,
            OtherAuthenticator::Chip(id),
            &body.pin_proof,
        )
        .await?;
    Ok(Json(api::Revoked {
        revoked: format!("chip:{id}"),
        warning,
    }))
}

/// A code display activated with the letter and the SMS code (no app involved).
async fn activate_code_display_with_letter(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<api::LetterCodeDisplay>,
) -> Result<Json<api::CodeDisplayActivated>, ApiError> {
    let d = state.sesam.activate_code_display_with_letter(&body).await?;
    Ok(Json(api::CodeDisplayActivated {
        serial: d.serial,
        state: d.state.as_str().to_owned(),
    }))
}

async fn start_chip_registration(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<api::ChipRegistrationStarted>, ApiError> {
    let body: ChipStart = json_body(&signed)?;
    let (id, options) = state
        .sesam
        .start_chip_registration(signed.device.id, &body.pin_proof, &body.password)
        .await?;
    Ok(Json(api::ChipRegistrationStarted {
        registration_id: id,
        options,
    }))
}

/// Called by the browser that talked to the security key; the registration id (from the
/// authenticated start) is the capability, and it works once.
async fn finish_chip_registration(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ChipFinish>,
) -> Result<Json<api::ChipRegistered>, ApiError> {
    let chip = state
        .sesam
        .finish_chip_registration(body.registration_id, &body.credential)
        .await?;
    Ok(Json(api::ChipRegistered {
        chip_id: chip.id,
        state: chip.state.as_str().to_owned(),
    }))
}

async fn activate_code_display(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<api::CodeDisplayActivated>, ApiError> {
    let body: api::ActivateCodeDisplay = json_body(&signed)?;
    let d = state
        .sesam
        .activate_code_display(signed.device.id, &body)
        .await?;
    Ok(Json(api::CodeDisplayActivated {
        serial: d.serial,
        state: d.state.as_str().to_owned(),
    }))
}

/// A new app asks to be paired. Unauthenticated, so limited per person and per address
/// (429 with `Retry-After`); the answer has the same shape for any user ID.
async fn start_pairing(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    ApiJson(body): ApiJson<api::StartPairing>,
) -> Result<Json<api::PairingStarted>, ApiError> {
    let started = state
        .sesam
        .start_pairing(&body, &peer.ip().to_string())
        .await?;
    Ok(Json(api::PairingStarted {
        pairing_id: started.id,
        expires_at: started.expires_at.to_rfc3339(),
        pairing_code: started.code.as_str().to_owned(),
        message: "open sesam on one of your active apps, approve this device and type the pairing code shown here".into(),
        message_da: "åbn sesam i en af dine aktive apps, godkend denne enhed, og indtast parringskoden, der vises her".into(),
        device_pin_key: started.device_pin_key,
    }))
}

async fn pairing_status(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<api::PairingStatus>, ApiError> {
    let (status, device_id) = state.sesam.pairing_status(id).await?;
    Ok(Json(api::PairingStatus {
        status: status.to_owned(),
        device_id,
    }))
}

/// The longest a `?wait=` long-poll holds the request (below the 30 s request timeout).
const MAX_WAIT_SECONDS: u64 = 25;

/// What waits for the person; with `?wait=SECONDS` (at most 25) the answer is held until
/// something arrives or the time is up (long-poll), so the app need not poll.
async fn approvals(
    State(state): State<AppState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    signed: SignedRequest,
) -> Result<Json<api::PendingList>, ApiError> {
    let params = sesam_oidc::Params::from_urlencoded(query.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(&e.to_string()))?;
    let wait = params
        .get("wait")
        .map(|w| {
            w.parse::<u64>()
                .map_err(|_| ApiError::bad_request("wait must be a whole number of seconds"))
        })
        .transpose()?
        .unwrap_or(0)
        .min(MAX_WAIT_SECONDS);
    Ok(Json(
        state
            .sesam
            .wait_for_pending(&signed.device, std::time::Duration::from_secs(wait))
            .await?,
    ))
}

/// Decodes `body` as every JSON body type the app API accepts (signed or not), and a
/// chip's WebAuthn answers as the chip services read them; returns how many accepted it.
/// Pure, for the fuzz target `app_api_json` and its replay test.
#[doc(hidden)]
pub fn decode_bodies(body: &[u8]) -> usize {
    fn ok<T: serde::de::DeserializeOwned>(body: &[u8]) -> usize {
        usize::from(serde_json::from_slice::<T>(body).is_ok())
    }
    let chip_answers = serde_json::from_slice::<ChipFinish>(body).map_or(0, |c| {
        use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};
        usize::from(
            serde_json::from_value::<RegisterPublicKeyCredential>(c.credential.clone()).is_ok(),
        ) + usize::from(serde_json::from_value::<PublicKeyCredential>(c.credential).is_ok())
    });
    chip_answers
        + ok::<ChipStart>(body)
        + ok::<PinBody>(body)
        + ok::<RenameBody>(body)
        + ok::<StartActivation>(body)
        + ok::<CompleteActivation>(body)
        + ok::<AddChannel>(body)
        + ok::<ConfirmChannel>(body)
        + ok::<ChannelOrder>(body)
        + ok::<EveryUse>(body)
        + ok::<api::SignedAnswer>(body)
        + ok::<api::ActivateCodeDisplay>(body)
        + ok::<api::LetterCodeDisplay>(body)
        + ok::<api::StartPairing>(body)
        + ok::<api::PushSubscribe>(body)
        + ok::<PairingApproval>(body)
        + ok::<api::ChangeUserId>(body)
}

/// The signed body as the type the call needs; refused like every other bad body.
fn json_body<T: serde::de::DeserializeOwned>(signed: &SignedRequest) -> Result<T, ApiError> {
    Ok(sesam_core::services::device_requests::json_body(
        &signed.body,
    )?)
}

async fn approve(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    signed: SignedRequest,
) -> Result<Json<api::Approved>, ApiError> {
    Ok(Json(
        state
            .sesam
            .approve_from_app(signed.device.id, id, &signed.body)
            .await?,
    ))
}

async fn reject(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    signed: SignedRequest,
) -> Result<Json<api::Rejected>, ApiError> {
    Ok(Json(
        state
            .sesam
            .reject_from_app(signed.device.id, id, &signed.body)
            .await?,
    ))
}

async fn revoke_device(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    signed: SignedRequest,
) -> Result<Json<api::Revoked>, ApiError> {
    let body: PinBody = json_body(&signed)?;
    let warning = state
        .sesam
        .revoke_device(signed.device.id, id, &body.pin_proof)
        .await?;
    Ok(Json(api::Revoked {
        revoked: id.to_string(),
        warning,
    }))
}

async fn rename_device(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    signed: SignedRequest,
) -> Result<Json<api::Renamed>, ApiError> {
    let body: RenameBody = json_body(&signed)?;
    state
        .sesam
        .rename_device(signed.device.id, id, &body.name)
        .await?;
    Ok(Json(api::Renamed {
        renamed: id,
        name: body.name.trim().to_owned(),
    }))
}

async fn block_identity(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<api::Blocked>, ApiError> {
    let body: PinBody = json_body(&signed)?;
    state
        .sesam
        .block_identity(signed.device.id, &body.pin_proof)
        .await?;
    Ok(Json(api::Blocked {
        state: "suspended".into(),
        message: "your identity is blocked; to reopen it, contact a registration office or use a new activation letter".into(),
    }))
}

/// The person's new user ID, with the PIN; the old one stays theirs for 365 days.
async fn change_user_id(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<api::UserIdChanged>, ApiError> {
    let body: api::ChangeUserId = json_body(&signed)?;
    let changed = state
        .sesam
        .change_own_user_id(signed.device.id, &body.new_user_id, &body.pin_proof)
        .await?;
    Ok(Json(api::UserIdChanged {
        user_id: changed
            .identity
            .user_id
            .as_ref()
            .map(|u| u.as_str().to_owned())
            .unwrap_or_default(),
        old_user_id: changed.old_user_id.map(|u| u.as_str().to_owned()),
        old_reserved_until: changed.old_reserved_until.to_rfc3339(),
    }))
}

async fn config(State(state): State<AppState>) -> Json<api::Config> {
    let push_key = state.sesam.push_public_key().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the web push key cannot be read; apps cannot subscribe now");
        String::new()
    });
    Json(api::Config {
        protocol: "sesam-app/v2".into(),
        pin_key: state.sesam.pin_key_b64(),
        push_key,
    })
}

async fn subscribe_push(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<api::PushState>, ApiError> {
    let body: api::PushSubscribe = json_body(&signed)?;
    Ok(Json(
        state.sesam.subscribe_push(&signed.device, &body).await?,
    ))
}

async fn unsubscribe_push(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<api::PushState>, ApiError> {
    Ok(Json(state.sesam.unsubscribe_push(&signed.device).await?))
}

async fn start_activation(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<StartActivation>,
) -> Result<Json<api::ActivationStarted>, ApiError> {
    let s = state.sesam.start_activation(&body.activation_code).await?;
    Ok(Json(api::ActivationStarted {
        activation_id: s.activation_id,
        sms_sent_to: s.sms_sent_to,
        sms_code_expires_at: s.sms_code_expires_at.to_rfc3339(),
        user_id_required: s.user_id_required,
        pin_key: s.pin_key,
    }))
}

async fn complete_activation(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CompleteActivation>,
) -> Result<Json<api::Activated>, ApiError> {
    let a = state.sesam.complete_activation(&body).await?;
    Ok(Json(api::Activated {
        device_id: a.device_id,
        user_id: a.user_id,
        device_name: a.device_name,
        device_pin_key: a.device_pin_key,
    }))
}

async fn me(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<api::Me>, ApiError> {
    let me = state.sesam.account_overview(&signed.device).await?;
    me.map(Json)
        .ok_or_else(|| ApiError::unauthorized("the device's identity no longer exists"))
}

fn channels_json(view: &sesam_core::services::channels::ChannelView) -> api::Channels {
    api::Channels {
        channels: view
            .channels
            .iter()
            .map(|c| api::ChannelView {
                id: c.id,
                kind: c.kind.as_str().to_owned(),
                address: c.address.clone(),
                position: c.position,
                confirmed: c.is_confirmed(),
            })
            .collect(),
        notify_every_use: view.notify_every_use,
        recommendation: view.recommendation.map(str::to_owned),
    }
}

async fn list_channels(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<api::Channels>, ApiError> {
    Ok(Json(channels_json(
        &state.sesam.list_channels(signed.device.id).await?,
    )))
}

async fn add_channel(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<api::ChannelAdded>, ApiError> {
    let body: AddChannel = json_body(&signed)?;
    let c = state
        .sesam
        .add_channel(signed.device.id, &body.kind, &body.address, &body.pin_proof)
        .await?;
    Ok(Json(api::ChannelAdded {
        channel_id: c.id,
        message: "a confirmation code was sent to the new address; confirm it to start receiving messages there".into(),
    }))
}

async fn confirm_channel(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    signed: SignedRequest,
) -> Result<Json<api::Channels>, ApiError> {
    let body: ConfirmChannel = json_body(&signed)?;
    state
        .sesam
        .confirm_channel(signed.device.id, id, &body.code, &body.pin_proof)
        .await?;
    Ok(Json(channels_json(
        &state.sesam.list_channels(signed.device.id).await?,
    )))
}

async fn remove_channel(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    signed: SignedRequest,
) -> Result<Json<api::Channels>, ApiError> {
    let body: PinBody = json_body(&signed)?;
    state
        .sesam
        .remove_channel(signed.device.id, id, &body.pin_proof)
        .await?;
    Ok(Json(channels_json(
        &state.sesam.list_channels(signed.device.id).await?,
    )))
}

async fn reorder_channels(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<api::Channels>, ApiError> {
    let body: ChannelOrder = json_body(&signed)?;
    state
        .sesam
        .reorder_channels(signed.device.id, &body.order, &body.pin_proof)
        .await?;
    Ok(Json(channels_json(
        &state.sesam.list_channels(signed.device.id).await?,
    )))
}

async fn set_every_use(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<api::Channels>, ApiError> {
    let body: EveryUse = json_body(&signed)?;
    state
        .sesam
        .set_notify_every_use(signed.device.id, body.enabled, &body.pin_proof)
        .await?;
    Ok(Json(channels_json(
        &state.sesam.list_channels(signed.device.id).await?,
    )))
}

/// The person's app inbox: every message sent to the app channel, newest first.
async fn inbox(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<api::Inbox>, ApiError> {
    Ok(Json(state.sesam.inbox(signed.device.identity_id).await?))
}

/// The person's activity: every message sesam sent them and how its delivery went, and
/// the requests they answered.
async fn activity(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<api::Activity>, ApiError> {
    Ok(Json(state.sesam.activity(signed.device.identity_id).await?))
}

/// A request signed by an active device: its signature, timestamp and nonce checked.
pub struct SignedRequest {
    pub device: Device,
    pub body: Bytes,
}

fn header<'a>(req: &'a Request, name: &str) -> Result<&'a str, ApiError> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized(&format!(
                "the request is not device-signed: header {name} is missing"
            ))
        })
}

impl FromRequest<AppState> for SignedRequest {
    type Rejection = ApiError;

    /// Takes the signature headers (checked for shape and clock before the body is read),
    /// the method, the path and the body out of the request; the service decides whether an
    /// active device signed it.
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let refused = |e: DeviceRequestError| match e {
            DeviceRequestError::Failed(e) => ApiError::from(e),
            refused => ApiError::unauthorized(&refused.to_string()),
        };
        let headers = state
            .sesam
            .signature_headers(SentSignature {
                device: header(&req, HEADER_DEVICE)?,
                timestamp: header(&req, HEADER_TIMESTAMP)?,
                nonce: header(&req, HEADER_NONCE)?,
                signature: header(&req, HEADER_SIGNATURE)?,
            })
            .map_err(refused)?;
        let method = req.method().as_str().to_owned();
        let path = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::bad_request("the request body could not be read"))?;
        let device = state
            .sesam
            .authenticate_device_request(DeviceRequest {
                method: &method,
                path_and_query: &path,
                headers,
                body: &body,
            })
            .await
            .map_err(refused)?;
        Ok(Self { device, body })
    }
}

impl ApiError {
    pub fn unauthorized(reason: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            description: reason.to_owned(),
            retry_after: None,
        }
    }

    pub fn bad_request(reason: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            description: reason.to_owned(),
            retry_after: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every route the router serves has an operation in the document, and every operation
    /// a route.
    #[test]
    fn every_route_is_documented_and_every_operation_routed() {
        let routed: BTreeSet<(String, String)> = table()
            .iter()
            .map(|(op, _)| (op.method.as_str().to_lowercase(), op.path.to_owned()))
            .collect();
        let document = serde_json::to_value(sesam_api::document()).unwrap_or_default();
        let mut documented = BTreeSet::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
                documented.insert((method.clone(), path.clone()));
            }
        }
        assert!(!routed.is_empty());
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routes without an operation: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "operations without a route: {unrouted:?}"
        );
        assert_eq!(routed.len(), table().len(), "a route is in the table twice");
    }

    /// The document names the headers the extractor reads.
    #[test]
    fn the_documented_signature_headers_are_the_protocol_headers() {
        let names: Vec<&str> = sesam_api::openapi::SIGNATURE_HEADERS
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(
            names,
            [
                HEADER_DEVICE,
                HEADER_TIMESTAMP,
                HEADER_NONCE,
                HEADER_SIGNATURE
            ]
        );
    }
}
