// The web app's protocol module against the test vectors of docs/protocol.md §8: the
// same ES module the browser loads, run on node's WebCrypto. ECDSA signatures in
// WebCrypto are randomised (the vectors' are RFC 6979), so signatures are checked by
// verifying the vectors' own and our fresh ones with the vector key; everything else
// (bindings, signing bytes, PIN proofs, the wrapped device PIN key) must match exactly.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as p from "../crates/http/webapp/protocol.js";

const subtle = globalThis.crypto.subtle;
const text = (u8) => new TextDecoder().decode(u8);
const fill = (byte, n) => new Uint8Array(n).fill(byte);

const DEVICE_ID = "01920000-0000-7000-8000-000000000001";
const ACTIVATION_ID = "01920000-0000-7000-8000-0000000000aa";
const REQUEST_ID = "01920000-0000-7000-8000-0000000000bb";
const DEVICE_PUB = "040217e617f0b6443928278f96999e69a23a4f2c152bdf6d6cdf66e5b80282d4ed194a7debcb97712d2dda3ca85aa8765a56f45fc758599652f2897c65306e5794";
const SERVER_PIN_PUB = "04d65a93977caa3d1b081852ff57a79e465f1660577304baead505dd3a48589cf350185e895372df6221ea3a137557e473fddb6755f05bd507c3c533fce9c91285";
const ENROLMENT_PROOF = "0451a7580833898ea1b183cbd7350a4099078c6ef1c1e18e970cd7683035f25e7d0110522712b0b5a7cff081685486984a94e6831edac46e7360fa9d834a7a81a1d60cfc3b7546179d8c795bc45eb4b0c6b8f4d6abe093";
const DEVICE_PIN_KEY = "6b445c6cb6603be3f7543695a4bcd8bfe716e899f2ab70e0eaae5bff1acfc44c";
const WRAPPED = "66666666666666666666666650db37ad52f2c81f1c354679e57ca6f69f1d59f2278090d31ff24a3a9a070865381daa1544535afab4a74d09493ab5f7";
const DEVICE_PROOF = "55555555555555555555555555555555ebe3ca1694fb07b288811092e16129a80553fb1228cc";

/** A P-256 private key from its scalar and public point (SEC1 uncompressed). */
async function privateKey(scalarByte, pubHex, alg, usages) {
  const pub = p.unhex(pubHex);
  const jwk = { kty: "EC", crv: "P-256", d: p.b64(fill(scalarByte, 32)), x: p.b64(pub.subarray(1, 33)), y: p.b64(pub.subarray(33)) };
  return subtle.importKey("jwk", jwk, alg, false, usages);
}

test("request signing bytes and their signature", async () => {
  const signing = await p.requestSigningBytes("get", "/app/v1/approvals", 1767225600000, "bm9uY2Utbm9uY2Utbm9uY2U", DEVICE_ID.toUpperCase(), null);
  assert.equal(text(signing), [
    "sesam-app-request/v1", "GET", "/app/v1/approvals", "1767225600000", "bm9uY2Utbm9uY2Utbm9uY2U",
    DEVICE_ID, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"].join("\n"));
  const vector = p.unhex("a99a9bf06a454f7be645f2447ca327f799bd82ff52d12ad5f364886b41e4d7212fdc4a93c4599919ade4f864b59fee9668d3dbb2f02f7f673e5399c3be553715");
  assert.ok(await p.verify(p.unhex(DEVICE_PUB), vector, signing), "the vector's signature verifies");
  const key = await privateKey(0x11, DEVICE_PUB, { name: "ECDSA", namedCurve: "P-256" }, ["sign"]);
  const ours = await p.sign(key, signing);
  assert.equal(ours.length, 64, "raw r‖s");
  assert.ok(await p.verify(p.unhex(DEVICE_PUB), ours, signing));
});

test("a new device key is P-256, its private half not extractable", async () => {
  const pair = await p.newDeviceKey();
  assert.equal(pair.privateKey.extractable, false);
  const pub = await p.publicSec1(pair.publicKey);
  assert.equal(pub.length, 65);
  assert.equal(pub[0], 4);
  const data = p.bytes("x");
  assert.ok(await p.verify(pub, await p.sign(pair.privateKey, data), data));
});

test("the activation binding, the enrolment PIN proof and the wrapped device PIN key", async () => {
  const binding = p.activationBinding(ACTIVATION_ID, p.unhex(DEVICE_PUB));
  assert.equal(text(binding), `sesam-activation/v1\n${ACTIVATION_ID}\n${DEVICE_PUB}`);
  const ephemeralPub = ENROLMENT_PROOF.slice(0, 130);
  const ecdh = { name: "ECDH", namedCurve: "P-256" };
  const ephemeral = {
    privateKey: await privateKey(0x33, ephemeralPub, ecdh, ["deriveBits"]),
    publicKey: await subtle.importKey("raw", p.unhex(ephemeralPub), ecdh, true, []),
  };
  const { proof, wrapKey } = await p.sealEnrolmentPin(p.unhex(SERVER_PIN_PUB), "123456", binding, ephemeral);
  assert.equal(p.hex(proof), ENROLMENT_PROOF);
  // The key inside the wrapped answer is the vector's K_d (opened as bytes for the check;
  // the app opens it straight into a non-extractable key).
  const wrapped = p.unhex(WRAPPED);
  const plain = await subtle.decrypt({ name: "AES-GCM", iv: wrapped.subarray(0, 12), additionalData: binding, tagLength: 128 }, wrapKey, wrapped.subarray(12));
  assert.equal(p.hex(plain), DEVICE_PIN_KEY);
  const kd = await p.unwrapDevicePinKey(wrapKey, wrapped, binding);
  assert.equal(kd.extractable, false);
  assert.equal(kd.algorithm.name, "HKDF");
  // Bound to its binding: another binding does not open it.
  await assert.rejects(p.unwrapDevicePinKey(wrapKey, wrapped, p.bytes("another binding")));
  // And the unwrapped key makes the vector's device proof.
  const pinBinding = p.approvalPinBinding(REQUEST_ID, DEVICE_ID);
  assert.equal(p.hex(await p.devicePinProof(kd, "123456", pinBinding, fill(0x55, 16))), DEVICE_PROOF);
});

test("the device PIN proof of an approval", async () => {
  const binding = p.approvalPinBinding(REQUEST_ID, DEVICE_ID);
  assert.equal(text(binding), `sesam-approval-pin/v1\n${REQUEST_ID}\n${DEVICE_ID}`);
  const kd = await subtle.importKey("raw", p.unhex(DEVICE_PIN_KEY), "HKDF", false, ["deriveKey"]);
  assert.equal(p.hex(await p.devicePinProof(kd, "123456", binding, fill(0x55, 16))), DEVICE_PROOF);
  const fresh = await p.devicePinProof(kd, "123456", binding);
  assert.equal(fresh.length, 38);
  assert.notEqual(p.hex(fresh), DEVICE_PROOF, "a fresh salt each time");
  assert.throws(() => p.pinBytes("12345"));
  assert.throws(() => p.pinBytes("12345a"));
});

test("the pairing approval binding", async () => {
  const binding = await p.pairingApprovalBinding(ACTIVATION_ID, DEVICE_ID, p.unhex(DEVICE_PUB));
  assert.equal(text(binding), `sesam-pairing-approval/v1\n${ACTIVATION_ID}\n${DEVICE_ID}\n2bad0fd610d99eae443e932a26142bca1e5fa995b4518452827e78ef1f317ff0`);
});

test("the approval bytes, approved and rejected, and their signature", async () => {
  const fields = {
    requestId: REQUEST_ID, clientId: "sp_4f1e2d3c4b5a69788796a5b4", spName: "Demo Bank", action: "APPROVE",
    text: "Overfør 1.500,00 kr. til Jens Hansen", deviceId: DEVICE_ID, timestampMs: 1767225600000,
  };
  const approved = await p.approvalBytes({ ...fields, bindingCode: "0042", decision: "approve" });
  const head = ["sesam-approval/v1", REQUEST_ID, "sp_4f1e2d3c4b5a69788796a5b4", "9:Demo Bank", "APPROVE",
    "3b135ea6342143e022241af368735e53b469c2cf8a29ad568d6cc6ab133a48d2"];
  assert.equal(text(approved), [...head, "0042", "approve", DEVICE_ID, "1767225600000"].join("\n"));
  const vector = p.unhex("226fa3d92a72784af6333ecbe99e212f2a17881848cadef79cf5ad61a54c4e888538a0d97f93eefebd81b8c79eaf4111f36a18ff18199d6c721d420aee11c4ca");
  assert.ok(await p.verify(p.unhex(DEVICE_PUB), vector, approved));
  const rejected = await p.approvalBytes({ ...fields, bindingCode: null, decision: "reject" });
  assert.equal(text(rejected), [...head, "-", "reject", DEVICE_ID, "1767225600000"].join("\n"));
  // The SP name's length is in UTF-8 bytes.
  const danish = await p.approvalBytes({ ...fields, spName: "Bøger", bindingCode: null, decision: "reject" });
  assert.match(text(danish), /\n6:Bøger\n/);
});

test("only texts that can be shown exactly are signed", () => {
  assert.ok(p.showableText("Overfør 1.500,00 kr. til Jens Hansen"));
  assert.ok(p.showableText("Log on to sesam demo"));
  for (const bad of ["", "  ", "two\nlines", "bidi \u202e txt", "zero\u200bwidth", "tab\there", "line\u2028sep",
    "Cafe\u0301", "A\u030a"]) {
    assert.equal(p.showableText(bad), false, JSON.stringify(bad));
  }
});

test("base64url both ways", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(p.unb64(p.b64(all)), all);
  assert.equal(p.b64(p.bytes("nonce-nonce-nonce")), "bm9uY2Utbm9uY2Utbm9uY2U");
  assert.throws(() => p.unb64("not base64!"));
});

test("the management calls' PIN bindings, as the server builds them", () => {
  const other = "01920000-0000-7000-8000-0000000000cc";
  assert.equal(text(p.revokeBinding(`app:${other}`, DEVICE_ID)), `sesam-revoke/v1\napp:${other}\n${DEVICE_ID}`);
  assert.equal(text(p.revokeBinding("code_display:DEMO-0001", DEVICE_ID)), `sesam-revoke/v1\ncode_display:DEMO-0001\n${DEVICE_ID}`);
  assert.equal(text(p.channelAddBinding("email", "a@example.dk", DEVICE_ID)), `sesam-channel-add/v1\nemail:a@example.dk\n${DEVICE_ID}`);
  assert.equal(text(p.channelConfirmBinding(other, DEVICE_ID)), `sesam-channel-confirm/v1\n${other}\n${DEVICE_ID}`);
  assert.equal(text(p.channelRemoveBinding(other, DEVICE_ID)), `sesam-channel-remove/v1\n${other}\n${DEVICE_ID}`);
  assert.equal(text(p.channelOrderBinding([other, REQUEST_ID], DEVICE_ID)), `sesam-channel-order/v1\n${other},${REQUEST_ID}\n${DEVICE_ID}`);
  assert.equal(text(p.channelEveryUseBinding(true, DEVICE_ID)), `sesam-channel-every-use/v1\non\n${DEVICE_ID}`);
  assert.equal(text(p.channelEveryUseBinding(false, DEVICE_ID)), `sesam-channel-every-use/v1\noff\n${DEVICE_ID}`);
  assert.equal(text(p.chipRegistrationBinding(DEVICE_ID)), `sesam-chip/v1\n${DEVICE_ID}`);
  assert.equal(text(p.codeDisplayBinding("E2E-4711", DEVICE_ID)), `sesam-code-display/v1\nE2E-4711\n${DEVICE_ID}`);
  assert.equal(text(p.userIdChangeBinding("Anna.New", DEVICE_ID)), `sesam-user-id/v1\nAnna.New\n${DEVICE_ID}`);
  assert.equal(text(p.blockBinding(DEVICE_ID)), `sesam-block/v1\n${DEVICE_ID}`);
  // The user ID as the server keys it: trimmed, NFC, lower case.
  assert.equal(text(p.pairingBinding("  Anna.Hansen ", p.unhex("04ab"))), "sesam-pairing/v1\nanna.hansen\n04ab");
  assert.equal(p.userIdKey("Søren\u0301"), "søren\u0301".normalize("NFC"));
});

test("the waiting page's QR code: the request and the code, and nothing else", () => {
  assert.deepEqual(p.parseBindingQr(`sesam:approve?request=${REQUEST_ID}&code=0042`), { request: REQUEST_ID, code: "0042" });
  assert.deepEqual(p.parseBindingQr(`sesam:approve?request=${REQUEST_ID.toUpperCase()}&code=9999`), { request: REQUEST_ID, code: "9999" });
  for (const bad of [
    "", "sesam:approve", `sesam:approve?request=${REQUEST_ID}&code=123`, `sesam:approve?request=${REQUEST_ID}&code=12345`,
    `sesam:approve?code=1234&request=${REQUEST_ID}`, `https://evil.example/?request=${REQUEST_ID}&code=1234`,
    `sesam:approve?request=${REQUEST_ID}&code=1234&x=1`, `sesam:approve?request=not-a-uuid&code=1234`,
    `sesam:approve?request=${REQUEST_ID}&code=１２３４`, "x".repeat(10000), null, 42,
  ]) {
    assert.equal(p.parseBindingQr(bad), null, String(bad).slice(0, 60));
  }
});
