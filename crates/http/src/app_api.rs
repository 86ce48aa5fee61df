//! The app API: activation (unauthenticated: no device exists yet) and device-signed calls.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use sesam_domain::app_protocol::{
    self, HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, MAX_CLOCK_SKEW_MS,
    SignatureHeaders,
};
use sesam_domain::device::{Device, DeviceState};
use uuid::Uuid;

use super::{ApiError, ApiJson, AppState};
use sesam_core::services::activation::CompleteActivation;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/app/v1/config", get(config))
        .route("/app/v1/activation/start", post(start_activation))
        .route("/app/v1/activation/complete", post(complete_activation))
        .route("/app/v1/me", get(me))
        .route("/app/v1/inbox", get(inbox))
        .route("/app/v1/channels", get(list_channels).post(add_channel))
        .route("/app/v1/channels/order", post(reorder_channels))
        .route("/app/v1/channels/every-use", post(set_every_use))
        .route("/app/v1/channels/{id}/confirm", post(confirm_channel))
        .route("/app/v1/channels/{id}/remove", post(remove_channel))
        .route("/app/v1/activity", get(activity))
        .route("/app/v1/pairing/start", post(start_pairing))
        .route("/app/v1/pairing/{id}", get(pairing_status))
        .route("/app/v1/approvals", get(approvals))
        .route("/app/v1/approvals/{id}/approve", post(approve))
        .route("/app/v1/approvals/{id}/reject", post(reject))
        .route("/app/v1/devices/{id}/revoke", post(revoke_device))
        .route("/app/v1/devices/{id}/rename", post(rename_device))
        .route("/app/v1/identity/block", post(block_identity))
        .route(
            "/app/v1/code-displays/activate",
            post(activate_code_display),
        )
        .route(
            "/app/v1/chips/register/start",
            post(start_chip_registration),
        )
        .route("/chips/register/finish", post(finish_chip_registration))
        .route(
            "/code-displays/activate-with-letter",
            post(activate_code_display_with_letter),
        )
        .route(
            "/app/v1/code-displays/{serial}/revoke",
            post(revoke_code_display),
        )
        .route("/app/v1/chips/{id}/revoke", post(revoke_chip))
}

async fn revoke_code_display(
    State(state): State<AppState>,
    Path(serial): Path<String>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
    use sesam_core::services::devices::OtherAuthenticator;
    let body: PinBody = json_body(&signed)?;
    let target = OtherAuthenticator::CodeDisplay(serial.clone());
    let warning = state
        .sesam
        .revoke_other_authenticator(signed.device.id, target, &body.pin_proof)
        .await?;
    Ok(Json(
        json!({ "revoked": format!("code_display:{serial}"), "warning": warning }),
    ))
}

async fn revoke_chip(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(
        json!({ "revoked": format!("chip:{id}"), "warning": warning }),
    ))
}

/// A code display activated with the letter and the SMS code (no app involved).
async fn activate_code_display_with_letter(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<sesam_core::services::code_displays::LetterCodeDisplay>,
) -> Result<Json<Value>, ApiError> {
    let d = state.sesam.activate_code_display_with_letter(&body).await?;
    Ok(Json(
        json!({ "serial": d.serial, "state": d.state.as_str() }),
    ))
}

#[derive(Deserialize)]
struct ChipStart {
    pin_proof: String,
    password: String,
}

async fn start_chip_registration(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
    let body: ChipStart = json_body(&signed)?;
    let (id, options) = state
        .sesam
        .start_chip_registration(signed.device.id, &body.pin_proof, &body.password)
        .await?;
    Ok(Json(json!({ "registration_id": id, "options": options })))
}

#[derive(Deserialize)]
struct ChipFinish {
    registration_id: Uuid,
    credential: Value,
}

/// Called by the browser that talked to the security key; the registration id (from the
/// authenticated start) is the capability, and it works once.
async fn finish_chip_registration(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ChipFinish>,
) -> Result<Json<Value>, ApiError> {
    let chip = state
        .sesam
        .finish_chip_registration(body.registration_id, &body.credential)
        .await?;
    Ok(Json(
        json!({ "chip_id": chip.id, "state": chip.state.as_str() }),
    ))
}

async fn activate_code_display(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
    let body: sesam_core::services::code_displays::ActivateCodeDisplay = json_body(&signed)?;
    let d = state
        .sesam
        .activate_code_display(signed.device.id, &body)
        .await?;
    Ok(Json(
        json!({ "serial": d.serial, "state": d.state.as_str() }),
    ))
}

/// A new app asks to be paired. Unauthenticated, so limited per person and per address
/// (429 with `Retry-After`); the answer has the same shape for any user ID.
async fn start_pairing(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    ApiJson(body): ApiJson<sesam_core::services::devices::StartPairing>,
) -> Result<Json<Value>, ApiError> {
    let started = state
        .sesam
        .start_pairing(&body, &peer.ip().to_string())
        .await?;
    Ok(Json(json!({
        "pairing_id": started.id,
        "expires_at": started.expires_at.to_rfc3339(),
        "pairing_code": started.code.as_str(),
        "message": "open sesam on one of your active apps, approve this device and type the pairing code shown here",
        "message_da": "åbn sesam i en af dine aktive apps, godkend denne enhed, og indtast parringskoden, der vises her",
    })))
}

async fn pairing_status(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let (status, device_id) = state.sesam.pairing_status(id).await?;
    Ok(Json(json!({ "status": status, "device_id": device_id })))
}

/// The longest a `?wait=` long-poll holds the request (below the 30 s request timeout).
const MAX_WAIT_SECONDS: u64 = 25;

/// What waits for the person; with `?wait=SECONDS` (at most 25) the answer is held until
/// something arrives or the time is up (long-poll), so the app need not poll.
async fn approvals(
    State(state): State<AppState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
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
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
    loop {
        let answer = pending_list(&state, &signed.device).await?;
        let empty = answer["requests"].as_array().is_none_or(Vec::is_empty);
        if !empty || tokio::time::Instant::now() >= deadline {
            return Ok(Json(answer));
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

async fn pending_list(state: &AppState, signed_device: &Device) -> Result<Value, ApiError> {
    let list = state.sesam.pending_approvals(signed_device).await?;
    // The level an approval in this app gives: min(the identity's IAL, app with PIN).
    let level = state
        .sesam
        .store
        .identity(signed_device.identity_id)
        .await
        .map_err(sesam_core::error::AppError::from)?
        .map(|i| {
            sesam_domain::authorization::LoginMethod::App
                .level_for(i.ial)
                .as_str()
        });
    let mut requests: Vec<Value> = state
        .sesam
        .pending_requests(signed_device.identity_id)
        .await?
        .iter()
        .map(|r| {
            json!({
                "id": r.id, "kind": "approval", "client_id": r.client_id, "sp_name": r.sp_name,
                "action": r.action.as_str(), "text": r.text.as_str(),
                "binding_required": r.binding_code.is_some(), "expires_at": r.expires_at.to_rfc3339(),
                "level": level,
            })
        })
        .collect();
    requests.extend(list.iter().map(|a| {
        json!({
            "id": a.id, "kind": a.kind, "text": a.text, "device_name": a.device_name,
            "expires_at": a.expires_at.to_rfc3339(), "pairing_code_required": true,
            "new_device_key": a.new_device_key.as_deref().map(sesam_domain::app_protocol::b64),
        })
    }));
    Ok(json!({ "requests": requests }))
}

#[derive(Deserialize)]
struct PinBody {
    pin_proof: String,
}

/// Approving a pairing: the PIN proof and the code the new app shows.
#[derive(Deserialize)]
struct PairingApproval {
    pin_proof: String,
    #[serde(default)]
    pairing_code: Option<String>,
}

/// Decodes `body` as every JSON body type the app API accepts (signed or not), and a
/// chip's WebAuthn answers as the chip services read them; returns how many accepted it.
/// Pure, for the fuzz target `app_api_json` and its replay test.
#[doc(hidden)]
pub fn decode_bodies(body: &[u8]) -> usize {
    use sesam_core::services::{approvals, code_displays, devices};
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
        + ok::<approvals::SignedAnswer>(body)
        + ok::<code_displays::ActivateCodeDisplay>(body)
        + ok::<code_displays::LetterCodeDisplay>(body)
        + ok::<devices::StartPairing>(body)
        + ok::<PairingApproval>(body)
}

fn json_body<T: serde::de::DeserializeOwned>(signed: &SignedRequest) -> Result<T, ApiError> {
    serde_json::from_slice(&signed.body).map_err(|e| {
        ApiError::bad_request(&format!("the request body is not the expected JSON: {e}"))
    })
}

async fn approve(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
    if state
        .sesam
        .store
        .auth_request(id)
        .await
        .map_err(sesam_core::error::AppError::from)?
        .is_some()
    {
        let answer: sesam_core::services::approvals::SignedAnswer = json_body(&signed)?;
        let r = state
            .sesam
            .approve_request(signed.device.id, id, &answer)
            .await?;
        return Ok(Json(
            json!({ "approved": id, "client_id": r.client_id, "sp_name": r.sp_name }),
        ));
    }
    let body: PairingApproval = json_body(&signed)?;
    let d = state
        .sesam
        .approve_pairing(
            signed.device.id,
            id,
            body.pairing_code.as_deref(),
            &body.pin_proof,
        )
        .await?;
    Ok(Json(
        json!({ "approved": id, "device_id": d.id, "device_name": d.name.as_str() }),
    ))
}

async fn reject(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
    if state
        .sesam
        .store
        .auth_request(id)
        .await
        .map_err(sesam_core::error::AppError::from)?
        .is_some()
    {
        let answer: sesam_core::services::approvals::SignedAnswer = json_body(&signed)?;
        let r = state
            .sesam
            .reject_request(signed.device.id, id, &answer)
            .await?;
        return Ok(Json(json!({
            "rejected": id,
            "not_me": r.not_me,
            "advice": r.not_me.then_some("If you did not start this, block your sesam now: sesam-app block"),
        })));
    }
    state.sesam.reject_pairing(signed.device.id, id).await?;
    Ok(Json(json!({ "rejected": id })))
}

async fn revoke_device(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
    let body: PinBody = json_body(&signed)?;
    let warning = state
        .sesam
        .revoke_device(signed.device.id, id, &body.pin_proof)
        .await?;
    Ok(Json(json!({ "revoked": id, "warning": warning })))
}

#[derive(Deserialize)]
struct RenameBody {
    name: String,
}

async fn rename_device(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
    let body: RenameBody = json_body(&signed)?;
    state
        .sesam
        .rename_device(signed.device.id, id, &body.name)
        .await?;
    Ok(Json(json!({ "renamed": id, "name": body.name.trim() })))
}

async fn block_identity(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
    state.sesam.block_identity(signed.device.id).await?;
    Ok(Json(json!({
        "state": "suspended",
        "message": "your identity is blocked; to reopen it, contact a registration office or use a new activation letter",
    })))
}

async fn config(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "protocol": "sesam-app/v1", "pin_key": state.sesam.pin_key_b64() }))
}

#[derive(Deserialize)]
struct StartActivation {
    activation_code: String,
}

async fn start_activation(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<StartActivation>,
) -> Result<Json<Value>, ApiError> {
    let s = state.sesam.start_activation(&body.activation_code).await?;
    Ok(Json(json!({
        "activation_id": s.activation_id,
        "sms_sent_to": s.sms_sent_to,
        "sms_code_expires_at": s.sms_code_expires_at.to_rfc3339(),
        "user_id_required": s.user_id_required,
        "pin_key": s.pin_key,
    })))
}

async fn complete_activation(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CompleteActivation>,
) -> Result<Json<Value>, ApiError> {
    let a = state.sesam.complete_activation(&body).await?;
    Ok(Json(
        json!({ "device_id": a.device_id, "user_id": a.user_id, "device_name": a.device_name }),
    ))
}

async fn me(State(state): State<AppState>, signed: SignedRequest) -> Result<Json<Value>, ApiError> {
    let s = &state.sesam;
    let identity = s
        .store
        .identity(signed.device.identity_id)
        .await
        .map_err(sesam_core::error::AppError::from)?
        .ok_or_else(|| ApiError::unauthorized("the device's identity no longer exists"))?;
    let devices = s
        .store
        .devices_of(identity.id)
        .await
        .map_err(sesam_core::error::AppError::from)?;
    let displays = s
        .store
        .code_displays_of(identity.id)
        .await
        .map_err(sesam_core::error::AppError::from)?;
    let chips = s
        .store
        .chips_of(identity.id)
        .await
        .map_err(sesam_core::error::AppError::from)?;
    Ok(Json(json!({
        "user_id": identity.user_id.as_ref().map(|u| u.as_str()),
        "name": identity.name.as_str(),
        "state": identity.state,
        "devices": devices.iter().map(|d| json!({
            "device_id": d.id,
            "name": d.name.as_str(),
            "state": d.state.as_str(),
            "created_at": d.created_at.to_rfc3339(),
            "this_device": d.id == signed.device.id,
        })).collect::<Vec<_>>(),
        "code_displays": displays.iter().map(|d| json!({
            "serial": d.serial,
            "state": d.state.as_str(),
            "activated_at": d.activated_at.map(|t| t.to_rfc3339()),
        })).collect::<Vec<_>>(),
        "chips": chips.iter().map(|c| json!({
            "chip_id": c.id,
            "state": c.state.as_str(),
            "created_at": c.created_at.to_rfc3339(),
        })).collect::<Vec<_>>(),
    })))
}

fn channels_json(view: &sesam_core::services::channels::ChannelView) -> Value {
    json!({
        "channels": view.channels.iter().map(|c| json!({
            "id": c.id,
            "kind": c.kind.as_str(),
            "address": c.address,
            "position": c.position,
            "confirmed": c.is_confirmed(),
        })).collect::<Vec<_>>(),
        "notify_every_use": view.notify_every_use,
        "recommendation": view.recommendation,
    })
}

async fn list_channels(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(channels_json(
        &state.sesam.list_channels(signed.device.id).await?,
    )))
}

#[derive(Deserialize)]
struct AddChannel {
    kind: String,
    address: String,
    pin_proof: String,
}

async fn add_channel(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
    let body: AddChannel = json_body(&signed)?;
    let c = state
        .sesam
        .add_channel(signed.device.id, &body.kind, &body.address, &body.pin_proof)
        .await?;
    Ok(Json(json!({
        "channel_id": c.id,
        "message": "a confirmation code was sent to the new address; confirm it to start receiving messages there",
    })))
}

#[derive(Deserialize)]
struct ConfirmChannel {
    code: String,
    pin_proof: String,
}

async fn confirm_channel(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
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
) -> Result<Json<Value>, ApiError> {
    let body: PinBody = json_body(&signed)?;
    state
        .sesam
        .remove_channel(signed.device.id, id, &body.pin_proof)
        .await?;
    Ok(Json(channels_json(
        &state.sesam.list_channels(signed.device.id).await?,
    )))
}

#[derive(Deserialize)]
struct ChannelOrder {
    order: Vec<Uuid>,
    pin_proof: String,
}

async fn reorder_channels(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
    let body: ChannelOrder = json_body(&signed)?;
    state
        .sesam
        .reorder_channels(signed.device.id, &body.order, &body.pin_proof)
        .await?;
    Ok(Json(channels_json(
        &state.sesam.list_channels(signed.device.id).await?,
    )))
}

#[derive(Deserialize)]
struct EveryUse {
    enabled: bool,
    pin_proof: String,
}

async fn set_every_use(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
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
) -> Result<Json<Value>, ApiError> {
    let messages = state
        .sesam
        .store
        .recent_messages(Some(signed.device.identity_id), 200)
        .await
        .map_err(sesam_core::error::AppError::from)?;
    let list: Vec<Value> = messages
        .iter()
        .filter(|m| m.channel == sesam_domain::notification::Channel::App)
        .map(|m| json!({ "message_id": m.message_id, "event": m.event, "text": m.body, "at": m.created_at.to_rfc3339() }))
        .collect();
    Ok(Json(json!({ "messages": list })))
}

/// The person's activity: every message sesam sent them and how its delivery went.
async fn activity(
    State(state): State<AppState>,
    signed: SignedRequest,
) -> Result<Json<Value>, ApiError> {
    let messages = state
        .sesam
        .store
        .recent_messages(Some(signed.device.identity_id), 200)
        .await
        .map_err(sesam_core::error::AppError::from)?;
    let list: Vec<Value> = messages
        .iter()
        .map(|m| {
            let to = match m.channel {
                sesam_domain::notification::Channel::Sms => {
                    sesam_domain::PhoneNumber::parse(&m.destination)
                        .map(|p| p.masked())
                        .unwrap_or_default()
                }
                sesam_domain::notification::Channel::Email => {
                    sesam_domain::EmailAddress::parse(&m.destination)
                        .map(|e| e.masked())
                        .unwrap_or_default()
                }
                sesam_domain::notification::Channel::App => "app".into(),
            };
            json!({
                "message_id": m.message_id,
                "event": m.event,
                "channel": m.channel.as_str(),
                "to": to,
                "status": m.state,
                "attempts": m.attempts,
                "last_error": m.last_error,
                "at": m.created_at.to_rfc3339(),
                "sent_at": m.sent_at.map(|t| t.to_rfc3339()),
            })
        })
        .collect();
    let requests = request_history(&state, signed.device.identity_id).await?;
    Ok(Json(json!({ "messages": list, "requests": requests })))
}

/// Every request the person was asked to approve, with its result, newest first.
async fn request_history(state: &AppState, identity_id: Uuid) -> Result<Vec<Value>, ApiError> {
    let now = state.sesam.clock.now();
    Ok(state
        .sesam
        .store
        .auth_requests_of(identity_id, 200)
        .await
        .map_err(sesam_core::error::AppError::from)?
        .iter()
        .map(|r| {
            json!({
                "id": r.id, "sp_name": r.sp_name, "action": r.action.as_str(), "text": r.text.as_str(),
                "result": r.status(now), "not_me": r.not_me, "browser": r.binding_code.is_some(),
                "at": r.created_at.to_rfc3339(), "answered_at": r.decided_at.map(|t| t.to_rfc3339()),
            })
        })
        .collect())
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

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let now = state.sesam.clock.now();
        let headers = SignatureHeaders::parse(
            header(&req, HEADER_DEVICE)?,
            header(&req, HEADER_TIMESTAMP)?,
            header(&req, HEADER_NONCE)?,
            header(&req, HEADER_SIGNATURE)?,
            now.millis(),
        )
        .map_err(|e| ApiError::unauthorized(&e.to_string()))?;
        let SignatureHeaders {
            device_id,
            timestamp_ms: timestamp,
            nonce,
            signature,
        } = headers;
        let method = req.method().as_str().to_owned();
        let path = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::bad_request("the request body could not be read"))?;

        let sesam = &state.sesam;
        let device = sesam
            .store
            .device(device_id)
            .await
            .map_err(sesam_core::error::AppError::from)?
            .filter(|d| d.state == DeviceState::Active)
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked device"))?;
        let signed = app_protocol::request_signing_bytes(
            &method, &path, timestamp, &nonce, device_id, &body,
        );
        device
            .public_key
            .verify(&signed, &signature)
            .map_err(|_| ApiError::unauthorized("the request signature does not verify"))?;
        let fresh = sesam
            .store
            .register_nonce(
                device_id,
                &nonce,
                now.plus_seconds(2 * MAX_CLOCK_SKEW_MS / 1000),
            )
            .await
            .map_err(sesam_core::error::AppError::from)?;
        if !fresh {
            return Err(ApiError::unauthorized(
                "this request was already received (replay)",
            ));
        }
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
