// The web app's own management screens in Chromium on a phone-sized screen. A person with
// the reference app and the demo code display adds this browser as a further app (one
// pairing rejected, then one approved with the code the web app shows); approves a login
// by scanning the waiting page's QR code (a camera and a QR reader stand in, as headless
// Chromium has neither; a QR code of another request is refused); reads the activity and
// the messages; adds and confirms an e-mail channel (no PIN, a wrong PIN, a wrong code
// first), moves it up and turns on the message at every use; registers a chip with the
// DevTools virtual authenticator (a wrong password first) and logs in with it; renames
// this app, removes the other app (a wrong PIN first) and finally itself, after which it
// offers to activate again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServer, launchBrowser, personWithCodeDisplay, root } from "./support.mjs";

const USER_ID = "carl.madsen";
const PHONE = "+4523456789";
const PASSWORD = "correct horse battery";
const PIN = "864209";
const EMAIL = "carl@example.dk";
const shots = join(root, "target", "e2e");
let server;
let browser;
let context;
let app;
let reference; // the reference app's state file
const problems = [];

function watch(page) {
  page.on("console", (m) => {
    const expected = /^Failed to load resource: the server responded with a status of 40[0134]/;
    if (m.type() === "error" && !expected.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
}

/** The newest message of `event` the development outbox holds for `to`. */
async function outboxText(to, event) {
  for (let i = 0; i < 100; i++) {
    const { messages } = await (await fetch(`${server.base}/dev/outbox?format=json`)).json();
    const m = messages.find((x) => x.to === to && x.event === event); // the newest first
    if (m) return m.text;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${event} for ${to}`);
}

/** Nothing on the screen is wider than the 390-px phone: no sideways scrolling. */
async function fitsThePhone() {
  const { scroll, width } = await app.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  assert.ok(scroll <= width, `the page is ${scroll} px wide on a ${width}-px screen`);
}

/** The requests waiting in the reference app, once there is one. */
function referenceRequests() {
  return JSON.parse(server.app(reference, "--json", "requests", "--wait", "20")).requests;
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
  ({ state: reference } = await personWithCodeDisplay(server, { userId: USER_ID, nationalId: "0101903456", phone: PHONE, password: PASSWORD }));
  context = await browser.newContext({ locale: "en-GB", viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, hasTouch: true });
  // Headless Chromium has no camera and no QR reader: these stand in for both. The
  // reader "sees" whatever the test puts in window.__qr.
  await context.addInitScript(() => {
    globalThis.BarcodeDetector = class {
      async detect() { return globalThis.__qr ? [{ rawValue: globalThis.__qr }] : []; }
    };
    navigator.mediaDevices.getUserMedia = async () => {
      const canvas = document.createElement("canvas");
      canvas.width = 64;
      canvas.height = 64;
      canvas.getContext("2d").fillRect(0, 0, 64, 64);
      return canvas.captureStream(5);
    };
  });
  app = await context.newPage();
  watch(app);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a further app: rejected once from the other app, then approved there with the code it shows", async () => {
  await app.goto(`${server.base}/app/`);
  await app.getByRole("button", { name: "Add as a further app" }).click();
  await app.getByRole("heading", { name: /already have the sesam app/ }).waitFor();
  await app.getByLabel("Your user ID").fill(USER_ID);
  await app.getByLabel("Choose a 6-digit PIN").fill(PIN);
  await app.getByLabel("Type the PIN again").fill("111111");
  await app.getByRole("button", { name: "Continue" }).click();
  await app.getByRole("alert").getByText(/not the same/).waitFor();
  await app.getByLabel("Choose a 6-digit PIN").fill(PIN);
  await app.getByLabel("Type the PIN again").fill(PIN);
  await app.getByRole("button", { name: "Continue" }).click();
  const first = (await app.getByTestId("pairing-code").innerText()).trim();
  assert.match(first, /^\d{4}$/);
  let [request] = referenceRequests();
  assert.equal(request.kind, "activate_app");
  server.app(reference, "reject", request.id);
  await app.getByText("The new app was rejected in your other app.").waitFor({ timeout: 15000 });

  await app.getByRole("button", { name: "Try again" }).click();
  await app.getByLabel("Your user ID").fill(USER_ID);
  await app.getByLabel("Name of this device").fill("Carl's browser");
  await app.getByLabel("Choose a 6-digit PIN").fill(PIN);
  await app.getByLabel("Type the PIN again").fill(PIN);
  await app.getByRole("button", { name: "Continue" }).click();
  const code = (await app.getByTestId("pairing-code").innerText()).trim();
  await app.screenshot({ path: join(shots, "webapp-pairing.png"), fullPage: true });
  await fitsThePhone();
  [request] = referenceRequests();
  const wrong = code === "0000" ? "1111" : "0000";
  assert.throws(() => server.app(reference, "approve", request.id, "--pin", "123456", "--binding-code", wrong), /code/);
  // Reloaded while waiting, the app still waits for this pairing.
  await app.reload();
  assert.equal((await app.getByTestId("pairing-code").innerText()).trim(), code);
  server.app(reference, "approve", request.id, "--pin", "123456", "--binding-code", code);
  await app.getByText(`This app is activated for user ID ${USER_ID}.`).waitFor({ timeout: 15000 });
  assert.match(await app.getByTestId("who").innerText(), /Carl's browser/);
});

test("a login approved by scanning the waiting page's QR code (another request's QR code refused)", async () => {
  const desktop = await browser.newContext({ locale: "en" });
  const page = await desktop.newPage();
  watch(page);
  await page.goto(`${server.base}/demo/login`);
  await page.waitForURL(/\/login\//);
  await page.getByLabel("User ID").fill(USER_ID);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: /The sesam app/ }).click();
  const code = (await page.getByTestId("binding-code").innerText()).trim();

  const card = app.getByTestId("request");
  await card.waitFor({ timeout: 30000 });
  const id = (await card.getByRole("heading").getAttribute("id")).replace(/^head-/, "");
  await app.evaluate(() => { globalThis.__qr = "sesam:approve?request=01920000-0000-7000-8000-000000000001&code=1234"; });
  await card.getByRole("button", { name: "Scan the QR code in the browser instead" }).click();
  await card.getByText("That QR code is not for this request.", { exact: false }).waitFor();
  await app.evaluate(([i, c]) => { globalThis.__qr = `sesam:approve?request=${i}&code=${c}`; }, [id, code]);
  await app.waitForFunction((i) => document.getElementById(`code-${i}`)?.value.length === 4, id);
  assert.equal(await card.getByLabel("The 4-digit code the browser shows").inputValue(), code);
  // The camera is off once the code is read.
  assert.equal(await card.locator("video").count(), 0);
  assert.equal(await app.evaluate(() => [...document.querySelectorAll("video")].some((v) => v.srcObject?.active)), false);
  await card.getByLabel("Your PIN").fill(PIN);
  await card.getByRole("button", { name: "Approve" }).click();
  await app.getByTestId("outcome").getByText("Approved. You can go back to sesam demo.").waitFor();
  await page.waitForURL(/\/demo\/callback/, { timeout: 15000 });
  await desktop.close();
});

test("activity and messages: the approved login and the messages sent, in local time and plain words", async () => {
  await app.getByRole("button", { name: "Activity" }).click();
  await app.getByRole("heading", { name: "Activity and messages" }).waitFor();
  const history = app.getByTestId("history");
  await history.waitFor();
  assert.match(await history.innerText(), /sesam demo · Log on/);
  assert.match(await history.innerText(), /Approved · today at \d\d:\d\d/);
  const sent = await app.getByTestId("sent").innerText();
  assert.match(sent, /New app activated/);
  assert.match(sent, /SMS to \+45/);
  assert.match(sent, /In the app · sent · today at/);
  // In Danish, the same in Danish words.
  await app.getByRole("button", { name: "Dansk" }).click();
  await app.getByRole("heading", { name: "Aktivitet og beskeder" }).waitFor();
  assert.match(await app.getByTestId("history").innerText(), /Godkendt · i dag kl\. \d\d[.:]\d\d/);
  await app.getByRole("button", { name: "English" }).click();
  await app.getByRole("heading", { name: "Activity and messages" }).waitFor();
  await app.screenshot({ path: join(shots, "webapp-activity.png"), fullPage: true });
  assert.doesNotMatch(await app.locator("main").innerText(), /\b(null|undefined)\b/);
  await fitsThePhone();
});

test("channels: an e-mail added and confirmed with the PIN (none, a wrong one, a wrong code first), moved up, every use on", async () => {
  await app.getByRole("button", { name: "Messages to you" }).click();
  await app.getByRole("heading", { name: "Messages to you" }).waitFor();
  await app.getByTestId("channels").waitFor();
  assert.equal(await app.getByTestId("channel").count(), 1);
  const add = app.getByTestId("add-channel");
  await add.getByRole("radio", { name: "E-mail" }).check();
  await add.getByLabel("Phone number or e-mail address").fill(EMAIL);
  await add.getByRole("button", { name: "Add" }).click();
  await add.getByText("The PIN must be exactly 6 digits.").waitFor();
  await add.getByLabel("Your PIN").fill("000000");
  await add.getByRole("button", { name: "Add" }).click();
  await add.getByText(/The PIN is wrong. You have 2 tries left/).waitFor();
  await add.getByLabel("Your PIN").fill(PIN);
  await add.getByRole("button", { name: "Add" }).click();
  await app.getByTestId("notice").getByText(`We sent a code to ${EMAIL}.`, { exact: false }).waitFor();
  const code = (await outboxText(EMAIL, "channel.confirmation_code")).match(/\b\d{6}\b/)[0];

  const confirm = app.getByTestId("confirm-channel");
  await confirm.getByLabel("The code we sent").fill(code === "000000" ? "111111" : "000000");
  await confirm.getByLabel("Your PIN").fill(PIN);
  await confirm.getByRole("button", { name: "Confirm" }).click();
  await confirm.getByText(/The code is wrong. You have \d tries left./).waitFor();
  await confirm.getByLabel("The code we sent").fill(code);
  await confirm.getByLabel("Your PIN").fill(PIN);
  await confirm.getByRole("button", { name: "Confirm" }).click();
  await app.getByTestId("notice").getByText(`${EMAIL} is confirmed.`).waitFor();

  const email = app.getByTestId("channel").nth(1);
  assert.match(await email.innerText(), /E-mail: carl@example\.dk/);
  await email.getByRole("button", { name: "Move up: carl@example.dk" }).click();
  await email.getByLabel("Your PIN").fill(PIN);
  await email.getByRole("button", { name: "Move up", exact: true }).click();
  await app.getByTestId("notice").getByText("The order is saved.").waitFor();
  assert.match(await app.getByTestId("channel").first().innerText(), /^1\. E-mail: carl@example\.dk/);

  assert.match(await app.getByTestId("every-use-state").innerText(), /^Off/);
  await app.getByTestId("every-use").getByRole("button", { name: "Notify me at every use" }).click();
  await app.getByTestId("every-use").getByLabel("Your PIN").fill(PIN);
  await app.getByTestId("every-use").getByRole("button", { name: "Notify me at every use" }).click();
  await app.getByTestId("notice").getByText("You now get a message every time your sesam is used.").waitFor();
  assert.match(await app.getByTestId("every-use-state").innerText(), /^On/);
  await app.screenshot({ path: join(shots, "webapp-channels.png"), fullPage: true });
  assert.doesNotMatch(await app.locator("main").innerText(), /\b(null|undefined)\b/);
  await fitsThePhone();
});

test("a chip registered from the web app with the DevTools virtual authenticator (a wrong password first), then a login with it", async () => {
  const cdp = await context.newCDPSession(app);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "usb", hasResidentKey: false, hasUserVerification: false, automaticPresenceSimulation: true },
  });
  await app.getByRole("button", { name: "Devices" }).click();
  await app.getByRole("heading", { name: "Your devices" }).waitFor();
  const form = app.getByTestId("chip-form");
  await form.getByLabel("Your password").fill("not the password");
  await form.getByLabel("Your PIN").fill(PIN);
  await form.getByRole("button", { name: "Add a chip" }).click();
  await form.getByText(/The password is wrong/).waitFor();
  await form.getByLabel("Your password").fill(PASSWORD);
  await form.getByLabel("Your PIN").fill(PIN);
  await form.getByRole("button", { name: "Add a chip" }).click();
  const said = app.getByTestId("notice").or(form.locator(".error"));
  await said.waitFor({ timeout: 15000 });
  assert.equal(await said.innerText(), "The chip is added. You can now log in with it.");
  assert.equal(await app.getByTestId("chip").count(), 1);
  assert.equal(await app.getByTestId("chip-form").count(), 0, "one chip at a time");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1);

  // And a login with it: the same browser, the same virtual key, the login pages' chip step.
  await app.goto(`${server.base}/demo/login`);
  await app.waitForURL(/\/login\//);
  await app.getByLabel("User ID").fill(USER_ID);
  await app.getByRole("button", { name: "Continue" }).click();
  await app.getByRole("link", { name: /Chip and password/ }).click();
  await app.getByLabel("Password").fill(PASSWORD);
  await app.getByRole("button", { name: "Use chip" }).click();
  await app.waitForURL(/\/demo\/callback/, { timeout: 15000 });
  assert.match(await app.getByTestId("userinfo-claims").innerText(), /Anna Hansen/);
  await app.goto(`${server.base}/app/`);
  await app.getByRole("heading", { name: "Requests" }).waitFor();
});

test("devices: this app renamed, the other app removed with the PIN (a wrong one first), then this app itself", async () => {
  await app.getByRole("button", { name: "Devices" }).click();
  const mine = app.getByTestId("this-app");
  await mine.waitFor();
  assert.match(await mine.innerText(), /Carl's browser · this app/);
  assert.match(await mine.innerText(), /Added today at/);
  assert.match(await app.getByTestId("code-display").innerText(), /DEMO-0001/);
  await mine.getByLabel("Name of this app").fill("Carl's laptop");
  await mine.getByRole("button", { name: "Save the name" }).click();
  await app.getByTestId("notice").getByText("The app is now called “Carl's laptop”.").waitFor();
  assert.match(await app.getByTestId("this-app").innerText(), /Carl's laptop/);

  const other = app.getByTestId("app");
  assert.match(await other.innerText(), /e2e phone/);
  await other.getByRole("button", { name: "Remove: e2e phone" }).click();
  await other.getByLabel("Your PIN").fill("000000");
  await other.getByRole("button", { name: "Yes, remove" }).click();
  await other.getByText(/The PIN is wrong. You have 2 tries left/).waitFor();
  await other.getByLabel("Your PIN").fill(PIN);
  await other.getByRole("button", { name: "Yes, remove" }).click();
  await app.getByTestId("notice").getByText("“e2e phone” is removed.", { exact: false }).waitFor();
  assert.equal(await app.getByTestId("app").count(), 0);
  assert.throws(() => server.app(reference, "requests"), /revoked|not active|unknown/);
  await app.screenshot({ path: join(shots, "webapp-devices.png"), fullPage: true });
  assert.doesNotMatch(await app.locator("main").innerText(), /\b(null|undefined)\b/);
  await fitsThePhone();

  await app.getByTestId("this-app").getByRole("button", { name: "Remove this app" }).click();
  await app.getByTestId("this-app").getByLabel("Your PIN").fill(PIN);
  await app.getByTestId("this-app").getByRole("button", { name: "Yes, remove" }).click();
  await app.getByRole("heading", { name: "Activate the sesam app" }).waitFor();
  await app.getByText("This app is removed, and its keys are deleted from this browser.").waitFor();
  const kept = await app.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.open("sesam-app");
    req.onsuccess = () => {
      const get = req.result.transaction("keys").objectStore("keys").get("device");
      get.onsuccess = () => resolve(get.result ?? null);
      get.onerror = () => reject(get.error);
    };
    req.onerror = () => reject(req.error);
  }));
  assert.equal(kept, null);
});

test("no script errors and no policy violations on any management screen", () => {
  assert.deepEqual(problems, []);
});
