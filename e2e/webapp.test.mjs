// The web app at /app/ in a real Chromium on a phone-sized screen: a person enrolled with
// the operator CLI activates the app with the letter's code and the SMS code (read from
// the development outbox), chooses a user ID and a PIN; then logins started in another
// browser are approved in the app with the code the browser shows and the PIN (a wrong
// PIN first), rejected and reported ("this wasn't me"), and the demo service provider
// sees each outcome; a further app (the reference app) is paired with its code; the app
// opens offline from its service worker; Danish follows the browser, on a desktop screen;
// revoked from the other app, it says so and offers to activate again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { startServer, smsCode, launchBrowser, root } from "./support.mjs";

const PHONE = "+4522334455";
const PIN = "246810";
const USER_ID = "bo.jensen";
const shots = join(root, "target", "e2e");
let server;
let browser;
let app; // the phone: the activated web app's page
let secondApp; // the state file of the reference app paired in a test
const problems = [];

function watch(page) {
  // The refusals the tests provoke (wrong codes and PIN: HTTP 400; the revoked app: 401)
  // and the offline test's requests are logged by the browser as failed loads; anything
  // else (a script error, a policy violation) counts.
  page.on("console", (m) => {
    const expected = /^Failed to load resource: (the server responded with a status of 40[01]|net::ERR_INTERNET_DISCONNECTED)/;
    if (m.type() === "error" && !expected.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the web app's files: the page, its policy, the manifest and the service worker", async () => {
  const r = await fetch(`${server.base}/app/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^text\/html/);
  const csp = r.headers.get("content-security-policy");
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /connect-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe/);
  const manifest = await (await fetch(`${server.base}/app/manifest.webmanifest`)).json();
  assert.equal(manifest.start_url, "/app/");
  assert.equal(manifest.display, "standalone");
  assert.ok(manifest.icons.some((i) => i.sizes === "512x512"));
  assert.equal((await fetch(`${server.base}/app/nothing.js`)).status, 404);
});

test("activation with the letter's code and the SMS code, a chosen user ID and a PIN typed twice", async () => {
  const enrolled = server.admin("identity", "enrol", "--national-id", "0202902345", "--name", "Bo Jensen",
    "--birthdate", "1990-02-02", "--phone", PHONE);
  const phone = await browser.newContext({ locale: "en-GB", viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, hasTouch: true });
  app = await phone.newPage();
  watch(app);
  await app.goto(`${server.base}/app/`);
  await app.getByRole("heading", { name: "Activate the sesam app" }).waitFor();

  // A wrong letter code first.
  await app.getByLabel("Activation code from the letter").fill("ABCD-EFGH-JKLM");
  await app.getByRole("button", { name: "Continue" }).click();
  await app.getByRole("alert").getByText(/activation code is wrong/).waitFor();
  await app.getByLabel("Activation code from the letter").fill(enrolled.activation_code.toLowerCase());
  await app.getByRole("button", { name: "Continue" }).click();
  await app.getByTestId("sms-sent").getByText(/8-digit code by SMS to \+45/).waitFor();
  const code = await smsCode(server.base, PHONE);

  // The PINs must match; then a wrong SMS code, then the right one.
  await app.getByLabel("Code from the SMS").fill(code);
  await app.getByLabel("Choose your user ID").fill(USER_ID);
  await app.getByLabel("Choose a 6-digit PIN").fill(PIN);
  await app.getByLabel("Type the PIN again").fill("135790");
  await app.getByRole("button", { name: "Activate" }).click();
  await app.getByRole("alert").getByText(/not the same/).waitFor();
  const wrong = code === "00000000" ? "11111111" : "00000000";
  await app.getByLabel("Code from the SMS").fill(wrong);
  await app.getByLabel("Choose a 6-digit PIN").fill(PIN);
  await app.getByLabel("Type the PIN again").fill(PIN);
  await app.getByRole("button", { name: "Activate" }).click();
  await app.getByText(/The code from the SMS is wrong. You have 2 tries left/).waitFor();
  await app.screenshot({ path: join(shots, "webapp-activate.png"), fullPage: true });

  await app.getByLabel("Code from the SMS").fill(code);
  await app.getByLabel("Choose a 6-digit PIN").fill(PIN);
  await app.getByLabel("Type the PIN again").fill(PIN);
  await app.getByRole("button", { name: "Activate" }).click();
  await app.getByText(`The app is activated. Your user ID is ${USER_ID}.`).waitFor();
  assert.match(await app.getByTestId("who").innerText(), /bo\.jensen/);

  // The device key is a non-extractable P-256 key in IndexedDB; nothing in localStorage.
  const kept = await app.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.open("sesam-app");
    req.onsuccess = () => {
      const get = req.result.transaction("keys").objectStore("keys").get("device");
      get.onsuccess = () => {
        const d = get.result;
        resolve({ ecdsa: d.privateKey.algorithm.name, curve: d.privateKey.algorithm.namedCurve, extractable: d.privateKey.extractable,
          pinKey: d.pinKey.algorithm.name, pinKeyExtractable: d.pinKey.extractable, local: localStorage.length });
      };
      get.onerror = () => reject(get.error);
    };
    req.onerror = () => reject(req.error);
  }));
  assert.deepEqual(kept, { ecdsa: "ECDSA", curve: "P-256", extractable: false, pinKey: "HKDF", pinKeyExtractable: false, local: 0 });
  // The offline shell is installed.
  const sw = await app.evaluate(async () => (await navigator.serviceWorker.ready).active.scriptURL);
  assert.match(sw, /\/app\/sw\.js$/);
});

/** Starts a demo login in a fresh desktop browser and chooses the app; returns the page and the code. */
async function demoLoginWithApp() {
  const context = await browser.newContext({ locale: "en" });
  const page = await context.newPage();
  watch(page);
  await page.goto(`${server.base}/demo/login`);
  await page.waitForURL(/\/login\//);
  await page.getByLabel("User ID").fill(USER_ID);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: /The sesam app/ }).click();
  const code = (await page.getByTestId("binding-code").innerText()).trim();
  assert.match(code, /^\d{4}$/);
  return { context, page, code };
}

test("a login approved in the web app with the browser's code and the PIN (a wrong PIN first)", async () => {
  assert.ok(app, "the activation test ran");
  const { context, page, code } = await demoLoginWithApp();
  // The request appears by itself (long-poll), with the SP, the action and the text.
  const card = app.getByTestId("request");
  await card.waitFor({ timeout: 30000 });
  assert.equal(await card.getByTestId("sp-name").innerText(), "sesam demo");
  assert.match(await card.getByRole("heading").innerText(), /Log on/i);
  assert.equal(await card.getByTestId("transaction-text").innerText(), "Log on to sesam demo");
  assert.match(await card.getByTestId("time-left").innerText(), /^[0-3]:\d\d left$/);
  // Headless Chromium here has no QR reader (BarcodeDetector): no camera button, the code is typed.
  assert.equal(await app.evaluate(() => "BarcodeDetector" in globalThis), false);
  assert.equal(await card.getByRole("button", { name: /Scan the QR code/ }).count(), 0);

  await card.getByLabel("The 4-digit code the browser shows").fill(code);
  await card.getByLabel("Your PIN").fill("999999");
  await card.getByRole("button", { name: "Approve" }).click();
  await card.getByText(/The PIN is wrong. You have 2 tries left before the app is locked/).waitFor();
  await app.screenshot({ path: join(shots, "webapp-wrong-pin.png"), fullPage: true });

  await card.getByLabel("Your PIN").fill(PIN);
  await card.getByRole("button", { name: "Approve" }).click();
  await app.getByTestId("outcome").getByText("Approved. You can go back to sesam demo.").waitFor();
  await page.waitForURL(/\/demo\/callback/, { timeout: 15000 });
  assert.match(await page.getByTestId("id-token-claims").innerText(), /swk/);
  assert.match(await page.getByTestId("userinfo-claims").innerText(), /Bo Jensen/);
  await context.close();
});

test("a login rejected in the web app ends with the rejection page", async () => {
  const { context, page } = await demoLoginWithApp();
  const card = app.getByTestId("request");
  await card.waitFor({ timeout: 30000 });
  await card.getByRole("button", { name: "Reject" }).click();
  await app.getByTestId("outcome").getByText("Rejected. Nothing happened.").waitFor();
  await page.getByRole("heading", { name: "Declined in the app" }).waitFor({ timeout: 15000 });
  await context.close();
});

test("a further app asks to be paired; the web app approves it with the code it shows (a wrong code first)", async () => {
  const bin = process.env.SESAM_SESAM_APP_BIN ?? join(root, "target", "debug", "sesam-app");
  secondApp = join(server.dataDir, "second.app.json");
  const child = spawn(bin, ["--state", secondApp, "--json", "pair", "--server", server.base,
    "--user-id", USER_ID, "--pin", "112233", "--name", "Second phone", "--wait", "60"], { stdio: ["ignore", "pipe", "pipe"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const started = JSON.parse((await lines.next()).value);
  assert.equal(started.status, "started");
  const card = app.getByTestId("request");
  await card.waitFor({ timeout: 30000 });
  assert.match(await card.getByRole("heading").innerText(), /Activate a new app/i);
  assert.match(await card.getByTestId("transaction-text").innerText(), /«Second phone»/);
  const wrong = started.pairing_code === "0000" ? "1111" : "0000";
  await card.getByLabel("The 4-digit code the new app shows").fill(wrong);
  await card.getByLabel("Your PIN").fill(PIN);
  await card.getByRole("button", { name: "Approve" }).click();
  await card.getByText("The code does not match the one the new app shows.").waitFor();
  await card.getByLabel("The 4-digit code the new app shows").fill(started.pairing_code);
  await card.getByLabel("Your PIN").fill(PIN);
  await card.getByRole("button", { name: "Approve" }).click();
  await app.getByTestId("outcome").getByText("The new app is approved.").waitFor();
  const outcome = JSON.parse((await lines.next()).value);
  assert.equal(outcome.status, "approved");
  await new Promise((r) => child.once("exit", r));
});

test("\"this wasn't me\" declines, reports and offers to block", async () => {
  const { context, page } = await demoLoginWithApp();
  const card = app.getByTestId("request");
  await card.waitFor({ timeout: 30000 });
  await card.getByRole("button", { name: "This wasn't me" }).click();
  await app.getByTestId("outcome").getByText(/Rejected and reported/).waitFor();
  assert.ok(await app.getByRole("button", { name: "Block my sesam" }).isVisible());
  await page.getByRole("heading", { name: "Declined in the app" }).waitFor({ timeout: 15000 });
  await context.close();
});

test("offline, the app still opens (the service worker's shell) and says it cannot reach sesam", async () => {
  await app.context().setOffline(true);
  await app.reload();
  await app.getByRole("heading", { name: "Requests" }).waitFor();
  await app.getByText("Cannot reach sesam. We will try again shortly.").waitFor({ timeout: 15000 });
  await app.context().setOffline(false);
  await app.getByText("No requests right now. This list updates by itself.").waitFor({ timeout: 15000 });
});

test("in Danish, following the browser, and the language switch", async () => {
  const dk = await browser.newContext({ locale: "da-DK", viewport: { width: 1280, height: 800 } });
  const page = await dk.newPage();
  watch(page);
  await page.goto(`${server.base}/app/`);
  await page.getByRole("heading", { name: "Aktivér sesam-appen" }).waitFor();
  assert.ok(await page.getByLabel("Aktiveringskode fra brevet").isVisible());
  await page.screenshot({ path: join(shots, "webapp-desktop-da.png"), fullPage: true });
  await page.getByRole("button", { name: "English" }).click();
  await page.getByRole("heading", { name: "Activate the sesam app" }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), "en");
  await dk.close();
});

test("revoked from another app, the web app says so and offers to activate it again", async () => {
  assert.ok(secondApp, "the pairing test ran");
  const deviceId = await app.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.open("sesam-app");
    req.onsuccess = () => {
      const get = req.result.transaction("keys").objectStore("keys").get("device");
      get.onsuccess = () => resolve(get.result.deviceId);
      get.onerror = () => reject(get.error);
    };
    req.onerror = () => reject(req.error);
  }));
  server.app(secondApp, "revoke", deviceId, "--pin", "112233");
  await app.reload();
  await app.getByRole("alert").getByText(/no longer active on your sesam/).waitFor({ timeout: 15000 });
  await app.getByRole("button", { name: "Activate again" }).click();
  await app.getByRole("heading", { name: "Activate the sesam app" }).waitFor();
});

test("no script errors and no policy violations on any page", () => {
  assert.deepEqual(problems, []);
});
