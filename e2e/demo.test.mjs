// The demo walk-through in a real browser: `sesam serve --demo` on the embedded default,
// a person enrolled and activated with the CLI tools, then "Log in with sesam" at /demo
// with the code display and password, ending on the page with the verified claims.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServer, personWithCodeDisplay, launchBrowser, nextUnusedStep, currentStep, totp, root } from "./support.mjs";

const PASSWORD = "Blue river 77 sky";
let server;
let browser;
let anna;
const shots = join(root, "target", "e2e");

before(async () => {
  mkdirSync(shots, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the demo logs a person in with code display and password, in Danish and English", async () => {
  anna = await personWithCodeDisplay(server, { userId: "anna.hansen", nationalId: "0101901234", phone: "+4512345678", password: PASSWORD });
  const used = currentStep();
  const context = await browser.newContext({ locale: "en-GB" });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  page.on("pageerror", (e) => problems.push(String(e)));

  await page.goto(`${server.base}/demo`);
  await page.getByTestId("demo-login").click();
  // The first page: the SP's registered name and the action in the header.
  await page.waitForURL(/\/login\//);
  assert.match(await page.getByTestId("sp-header").innerText(), /sesam demo/);
  assert.match(await page.getByTestId("sp-header").innerText(), /Log on/);
  await page.getByLabel("User ID").fill("Anna.Hansen");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.screenshot({ path: join(shots, "choose.png"), fullPage: true });
  await page.getByRole("link", { name: /Code display or audio code reader and password/ }).click();

  // A wrong code first: refused with a message that is announced.
  await page.getByLabel(/Code from the code display/).fill("000000");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log on" }).click();
  assert.match(await page.getByRole("alert").innerText(), /not accepted/);

  const step = await nextUnusedStep(used);
  await page.getByLabel(/Code from the code display/).fill(totp(step));
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log on" }).click();
  await page.waitForURL(/\/demo\/callback/);
  const claims = await page.getByTestId("id-token-claims").innerText();
  assert.match(claims, /http:\/\/eidas\.europa\.eu\/LoA\/substantial/);
  assert.match(claims, /otp/);
  const userinfo = await page.getByTestId("userinfo-claims").innerText();
  assert.match(userinfo, /Anna Hansen/);
  assert.match(userinfo, /0101901234/);
  await page.screenshot({ path: join(shots, "demo-result.png"), fullPage: true });

  // The session: logging in again needs no pages.
  await page.goto(`${server.base}/demo/login`);
  await page.waitForURL(/\/demo\/callback/);
  assert.match(await page.getByTestId("id-token-claims").innerText(), /substantial/);

  // In Danish, through the language link.
  const dk = await browser.newContext({ locale: "da-DK" });
  const p2 = await dk.newPage();
  await p2.goto(`${server.base}/demo`);
  await p2.getByTestId("demo-login").click();
  await p2.waitForURL(/\/login\//);
  assert.ok(await p2.getByLabel("Bruger-ID").isVisible());
  await p2.getByRole("link", { name: "English" }).click();
  assert.ok(await p2.getByLabel("User ID").isVisible());
  await p2.screenshot({ path: join(shots, "user-id-en.png"), fullPage: true });

  assert.deepEqual(problems, [], "no script errors or CSP violations");
  await context.close();
  await dk.close();
});

test("the pages work without JavaScript", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false, locale: "en" });
  const page = await context.newPage();
  await page.goto(`${server.base}/demo/login`);
  await page.waitForURL(/\/login\//);
  await page.getByLabel("User ID").fill("someone.unknown");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("link", { name: /Code display or audio code reader and password/ }).click();
  await page.getByLabel(/Code from the code display/).fill("123456");
  await page.getByLabel("Password").fill("whatever it is");
  await page.getByRole("button", { name: "Log on" }).click();
  assert.match(await page.getByRole("alert").innerText(), /not accepted/);
  await page.getByRole("link", { name: "Choose another way" }).click();
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.waitForURL(/\/demo\/callback/);
  assert.match(await page.locator("main").innerText(), /access_denied/);
  await context.close();
});

test("the app login: the browser shows the code, the app approves, the page continues by itself", async () => {
  assert.ok(anna, "the first test activated the app");
  const context = await browser.newContext({ locale: "en" });
  const page = await context.newPage();
  await page.goto(`${server.base}/demo/login`);
  await page.waitForURL(/\/login\//);
  await page.getByLabel("User ID").fill("anna.hansen");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: /The sesam app/ }).click();
  const code = (await page.getByTestId("binding-code").innerText()).trim();
  assert.match(code, /^\d{4}$/);
  await page.screenshot({ path: join(shots, "app-wait.png"), fullPage: true });
  const { requests } = JSON.parse(server.app(anna.state, "--json", "requests"));
  const request = requests.find((r) => r.kind === "approval");
  assert.equal(request.text, "Log on to sesam demo");
  server.app(anna.state, "approve", request.id, "--pin", "123456", "--binding-code", code);
  // No script: the page's own refresh brings the browser back to the demo.
  await page.waitForURL(/\/demo\/callback/, { timeout: 15000 });
  const claims = await page.getByTestId("id-token-claims").innerText();
  assert.match(claims, /swk/);
  // The receipt is checked and shown decoded, not dumped as a JWS.
  assert.match(await page.getByTestId("receipt-text").innerText(), /Log on to sesam demo/);
  assert.doesNotMatch(await page.getByTestId("userinfo-claims").innerText(), /approval_receipt/);
  await context.close();
});

test("a demo payment: the app shows amount and payee, the demo checks the receipt, logout returns to the demo", async () => {
  assert.ok(anna, "the first test activated the app");
  const context = await browser.newContext({ locale: "en" });
  const page = await context.newPage();
  await page.goto(`${server.base}/demo`);
  await page.getByTestId("demo-payment").click();
  await page.waitForURL(/\/login\//);
  await page.getByLabel("User ID").fill("anna.hansen");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: /The sesam app/ }).click();
  const code = (await page.getByTestId("binding-code").innerText()).trim();
  const { requests } = JSON.parse(server.app(anna.state, "--json", "requests"));
  const request = requests.find((r) => r.kind === "approval");
  assert.match(request.text, /1[.,]500[.,]00/);
  assert.match(request.text, /Jens Hansen/);
  server.app(anna.state, "approve", request.id, "--pin", "123456", "--binding-code", code);
  await page.waitForURL(/\/demo\/callback/, { timeout: 15000 });
  assert.equal((await page.getByTestId("receipt-amount").innerText()).trim(), "1500.00 DKK");
  assert.match(await page.getByTestId("receipt-payee").innerText(), /Jens Hansen \(DK5000400440116243\)/);
  assert.equal((await page.getByTestId("receipt-text").innerText()).trim(), request.text);
  assert.equal(await page.getByTestId("receipt-error").count(), 0);
  // The page fits a phone: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, "the demo's result page is wider than a phone");
  // Logging out with id_token_hint comes back to the demo, logged out of sesam too.
  await page.getByTestId("demo-logout").click();
  await page.waitForURL(`${server.base}/demo`);
  assert.equal(await page.getByTestId("demo-login").count(), 1);
  await page.getByTestId("demo-login").click();
  await page.waitForURL(/\/login\//);
  assert.equal(await page.getByLabel("User ID").count(), 1, "the sesam session ended: the login asks again");
  await context.close();
});
