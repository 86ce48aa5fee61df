// The app API as the reference app speaks it (docs/protocol.md): unsigned activation
// calls, and every later call signed by the device key with the four sesam-* headers over
// the canonical signing bytes. Errors come back as ApiError with the server's code.
import * as p from "./protocol.js";

export class ApiError extends Error {
  constructor(status, code, description) {
    super(description || code);
    this.status = status;
    this.code = code;
    this.description = description ?? "";
  }
}

/** The largest answer the app reads: anything bigger is not an answer sesam gives. */
const MAX_ANSWER = 1 << 20;

async function read(response) {
  const text = await response.text();
  if (text.length > MAX_ANSWER) throw new ApiError(response.status, "protocol", "the answer is too large");
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(response.status, "protocol", `HTTP ${response.status}: not JSON`);
  }
  if (response.ok) {
    if (body === null || typeof body !== "object") throw new ApiError(response.status, "protocol", "not a JSON object");
    return body;
  }
  const code = typeof body?.error === "string" ? body.error : "unknown";
  const description = typeof body?.error_description === "string" ? body.error_description : "";
  throw new ApiError(response.status, code, description);
}

async function send(path, init) {
  let response;
  try {
    response = await fetch(path, { ...init, credentials: "omit", cache: "no-store", redirect: "error" });
  } catch (e) {
    throw new ApiError(0, "network", String(e?.message ?? e));
  }
  return read(response);
}

/** An unsigned JSON POST (activation). */
export function postUnsigned(path, body) {
  return send(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

export function getUnsigned(path) {
  return send(path, { method: "GET" });
}

/** A device-signed call: `device` is the stored record, `body` an object or undefined. */
export async function signed(device, method, path, body) {
  const bytes = body === undefined ? new Uint8Array() : p.bytes(JSON.stringify(body));
  const timestamp = Date.now();
  const nonce = p.newNonce();
  const toSign = await p.requestSigningBytes(method, path, timestamp, nonce, device.deviceId, bytes);
  const signature = await p.sign(device.privateKey, toSign);
  const headers = {
    [p.HEADER_DEVICE]: device.deviceId,
    [p.HEADER_TIMESTAMP]: String(timestamp),
    [p.HEADER_NONCE]: nonce,
    [p.HEADER_SIGNATURE]: p.b64(signature),
  };
  const init = { method, headers };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = bytes;
  }
  return send(path, init);
}

// ---- activation (§1) ----------------------------------------------------------------

export function startActivation(activationCode) {
  return postUnsigned("/app/v1/activation/start", { activation_code: activationCode });
}

/**
 * Completes the activation: a new device key, its proof of possession and the enrolment
 * PIN proof over the activation binding; opens the answer's device PIN key. Returns the
 * device record to keep.
 */
export async function completeActivation({ started, activationCode, smsCode, pin, deviceName, newUserId }) {
  const keys = await p.newDeviceKey();
  const publicKey = await p.publicSec1(keys.publicKey);
  const binding = p.activationBinding(started.activation_id, publicKey);
  const { proof, wrapKey } = await p.sealEnrolmentPin(p.unb64(started.pin_key), pin, binding);
  const possession = await p.sign(keys.privateKey, binding);
  const done = await postUnsigned("/app/v1/activation/complete", {
    activation_id: started.activation_id,
    activation_code: activationCode,
    sms_code: smsCode,
    device_public_key: p.b64(publicKey),
    device_name: deviceName,
    possession_signature: p.b64(possession),
    pin_proof: p.b64(proof),
    user_id: null,
    new_user_id: newUserId ?? null,
  });
  if (typeof done.device_id !== "string" || typeof done.device_pin_key !== "string") {
    throw new ApiError(200, "protocol", "the activation's answer lacks the device");
  }
  let pinKey;
  try {
    pinKey = await p.unwrapDevicePinKey(wrapKey, p.unb64(done.device_pin_key), binding);
  } catch {
    throw new ApiError(200, "protocol", "the device PIN key does not open");
  }
  return {
    deviceId: done.device_id,
    userId: done.user_id,
    deviceName: done.device_name,
    privateKey: keys.privateKey,
    publicKey,
    pinKey,
  };
}

// ---- requests (§4, §7) --------------------------------------------------------------

/** The pending requests; with `wait` the server holds the answer until one arrives. */
export async function pending(device, wait) {
  const path = wait ? `/app/v1/approvals?wait=${Math.min(wait, 25)}` : "/app/v1/approvals";
  const list = await signed(device, "GET", path);
  if (!Array.isArray(list.requests)) throw new ApiError(200, "protocol", "no list of requests");
  return list.requests.filter((r) => r && typeof r.id === "string" && typeof r.text === "string");
}

async function answerSignature(device, request, decision, bindingCode, timestampMs) {
  const bytes = await p.approvalBytes({
    requestId: request.id,
    clientId: request.client_id,
    spName: request.sp_name,
    action: request.action,
    text: request.text,
    bindingCode,
    decision,
    deviceId: device.deviceId,
    timestampMs,
  });
  return p.b64(await p.sign(device.privateKey, bytes));
}

/** Approves a login or approval: the PIN bound to this request, the browser's code, the signature. */
export async function approveLogin(device, request, pin, bindingCode) {
  if (!p.showableText(request.text)) throw new ApiError(0, "unshowable", "the request's text cannot be shown as it is");
  const code = request.binding_required ? bindingCode.trim() : null;
  const timestamp = Date.now();
  const signature = await answerSignature(device, request, "approve", code, timestamp);
  const proof = await p.devicePinProof(device.pinKey, pin, p.approvalPinBinding(request.id, device.deviceId));
  return signed(device, "POST", `/app/v1/approvals/${request.id}/approve`, {
    pin_proof: p.b64(proof),
    binding_code: code,
    timestamp_ms: timestamp,
    signature,
    not_me: false,
  });
}

/** Declines a login or approval; `notMe` reports it as not started by the person. */
export async function rejectLogin(device, request, notMe) {
  const timestamp = Date.now();
  const signature = await answerSignature(device, request, "reject", null, timestamp);
  return signed(device, "POST", `/app/v1/approvals/${request.id}/reject`, {
    pin_proof: null,
    binding_code: null,
    timestamp_ms: timestamp,
    signature,
    not_me: notMe,
  });
}

/** Approves a new app with the PIN and the code the new app shows. */
export async function approvePairing(device, request, pin, pairingCode) {
  const binding = await p.pairingApprovalBinding(request.id, device.deviceId, p.unb64(request.new_device_key ?? ""));
  const proof = await p.devicePinProof(device.pinKey, pin, binding);
  return signed(device, "POST", `/app/v1/approvals/${request.id}/approve`, {
    pin_proof: p.b64(proof),
    pairing_code: pairingCode.trim() || null,
  });
}

export function rejectPairing(device, request) {
  return signed(device, "POST", `/app/v1/approvals/${request.id}/reject`, {});
}

/** "Block my ID": suspends the identity at once, with the PIN. */
export async function blockIdentity(device, pin) {
  const proof = await p.devicePinProof(device.pinKey, pin, p.blockBinding(device.deviceId));
  return signed(device, "POST", "/app/v1/identity/block", { pin_proof: p.b64(proof) });
}

/** A new user ID, with the PIN bound to it exactly as sent; the old one stays the person's for 365 days. */
export async function changeUserId(device, newUserId, pin) {
  const proof = await p.devicePinProof(device.pinKey, pin, p.userIdChangeBinding(newUserId, device.deviceId));
  const done = await signed(device, "POST", "/app/v1/identity/user-id", { new_user_id: newUserId, pin_proof: p.b64(proof) });
  if (typeof done.user_id !== "string" || !done.user_id) throw new ApiError(200, "protocol", "no user ID in the answer");
  return done;
}

// ---- the person's own management (§8, §9) ---------------------------------------------

/** Who this app belongs to, and the person's apps, code displays and chips. */
export async function me(device) {
  const m = await signed(device, "GET", "/app/v1/me");
  if (!Array.isArray(m.devices) || !Array.isArray(m.code_displays) || !Array.isArray(m.chips)) {
    throw new ApiError(200, "protocol", "no list of devices");
  }
  return m;
}

export function rename(device, targetId, name) {
  return signed(device, "POST", `/app/v1/devices/${encodeURIComponent(targetId)}/rename`, { name });
}

/**
 * Removes an authenticator with the PIN: `app:<device id>`, `code_display:<serial>` or
 * `chip:<id>`; the PIN proof is bound to that target and this app.
 */
export async function revoke(device, target, pin) {
  const [kind, id] = [target.slice(0, target.indexOf(":")), target.slice(target.indexOf(":") + 1)];
  const path = { app: "devices", code_display: "code-displays", chip: "chips" }[kind];
  if (!path || !id) throw new ApiError(0, "input", "not an authenticator");
  const proof = await p.devicePinProof(device.pinKey, pin, p.revokeBinding(target, device.deviceId));
  return signed(device, "POST", `/app/v1/${path}/${encodeURIComponent(id)}/revoke`, { pin_proof: p.b64(proof) });
}

function checkChannels(c) {
  if (!Array.isArray(c.channels)) throw new ApiError(200, "protocol", "no list of channels");
  return c;
}

export async function channels(device) {
  return checkChannels(await signed(device, "GET", "/app/v1/channels"));
}

/** Adds a phone number (`sms`) or e-mail address (`email`); a code is sent there. */
export async function addChannel(device, kind, address, pin) {
  const proof = await p.devicePinProof(device.pinKey, pin, p.channelAddBinding(kind, address, device.deviceId));
  const added = await signed(device, "POST", "/app/v1/channels", { kind, address, pin_proof: p.b64(proof) });
  if (typeof added.channel_id !== "string") throw new ApiError(200, "protocol", "no channel id");
  return added.channel_id;
}

export async function confirmChannel(device, id, code, pin) {
  const proof = await p.devicePinProof(device.pinKey, pin, p.channelConfirmBinding(id, device.deviceId));
  return checkChannels(await signed(device, "POST", `/app/v1/channels/${encodeURIComponent(id)}/confirm`, { code, pin_proof: p.b64(proof) }));
}

export async function removeChannel(device, id, pin) {
  const proof = await p.devicePinProof(device.pinKey, pin, p.channelRemoveBinding(id, device.deviceId));
  return checkChannels(await signed(device, "POST", `/app/v1/channels/${encodeURIComponent(id)}/remove`, { pin_proof: p.b64(proof) }));
}

export async function orderChannels(device, order, pin) {
  const proof = await p.devicePinProof(device.pinKey, pin, p.channelOrderBinding(order, device.deviceId));
  return checkChannels(await signed(device, "POST", "/app/v1/channels/order", { order, pin_proof: p.b64(proof) }));
}

export async function setEveryUse(device, enabled, pin) {
  const proof = await p.devicePinProof(device.pinKey, pin, p.channelEveryUseBinding(enabled, device.deviceId));
  return checkChannels(await signed(device, "POST", "/app/v1/channels/every-use", { enabled, pin_proof: p.b64(proof) }));
}

export async function inbox(device) {
  const i = await signed(device, "GET", "/app/v1/inbox");
  if (!Array.isArray(i.messages)) throw new ApiError(200, "protocol", "no list of messages");
  return i.messages;
}

export async function activity(device) {
  const a = await signed(device, "GET", "/app/v1/activity");
  if (!Array.isArray(a.messages) || !Array.isArray(a.requests)) throw new ApiError(200, "protocol", "no activity");
  return a;
}

// ---- a further app (§5) ---------------------------------------------------------------

/**
 * Starts pairing this browser as a further app of `userId`: a new device key, the PIN
 * sealed to the server's PIN key bound to the user ID and the key. Returns the record to
 * keep until an existing app approves (with the pairing code it holds).
 */
export async function startPairing(userId, pin, deviceName) {
  const config = await getUnsigned("/app/v1/config");
  if (typeof config.pin_key !== "string") throw new ApiError(200, "protocol", "no PIN key");
  const keys = await p.newDeviceKey();
  const publicKey = await p.publicSec1(keys.publicKey);
  const binding = p.pairingBinding(userId, publicKey);
  const { proof, wrapKey } = await p.sealEnrolmentPin(p.unb64(config.pin_key), pin, binding);
  const possession = await p.sign(keys.privateKey, binding);
  const started = await postUnsigned("/app/v1/pairing/start", {
    user_id: userId,
    device_public_key: p.b64(publicKey),
    device_name: deviceName,
    possession_signature: p.b64(possession),
    pin_proof: p.b64(proof),
  });
  if (typeof started.pairing_id !== "string" || typeof started.pairing_code !== "string" || typeof started.device_pin_key !== "string") {
    throw new ApiError(200, "protocol", "the pairing's answer lacks its id or code");
  }
  let pinKey;
  try {
    pinKey = await p.unwrapDevicePinKey(wrapKey, p.unb64(started.device_pin_key), binding);
  } catch {
    throw new ApiError(200, "protocol", "the device PIN key does not open");
  }
  return {
    pairingId: started.pairing_id,
    pairingCode: started.pairing_code,
    expiresAt: started.expires_at,
    userId: userId.trim(),
    deviceName,
    privateKey: keys.privateKey,
    publicKey,
    pinKey,
  };
}

/** `{ status: pending|approved|rejected|expired, device_id }`. */
export function pairingStatus(pairingId) {
  return getUnsigned(`/app/v1/pairing/${encodeURIComponent(pairingId)}`);
}

// ---- code displays (§5) ------------------------------------------------------------------

/**
 * Activates the code display `serial` with two codes in a row from it, the password (set
 * now if the person has none) and the PIN bound to the serial number and this app.
 */
export async function activateCodeDisplay(device, { serial, code1, code2, password, pin }) {
  const proof = await p.devicePinProof(device.pinKey, pin, p.codeDisplayBinding(serial, device.deviceId));
  return signed(device, "POST", "/app/v1/code-displays/activate", { serial, code1, code2, password, pin_proof: p.b64(proof) });
}

// ---- chips (§10) ------------------------------------------------------------------------

/** Starts a chip registration with the PIN and the password: the options for the browser. */
export async function startChipRegistration(device, pin, password) {
  const proof = await p.devicePinProof(device.pinKey, pin, p.chipRegistrationBinding(device.deviceId));
  const started = await signed(device, "POST", "/app/v1/chips/register/start", { pin_proof: p.b64(proof), password });
  if (typeof started.registration_id !== "string" || typeof started.options?.publicKey !== "object") {
    throw new ApiError(200, "protocol", "no registration options");
  }
  return started;
}

/** Sends the security key's answer (the credential as JSON). */
export function finishChipRegistration(registrationId, credential) {
  return postUnsigned("/chips/register/finish", { registration_id: registrationId, credential });
}
