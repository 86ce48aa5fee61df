// The web app's bad paths, in Chromium on a phone-sized screen: a payment started with
// `authorization_details` shows its amount and payee before it is approved; the
// connection lost mid-approval (after sesam got the answer, and before) never approves
// twice, and the app says what happened once it can ask; a malformed and a huge answer
// from the server give a clear message and lose nothing; the "Notifications" switch
// registers the browser's push subscription with sesam (a local push receiver stands in
// for the push service and decrypts what sesam sends, RFC 8291), the service worker
// registers a subscription the push service replaced, and the switch removes it again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createECDH, createHash, createHmac, createDecipheriv, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServer, launchBrowser, activateWebApp, root } from "./support.mjs";

const PHONE = "+4529876543";
const USER_ID = "hanne.vest";
const PIN = "314159";
const shots = join(root, "target", "e2e");
let server;
let browser;
let app;
let bank; // a service provider that asks for payments
const problems = [];

function watch(page) {
  // The refusals and the connections the tests break on purpose.
  page.on("console", (m) => {
    const expected = /^Failed to load resource: (the server responded with a status of 40[0-4]|net::ERR_(CONNECTION_RESET|FAILED|INTERNET_DISCONNECTED))/;
    if (m.type() === "error" && !expected.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
}

const b64url = (buf) => Buffer.from(buf).toString("base64url");

/** Starts a login at the bank in a desktop browser (with `details` as authorization_details). */
async function bankLogin(details) {
  const context = await browser.newContext({ locale: "en" });
  const page = await context.newPage();
  watch(page);
  const verifier = b64url(randomBytes(32));
  const url = new URL(`${server.base}/authorize`);
  for (const [k, v] of Object.entries({
    response_type: "code", client_id: bank, redirect_uri: `${server.base}/bank/cb`, scope: "openid",
    state: b64url(randomBytes(12)), nonce: b64url(randomBytes(12)),
    code_challenge: b64url(createHash("sha256").update(verifier).digest()), code_challenge_method: "S256",
    ...(details ? { authorization_details: JSON.stringify(details) } : {}),
  })) url.searchParams.set(k, v);
  await page.goto(url.toString());
  await page.waitForURL(/\/login\//);
  await page.getByLabel("User ID").fill(USER_ID);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: /The sesam app/ }).click();
  const code = (await page.getByTestId("binding-code").innerText()).trim();
  return { context, page, code };
}

/** The one request card, once it is shown. */
async function card() {
  const c = app.getByTestId("request");
  await c.waitFor({ timeout: 30000 });
  return c;
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  server = await startServer({ env: () => ({ SESAM_PUSH_ALLOW_LOCAL_ENDPOINTS: "true" }) });
  browser = await launchBrowser();
  bank = server.admin("sp", "add", "--name", "Vest Bank", "--redirect-uri", `${server.base}/bank/cb`).client_id;
  const enrolled = server.admin("identity", "enrol", "--national-id", "0808904321", "--name", "Hanne Vest",
    "--birthdate", "1990-08-08", "--phone", PHONE, "--user-id", USER_ID);
  const phone = await browser.newContext({ locale: "en-GB", viewport: { width: 390, height: 844 }, hasTouch: true });
  app = await phone.newPage();
  watch(app);
  await activateWebApp(server, app, { activationCode: enrolled.activation_code, phone: PHONE, pin: PIN });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a payment shows its amount and payee as the text approved, and is approved", async () => {
  const { context, page, code } = await bankLogin([{
    type: "payment_initiation",
    instructedAmount: { currency: "DKK", amount: "1500.00" },
    creditorName: "Jens Hansen",
    creditorAccount: { iban: "DK50 0040 0440 1162 43" },
  }]);
  const c = await card();
  assert.match(await c.getByRole("heading").innerText(), /Approve[\s\S]*Vest Bank/i);
  const text = await c.getByTestId("transaction-text").innerText();
  assert.match(text, /1[.,]500[.,]00/);
  assert.match(text, /DKK|kr\./);
  assert.match(text, /Jens Hansen/);
  assert.match(text, /DK50 0040 0440 1162 43/);
  await app.screenshot({ path: join(shots, "webapp-payment.png"), fullPage: true });
  await c.getByLabel("The 4-digit code the browser shows").fill(code);
  await c.getByLabel("Your PIN").fill(PIN);
  await c.getByRole("button", { name: "Approve" }).click();
  await app.getByTestId("outcome").getByText("Approved. You can go back to Vest Bank.").waitFor();
  await page.waitForURL(/\/bank\/cb\?/, { timeout: 15000 });
  assert.match(page.url(), /[?&]code=/);
  await context.close();
});

test("the connection lost after sesam got the approval: approved once, and the app says so", async () => {
  const { context, page, code } = await bankLogin();
  const c = await card();
  let answered = 0;
  await app.route("**/app/v1/approvals/*/approve", async (route) => {
    const response = await route.fetch(); // sesam gets the answer and approves …
    answered = response.status();
    await route.abort("connectionreset"); // … and the answer never reaches the app
  });
  await c.getByLabel("The 4-digit code the browser shows").fill(code);
  await c.getByLabel("Your PIN").fill(PIN);
  await c.getByRole("button", { name: "Approve" }).click();
  await app.getByTestId("outcome").getByText("The connection was lost, but your approval arrived: it is approved.", { exact: false }).waitFor({ timeout: 20000 });
  await app.unroute("**/app/v1/approvals/*/approve");
  assert.equal(answered, 200);
  await page.waitForURL(/\/bank\/cb\?/, { timeout: 15000 });
  // One approval: the activity lists it once.
  await app.getByRole("button", { name: "Activity" }).click();
  const history = app.getByTestId("history");
  await history.waitFor();
  assert.equal((await history.innerText()).match(/Approved · /g)?.length, 2, "the payment and this login, once each");
  await app.getByRole("button", { name: "Requests" }).click();
  await context.close();
});

test("the connection lost before sesam got the approval: still waiting, said so, answered again", async () => {
  const { context, page, code } = await bankLogin();
  const c = await card();
  await app.route("**/app/v1/approvals/*/approve", (route) => route.abort("connectionreset"));
  await c.getByLabel("The 4-digit code the browser shows").fill(code);
  await c.getByLabel("Your PIN").fill(PIN);
  await c.getByRole("button", { name: "Approve" }).click();
  await c.getByText("Your answer did not arrive, and the request is still waiting. You can answer it again.").waitFor({ timeout: 20000 });
  await app.unroute("**/app/v1/approvals/*/approve");
  await c.getByLabel("Your PIN").fill(PIN);
  await c.getByRole("button", { name: "Approve" }).click();
  await app.getByTestId("outcome").getByText("Approved. You can go back to Vest Bank.").waitFor();
  await page.waitForURL(/\/bank\/cb\?/, { timeout: 15000 });
  await context.close();
});

test("a malformed and a huge answer from sesam: a clear message, and the request is still there", async () => {
  const list = /\/app\/v1\/approvals(\?.*)?$/;
  const { context, page, code } = await bankLogin();
  await app.route(list, (route) => route.fulfill({ status: 200, contentType: "application/json", body: "<html>not json" }));
  await app.reload();
  await app.getByRole("heading", { name: "Requests" }).waitFor();
  await app.getByText("sesam answered something this app does not understand. Try again shortly.").waitFor({ timeout: 20000 });
  assert.equal(await app.getByTestId("request").count(), 0);
  await app.unroute(list);
  // Several megabytes of a well-formed list: refused unread, said the same way.
  const huge = JSON.stringify({ requests: [{ id: "x", text: "A".repeat(6 << 20) }] });
  await app.route(list, (route) => route.fulfill({ status: 200, contentType: "application/json", body: huge }));
  await app.reload();
  await app.getByText("sesam answered something this app does not understand. Try again shortly.").waitFor({ timeout: 20000 });
  assert.equal(await app.getByTestId("request").count(), 0);
  await app.unroute(list);
  // Nothing lost: the request is shown and approved.
  const c = await card();
  await c.getByLabel("The 4-digit code the browser shows").fill(code);
  await c.getByLabel("Your PIN").fill(PIN);
  await c.getByRole("button", { name: "Approve" }).click();
  await app.getByTestId("outcome").getByText("Approved. You can go back to Vest Bank.").waitFor();
  await page.waitForURL(/\/bank\/cb\?/, { timeout: 15000 });
  await context.close();
});

/** Opens an RFC 8291 message (aes128gcm, one record) with the subscription's keys. */
function decryptPush(body, ua, auth) {
  const salt = body.subarray(0, 16);
  const idlen = body[20];
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  const hmac = (key, data) => createHmac("sha256", key).update(data).digest();
  const secret = ua.computeSecret(asPublic);
  const prkKey = hmac(auth, secret);
  const ikm = hmac(prkKey, Buffer.concat([Buffer.from("WebPush: info\0"), ua.getPublicKey(), asPublic, Buffer.from([1])]));
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from("Content-Encoding: aes128gcm\0\x01", "latin1")).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from("Content-Encoding: nonce\0\x01", "latin1")).subarray(0, 12);
  const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  return padded.subarray(0, padded.lastIndexOf(2)).toString("utf8");
}

test("the Notifications switch: on registers the subscription and sesam pushes a login; off removes it", async () => {
  // The push service: a local receiver that keeps what it gets.
  const received = [];
  const receiver = createServer((req, res) => {
    const chunks = [];
    req.on("data", (d) => chunks.push(d));
    req.on("end", () => { received.push({ url: req.url, headers: req.headers, body: Buffer.concat(chunks) }); res.writeHead(201).end(); });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  const ua = createECDH("prime256v1");
  ua.generateKeys();
  const auth = randomBytes(16);
  const endpoint = `http://127.0.0.1:${receiver.address().port}/push/hanne`;
  // Headless Chromium has no push service: the browser's subscription stands in, with
  // this receiver as its endpoint and real keys.
  await app.context().grantPermissions(["notifications"], { origin: server.base });
  await app.context().addInitScript(({ endpoint, p256dh, auth }) => {
    let current = null;
    PushManager.prototype.subscribe = async function (options) {
      current = {
        endpoint,
        options: { applicationServerKey: options.applicationServerKey },
        toJSON: () => ({ endpoint, keys: { p256dh, auth } }),
        unsubscribe: async () => { current = null; return true; },
      };
      return current;
    };
    PushManager.prototype.getSubscription = async function () { return current; };
  }, { endpoint, p256dh: b64url(ua.getPublicKey()), auth: b64url(auth) });
  await app.reload();
  const sw = app.getByRole("switch", { name: "Notifications" });
  await sw.waitFor();
  assert.equal(await sw.isChecked(), false);
  await sw.check();
  await app.getByText("You will be told when a request waits.").waitFor();

  const { context, page } = await bankLogin();
  for (let i = 0; i < 150 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(received.length, 1, "one push for the login");
  const [push] = received;
  assert.equal(push.headers["content-encoding"], "aes128gcm");
  assert.match(push.headers.authorization, /^vapid t=[^,]+, k=/);
  assert.equal(push.url, "/push/hanne");
  assert.deepEqual(JSON.parse(decryptPush(push.body, ua, auth)), { type: "pending" });
  await (await card()).getByRole("button", { name: "Reject" }).click();
  await app.getByTestId("outcome").getByText("Rejected. Nothing happened.").waitFor();
  await page.getByRole("heading", { name: "Declined in the app" }).waitFor({ timeout: 15000 });
  await context.close();

  // The push service replaces the subscription: the service worker subscribes again and
  // tells sesam itself (a device-signed call), with no page of the app doing anything.
  const worker = app.context().serviceWorkers().find((w) => w.url().endsWith("/app/sw.js"));
  assert.ok(worker, "the app's service worker runs");
  const renewed = `http://127.0.0.1:${receiver.address().port}/push/renewed`;
  await worker.evaluate(({ endpoint, p256dh, auth }) => new Promise((resolve, reject) => {
    PushManager.prototype.subscribe = async () => ({ endpoint, toJSON: () => ({ endpoint, keys: { p256dh, auth } }) });
    // A script-made event cannot extend the worker's life: its promise is awaited here.
    const event = new ExtendableEvent("pushsubscriptionchange");
    event.waitUntil = (p) => { p.then(resolve, reject); };
    setTimeout(() => reject(new Error("the worker did not finish")), 15000);
    self.dispatchEvent(event);
  }), { endpoint: renewed, p256dh: b64url(ua.getPublicKey()), auth: b64url(auth) });
  const second = await bankLogin();
  for (let i = 0; i < 150 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(received.length, 2, "one push for the second login");
  assert.equal(received[1].url, "/push/renewed", "sent to the renewed subscription");
  assert.deepEqual(JSON.parse(decryptPush(received[1].body, ua, auth)), { type: "pending" });
  await (await card()).getByRole("button", { name: "Reject" }).click();
  await app.getByTestId("outcome").getByText("Rejected. Nothing happened.").waitFor();
  await second.context.close();

  await sw.uncheck();
  await app.getByText("Notifications are off.").waitFor();
  assert.equal(await sw.isChecked(), false);
  // Reloaded, the switch says the same.
  await app.reload();
  await app.getByRole("switch", { name: "Notifications" }).waitFor();
  assert.equal(await app.getByRole("switch", { name: "Notifications" }).isChecked(), false);
  receiver.close();
});

test("no script errors and no policy violations", () => {
  assert.deepEqual(problems, []);
});
