// The web app at its limits, in Chromium on a phone-sized screen, with the server's own
// clock (no test hooks: the waits are real). A login shown in the app runs out its three
// minutes while the person looks at it: the app says so in plain words and no longer
// offers to approve. Three wrong PINs lock the app for 15 minutes, said in plain words,
// and the right PIN is refused while it is locked. A new activation letter (issued at
// the counter after a lost phone) activates a new browser as the person's app again,
// with the user ID they have.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServer, launchBrowser, root } from "./support.mjs";

const PHONE = "+4524681357";
const USER_ID = "dorte.holm";
const PIN = "975310";
const shots = join(root, "target", "e2e");
let server;
let browser;
let app;
const problems = [];

function watch(page) {
  // Wrong PINs (400), the locked app (403).
  page.on("console", (m) => {
    const expected = /^Failed to load resource: the server responded with a status of 40[03]/;
    if (m.type() === "error" && !expected.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
}

/** The SMS codes sent to the phone so far, the newest first. */
async function smsCodes() {
  const { messages } = await (await fetch(`${server.base}/dev/outbox?format=json`)).json();
  return messages.filter((m) => m.to === PHONE && m.event === "activation.temporary_pin").map((m) => m.text.match(/\b\d{8}\b/)?.[0]);
}

/** The SMS code sent after `before` codes were. */
async function newSmsCode(before) {
  for (let i = 0; i < 100; i++) {
    const codes = await smsCodes();
    if (codes.length > before) return codes[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("no new SMS code");
}

/** Activates a fresh phone-sized browser with `activationCode`; returns its page. */
async function activate(activationCode, { newUserId } = {}) {
  const phone = await browser.newContext({ locale: "en-GB", viewport: { width: 390, height: 844 }, hasTouch: true });
  const page = await phone.newPage();
  watch(page);
  await page.goto(`${server.base}/app/`);
  const before = (await smsCodes()).length;
  await page.getByLabel("Activation code from the letter").fill(activationCode);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByTestId("sms-sent").waitFor();
  await page.getByLabel("Code from the SMS").fill(await newSmsCode(before));
  if (newUserId) await page.getByLabel("Choose your user ID").fill(newUserId);
  else assert.equal(await page.getByLabel("Choose your user ID").count(), 0, "the user ID stays");
  await page.getByLabel("Choose a 6-digit PIN").fill(PIN);
  await page.getByLabel("Type the PIN again").fill(PIN);
  await page.getByRole("button", { name: "Activate" }).click();
  const said = page.getByText(`The app is activated. Your user ID is ${USER_ID}.`).or(page.locator(".error"));
  await said.waitFor();
  assert.equal(await said.innerText(), `The app is activated. Your user ID is ${USER_ID}.`);
  return page;
}

/** Starts a demo login with the app in a desktop browser; returns its context and code. */
async function demoLogin() {
  const context = await browser.newContext({ locale: "en" });
  const page = await context.newPage();
  watch(page);
  await page.goto(`${server.base}/demo/login`);
  await page.waitForURL(/\/login\//);
  await page.getByLabel("User ID").fill(USER_ID);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: /The sesam app/ }).click();
  return { context, code: (await page.getByTestId("binding-code").innerText()).trim() };
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
  const enrolled = server.admin("identity", "enrol", "--national-id", "0404904567", "--name", "Dorte Holm",
    "--birthdate", "1990-04-04", "--phone", PHONE);
  app = await activate(enrolled.activation_code, { newUserId: USER_ID });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a login that runs out its time while shown says so and cannot be approved any more", async () => {
  const { context, code } = await demoLogin();
  const card = app.getByTestId("request");
  await card.waitFor({ timeout: 30000 });
  await card.getByLabel("The 4-digit code the browser shows").fill(code);
  // The request lasts three minutes on the server's clock; the person waits too long.
  await card.getByText("The request has expired (it lasts 3 minutes). Start again in the browser.").waitFor({ timeout: 200000 });
  assert.equal(await card.getByTestId("time-left").innerText(), "Expired");
  assert.ok(await card.getByRole("button", { name: "Approve" }).isDisabled());
  await app.screenshot({ path: join(shots, "webapp-expired.png"), fullPage: true });
  // Then it is taken away.
  await card.waitFor({ state: "detached", timeout: 20000 });
  await context.close();
});

test("three wrong PINs lock the app, said in plain words; the right PIN is refused while locked", async () => {
  const { context, code } = await demoLogin();
  const card = app.getByTestId("request");
  await card.waitFor({ timeout: 30000 });
  const tryPin = async (pin) => {
    await card.getByLabel("The 4-digit code the browser shows").fill(code);
    await card.getByLabel("Your PIN").fill(pin);
    await card.getByRole("button", { name: "Approve" }).click();
  };
  await tryPin("111111");
  await card.getByText("The PIN is wrong. You have 2 tries left before the app is locked.").waitFor();
  await tryPin("222222");
  await card.getByText("The PIN is wrong. You have 1 try left before the app is locked.").waitFor();
  await tryPin("333333");
  await card.getByText(/^The PIN was wrong 3 times, so the app is locked for 15 minutes, until \d\d:\d\d\. Try again then\.$/).waitFor();
  await app.screenshot({ path: join(shots, "webapp-locked.png"), fullPage: true });
  // The right PIN now is refused while locked; nothing is approved.
  await tryPin(PIN);
  await card.getByText(/^The app is locked until \d\d:\d\d after wrong PINs\. Try again then\.$/).waitFor();
  await card.getByRole("button", { name: "Reject" }).click();
  await app.getByTestId("outcome").getByText("Rejected. Nothing happened.").waitFor();
  await context.close();
});

test("a new letter after a lost phone activates this browser as the person's app again", async () => {
  const letter = server.admin("identity", "reissue", USER_ID, "--reason", "phone lost");
  assert.match(letter.activation_code, /^[A-Z0-9-]+$/);
  const again = await activate(letter.activation_code);
  assert.match(await again.getByTestId("who").innerText(), new RegExp(USER_ID.replace(".", "\\.")));
  await again.getByRole("button", { name: "Devices" }).click();
  await again.getByTestId("this-app").waitFor();
  // The locked app on the other phone is still the person's until they remove it here.
  assert.equal(await again.getByTestId("app").count(), 1);
});

test("no script errors and no policy violations", () => {
  assert.deepEqual(problems, []);
});
