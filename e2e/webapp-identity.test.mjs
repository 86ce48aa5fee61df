// The person's own identity in the web app, in Chromium on a phone-sized screen: a code
// display the operator imported (a PSKC file of a fresh seed) is activated from the app
// with its serial number and two codes in a row (wrong codes first, said in plain
// words), and is then listed and usable at login; the user ID is changed with the PIN
// (a taken one, a bad one and a wrong PIN first), every channel told and the old ID kept
// for the person; a login the person did not start is reported ("this wasn't me") and the
// identity blocked from the offer, with the PIN.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServer, launchBrowser, activateWebApp, codeDisplayFile, currentStep, totp, root } from "./support.mjs";

const PHONE = "+4526813579";
const USER_ID = "eva.lund";
const PIN = "130579";
const PASSWORD = "a long walk home";
const SERIAL = "E2E-4711";
const shots = join(root, "target", "e2e");
let server;
let browser;
let app;
let display;
const problems = [];

function watch(page) {
  // The refusals the tests provoke: wrong codes and PINs (400), the blocked identity (403).
  page.on("console", (m) => {
    const expected = /^Failed to load resource: the server responded with a status of 40[013]/;
    if (m.type() === "error" && !expected.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
}

/** Nothing on the screen is wider than the 390-px phone: no sideways scrolling. */
async function fitsThePhone(page) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  assert.ok(scroll <= width, `the page is ${scroll} px wide on a ${width}-px screen`);
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
  const enrolled = server.admin("identity", "enrol", "--national-id", "0505904678", "--name", "Eva Lund",
    "--birthdate", "1990-05-05", "--phone", PHONE);
  display = codeDisplayFile(server, SERIAL);
  const report = server.admin("codedisplay", "import", display.path);
  assert.equal(report.imported, 1, JSON.stringify(report));
  const phone = await browser.newContext({ locale: "en-GB", viewport: { width: 390, height: 844 }, hasTouch: true });
  app = await phone.newPage();
  watch(app);
  await activateWebApp(server, app, { activationCode: enrolled.activation_code, phone: PHONE, pin: PIN, newUserId: USER_ID });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a code display activated from the web app with its serial and two codes in a row (wrong codes first), then listed and used at login", async () => {
  await app.getByRole("button", { name: "Devices" }).click();
  await app.getByRole("heading", { name: "Your devices" }).waitFor();
  const form = app.getByTestId("code-display-form");
  await form.getByRole("heading", { name: "Activate a code display" }).waitFor();
  const fill = async ({ serial = SERIAL, code1, code2, pin = PIN }) => {
    await form.getByLabel("Serial number").fill(serial);
    await form.getByLabel("First code from the code display").fill(code1);
    await form.getByLabel("Next code from the code display").fill(code2);
    await form.getByLabel("Your password").fill(PASSWORD);
    await form.getByLabel("Your PIN").fill(pin);
    await form.getByRole("button", { name: "Activate the code display" }).click();
  };
  const step = currentStep();
  // The same code twice is refused before anything is sent.
  await fill({ code1: totp(step, display.seed), code2: totp(step, display.seed) });
  await form.getByText("The two codes must come one right after the other", { exact: false }).waitFor();
  // An unknown serial number.
  await fill({ serial: "E2E-0000", code1: totp(step - 1, display.seed), code2: totp(step, display.seed) });
  await form.getByText("There is no code display with that serial number. Check the number on the back.").waitFor();
  // Codes of another code display.
  await fill({ code1: totp(step - 1), code2: totp(step) });
  await form.getByText(/do not match this code display|must come one right after the other/).waitFor();
  // A wrong PIN is counted.
  await fill({ code1: totp(step - 1, display.seed), code2: totp(step, display.seed), pin: "000000" });
  await form.getByText(/The PIN is wrong. You have 2 tries left/).waitFor();
  await app.screenshot({ path: join(shots, "webapp-code-display.png"), fullPage: true });
  await fitsThePhone(app);

  const now = currentStep();
  await fill({ code1: totp(now - 1, display.seed), code2: totp(now, display.seed) });
  await app.getByTestId("notice").getByText(`Code display ${SERIAL} is activated.`, { exact: false }).waitFor();
  const listed = app.getByTestId("code-display");
  assert.match(await listed.innerText(), new RegExp(`Code display ${SERIAL}`));
  assert.match(await listed.innerText(), /Activated today at/);
  assert.equal(await app.getByTestId("code-display-form").count(), 0, "one code display at a time");

  // The server has it too, and it logs in with the password.
  const login = await browser.newContext({ locale: "en" });
  const page = await login.newPage();
  watch(page);
  await page.goto(`${server.base}/demo/login`);
  await page.waitForURL(/\/login\//);
  await page.getByLabel("User ID").fill(USER_ID);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("link", { name: /Code display or audio code reader and password/ }).click();
  await page.getByLabel("Password").fill(PASSWORD);
  // A code later than the two used for the activation.
  while (currentStep() <= now) await new Promise((r) => setTimeout(r, 500));
  await page.getByLabel(/Code from the code display/).fill(totp(currentStep(), display.seed));
  await page.getByRole("button", { name: "Log on" }).click();
  await page.waitForURL(/\/demo\/callback/, { timeout: 15000 });
  await login.close();
});

/** The newest message of `event` the development outbox holds for `to`, if any. */
async function outboxEvent(to, event) {
  for (let i = 0; i < 100; i++) {
    const { messages } = await (await fetch(`${server.base}/dev/outbox?format=json`)).json();
    const m = messages.find((x) => x.to === to && x.event === event);
    if (m) return m;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

test("the user ID changed from the app with the PIN: a taken one, a bad one and a wrong PIN first; every channel told", async () => {
  server.admin("identity", "enrol", "--national-id", "0606904789", "--name", "Frank Berg",
    "--birthdate", "1990-06-06", "--phone", "+4527000000", "--user-id", "frank.berg");
  await app.getByRole("button", { name: "Your sesam" }).click();
  await app.getByRole("heading", { name: "Your sesam", exact: true }).waitFor();
  assert.equal(await app.getByTestId("current-user-id").innerText(), `Your user ID is ${USER_ID}.`);
  const form = app.getByTestId("user-id-form");
  const change = async (id, pin = PIN) => {
    await form.getByLabel("New user ID").fill(id);
    await form.getByLabel("Your PIN").fill(pin);
    await form.getByRole("button", { name: "Change user ID" }).click();
  };
  await change("Frank.Berg");
  await form.getByText("That user ID is taken. Choose another one.").waitFor();
  await change("ev");
  await form.getByText(/That user ID cannot be used: a user ID needs at least/).waitFor();
  await change("eva.new", "000000");
  await form.getByText(/The PIN is wrong. You have \d tries? left/).waitFor();
  assert.equal(await app.getByTestId("current-user-id").innerText(), `Your user ID is ${USER_ID}.`);
  await app.screenshot({ path: join(shots, "webapp-user-id.png"), fullPage: true });
  await fitsThePhone(app);

  await change("eva.new");
  await app.getByTestId("notice").getByText(`Your user ID is now eva.new. ${USER_ID} is kept for you until`, { exact: false }).waitFor();
  assert.equal(await app.getByTestId("current-user-id").innerText(), "Your user ID is eva.new.");
  // Told on the registered phone and in the app; the message does not carry the new ID.
  const sms = await outboxEvent(PHONE, "identity.user_id_changed");
  assert.ok(sms, "an SMS about the change");
  assert.doesNotMatch(sms.text, /eva\.new/);
  // The app keeps the new ID, also after a reload.
  await app.reload();
  await app.getByTestId("who").getByText(/User ID eva\.new/).waitFor();
  // The old ID is kept for Eva: the office cannot give it to Frank.
  assert.throws(() => server.admin("identity", "change-user-id", "frank.berg", "--new-user-id", USER_ID, "--reason", "asked at the counter"), /reserved/);
});

test("\"this wasn't me\" offers to block; blocking needs the PIN (a wrong one first), then nothing can be approved", async () => {
  const desktop = await browser.newContext({ locale: "en" });
  const page = await desktop.newPage();
  watch(page);
  await page.goto(`${server.base}/demo/login`);
  await page.waitForURL(/\/login\//);
  await page.getByLabel("User ID").fill("eva.new");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: /The sesam app/ }).click();
  await page.getByTestId("binding-code").waitFor();

  await app.getByRole("button", { name: "Requests" }).click();
  const card = app.getByTestId("request");
  await card.waitFor({ timeout: 30000 });
  await card.getByRole("button", { name: "This wasn't me" }).click();
  await app.getByTestId("outcome").getByText(/Rejected and reported/).waitFor();
  const offer = app.getByTestId("block-offer");
  await offer.getByRole("button", { name: "Block my sesam" }).click();
  await offer.getByText("Nobody can log in with your sesam until it is opened again", { exact: false }).waitFor();
  await offer.getByLabel("Your PIN").fill("000000");
  await offer.getByRole("button", { name: "Yes, block my sesam now" }).click();
  await offer.getByText(/The PIN is wrong/).waitFor();
  await offer.getByLabel("Your PIN").fill(PIN);
  await offer.getByRole("button", { name: "Yes, block my sesam now" }).click();
  await offer.getByTestId("blocked").getByText("Your sesam is blocked.", { exact: false }).waitFor();
  await app.screenshot({ path: join(shots, "webapp-blocked.png"), fullPage: true });
  await desktop.close();

  await app.getByRole("button", { name: "Your sesam" }).click();
  await app.getByTestId("is-blocked").waitFor();
  assert.equal(await app.getByTestId("user-id-form").count(), 0);
  assert.equal(await app.getByTestId("block-offer").count(), 0);
  const sms = await outboxEvent(PHONE, "identity.suspended");
  assert.ok(sms, "an SMS about the block");
});

test("no script errors and no policy violations", () => {
  assert.deepEqual(problems, []);
});
