// The app protocol (docs/protocol.md) with the browser's WebCrypto alone: the bytes a
// device signs, the bindings, the PIN proofs (v2) and the device's own PIN key. The same
// module runs in the web app and in the test of the protocol's test vectors, so what the
// test checks is what the browser does. No state and no network here.

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();

/** Bytes of a string in UTF-8. */
export const bytes = (s) => utf8.encode(s);

/** base64url without padding. */
export function b64(buf) {
  const u = new Uint8Array(buf);
  let s = "";
  for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Decodes base64url (padding and the standard alphabet tolerated); throws on anything else. */
export function unb64(s) {
  if (typeof s !== "string" || !/^[A-Za-z0-9_\-+/]*={0,2}$/.test(s)) throw new Error("not base64url");
  const std = s.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  const bin = atob(std + "===".slice((std.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function unhex(s) {
  if (!/^([0-9a-f]{2})*$/i.test(s)) throw new Error("not hex");
  return Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
}

export function concat(...parts) {
  const len = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(len);
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer ?? p, p.byteOffset ?? 0, p.byteLength), at);
    at += p.byteLength;
  }
  return out;
}

export async function sha256(data) {
  return new Uint8Array(await subtle.digest("SHA-256", data));
}

export function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

// ---- the device key ---------------------------------------------------------------

const ECDSA = { name: "ECDSA", namedCurve: "P-256" };
const SIGN = { name: "ECDSA", hash: "SHA-256" };

/** A new device key: the private key cannot be exported, not even by this page. */
export function newDeviceKey() {
  return subtle.generateKey(ECDSA, false, ["sign", "verify"]);
}

/** The public key as SEC1 uncompressed (65 bytes). */
export async function publicSec1(publicKey) {
  return new Uint8Array(await subtle.exportKey("raw", publicKey));
}

/** ECDSA P-256 / SHA-256, raw r‖s (64 bytes). */
export async function sign(privateKey, data) {
  return new Uint8Array(await subtle.sign(SIGN, privateKey, data));
}

export async function verify(publicSec1Bytes, signature, data) {
  const key = await subtle.importKey("raw", publicSec1Bytes, ECDSA, false, ["verify"]);
  return subtle.verify(SIGN, key, signature, data);
}

// ---- what is signed ---------------------------------------------------------------

export const HEADER_DEVICE = "sesam-device";
export const HEADER_TIMESTAMP = "sesam-timestamp";
export const HEADER_NONCE = "sesam-nonce";
export const HEADER_SIGNATURE = "sesam-signature";

/** The signing bytes of a device-signed request (§2). `body` is the exact body bytes. */
export async function requestSigningBytes(method, pathAndQuery, timestampMs, nonce, deviceId, body) {
  const bodyHash = hex(await sha256(body ?? new Uint8Array()));
  return bytes(["sesam-app-request/v1", method.toUpperCase(), pathAndQuery, String(timestampMs), nonce,
    deviceId.toLowerCase(), bodyHash].join("\n"));
}

/** A fresh nonce: 18 random bytes, 24 base64url characters (what the reference app sends). */
export const newNonce = () => b64(randomBytes(18));

export function activationBinding(activationId, devicePublicSec1) {
  return bytes(`sesam-activation/v1\n${activationId}\n${hex(devicePublicSec1)}`);
}

export async function pairingApprovalBinding(pairingId, approvingDeviceId, newDeviceKey) {
  return bytes(`sesam-pairing-approval/v1\n${pairingId}\n${approvingDeviceId}\n${hex(await sha256(newDeviceKey))}`);
}

export function approvalPinBinding(requestId, deviceId) {
  return bytes(`sesam-approval-pin/v1\n${requestId}\n${deviceId}`);
}

/**
 * Whether a transaction text can be shown as it is and so signed: one line, in NFC, with
 * no control, format (bidi, zero-width), unassigned or line-separator characters — what
 * the server accepts as a text; the reference app refuses to sign anything else too.
 */
export function showableText(text) {
  return typeof text === "string" && text.trim() !== "" && text === text.normalize("NFC")
    && !/[\p{Cc}\p{Cf}\p{Cn}\p{Zl}\p{Zp}]/u.test(text);
}

/**
 * The approval bytes (§7): what the device signs to approve or reject a login. The text's
 * hash is computed here from the text the app shows, so a text changed after the person
 * read it cannot be approved. `bindingCode` null gives "-" (no browser, or a rejection).
 */
export async function approvalBytes({ requestId, clientId, spName, action, text, bindingCode, decision, deviceId, timestampMs }) {
  const textHash = hex(await sha256(bytes(text)));
  return bytes(["sesam-approval/v1", requestId, clientId, `${bytes(spName).length}:${spName}`, action, textHash,
    bindingCode ?? "-", decision, deviceId, String(timestampMs)].join("\n"));
}

// ---- the PIN proof (v2, §3) --------------------------------------------------------

const ENROLMENT_SALT = bytes("sesam-pin/v2");
const DEVICE_PROOF_INFO = bytes("sesam-pin/v2 proof");
const ZERO_NONCE = new Uint8Array(12);

/** A 6-digit PIN as its ASCII bytes; throws on anything else. */
export function pinBytes(pin) {
  if (!/^[0-9]{6}$/.test(pin)) throw new Error("the PIN is 6 digits");
  return bytes(pin);
}

const gcm = (iv, binding) => ({ name: "AES-GCM", iv, additionalData: binding, tagLength: 128 });

/**
 * The enrolment proof: the PIN sealed to the server's PIN key `serverKey` (SEC1) by an
 * ephemeral ECDH, bound to `binding`. Returns the proof (E ‖ c, 87 bytes) and `wrapKey`,
 * the one-time key that opens the answer's wrapped device PIN key. `ephemeral` is for
 * the test vectors only (a fixed key pair); otherwise a fresh one is made.
 */
export async function sealEnrolmentPin(serverKey, pin, binding, ephemeral) {
  const server = await subtle.importKey("raw", serverKey, { name: "ECDH", namedCurve: "P-256" }, true, []);
  const S = new Uint8Array(await subtle.exportKey("raw", server));
  const e = ephemeral ?? await subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
  const E = new Uint8Array(await subtle.exportKey("raw", e.publicKey));
  const Z = await subtle.deriveBits({ name: "ECDH", public: server }, e.privateKey, 256);
  const ikm = await subtle.importKey("raw", Z, "HKDF", false, ["deriveKey"]);
  const h = await sha256(binding);
  const derive = (label, usages) => subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: ENROLMENT_SALT, info: concat(bytes(label), E, S, h) },
    ikm, { name: "AES-GCM", length: 256 }, false, usages);
  const seal = await derive("seal", ["encrypt"]);
  const wrapKey = await derive("wrap", ["unwrapKey", "decrypt"]);
  const c = new Uint8Array(await subtle.encrypt(gcm(ZERO_NONCE, binding), seal, pinBytes(pin)));
  return { proof: concat(E, c), wrapKey };
}

/**
 * Opens the wrapped device PIN key (nonce ‖ ciphertext and tag, 60 bytes) straight into a
 * non-extractable HKDF key: the page can make proofs with it but never read it.
 */
export async function unwrapDevicePinKey(wrapKey, wrapped, binding) {
  if (wrapped.byteLength !== 60) throw new Error("the wrapped device PIN key is not 60 bytes");
  return subtle.unwrapKey("raw", wrapped.subarray(12), wrapKey, gcm(wrapped.subarray(0, 12), binding),
    "HKDF", false, ["deriveKey"]);
}

/** A device proof: salt ‖ the PIN sealed under a key of K_d, the salt and the binding (38 bytes). */
export async function devicePinProof(pinKey, pin, binding, salt = randomBytes(16)) {
  const info = concat(DEVICE_PROOF_INFO, await sha256(binding));
  const k = await subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt, info }, pinKey,
    { name: "AES-GCM", length: 256 }, false, ["encrypt"]);
  const c = new Uint8Array(await subtle.encrypt(gcm(ZERO_NONCE, binding), k, pinBytes(pin)));
  return concat(salt, c);
}

// ---- what the management calls' PIN proofs are bound to (§8–§10) --------------------

/** `target`: `app:<device id>`, `code_display:<serial>` or `chip:<id>`. */
export const revokeBinding = (target, acting) => bytes(`sesam-revoke/v1\n${target}\n${acting}`);
export const channelAddBinding = (kind, address, acting) => bytes(`sesam-channel-add/v1\n${kind}:${address}\n${acting}`);
export const channelConfirmBinding = (id, acting) => bytes(`sesam-channel-confirm/v1\n${id}\n${acting}`);
export const channelRemoveBinding = (id, acting) => bytes(`sesam-channel-remove/v1\n${id}\n${acting}`);
export const channelOrderBinding = (order, acting) => bytes(`sesam-channel-order/v1\n${order.join(",")}\n${acting}`);
export const channelEveryUseBinding = (on, acting) => bytes(`sesam-channel-every-use/v1\n${on ? "on" : "off"}\n${acting}`);
export const chipRegistrationBinding = (acting) => bytes(`sesam-chip/v1\n${acting}`);
export const userIdChangeBinding = (newUserId, acting) => bytes(`sesam-user-id/v1\n${newUserId}\n${acting}`);
export const blockBinding = (acting) => bytes(`sesam-block/v1\n${acting}`);
export const codeDisplayBinding = (serial, acting) => bytes(`sesam-code-display/v1\n${serial}\n${acting}`);

/** The key a user ID is known by: trimmed, NFC, lower case (as the server compares). */
export const userIdKey = (input) => input.trim().normalize("NFC").toLowerCase();

/** What a new app's enrolment proof and key possession are bound to (§5). */
export function pairingBinding(userId, devicePublicSec1) {
  return bytes(`sesam-pairing/v1\n${userIdKey(userId)}\n${hex(devicePublicSec1)}`);
}

/**
 * The waiting page's QR code: `sesam:approve?request=<uuid>&code=<4 digits>`. Returns
 * `{ request, code }`, or null for anything else (a QR code of something else).
 */
export function parseBindingQr(text) {
  if (typeof text !== "string" || text.length > 200) return null;
  const m = /^sesam:approve\?request=([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})&code=([0-9]{4})$/i.exec(text.trim());
  return m ? { request: m[1].toLowerCase(), code: m[2] } : null;
}
