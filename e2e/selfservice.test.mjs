// Min sesam (self-service, issue 16) in a real browser, the "Done when" path: a
// person logs in with the code display and the password through the ordinary login pages,
// sees every use of their identity, changes the password and the user ID, removes the app
// (left with only the code display and password) and then the code display itself.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServer, personWithCodeDisplay, launchBrowser, nextUnusedStep, currentStep, totp, root } from "./support.mjs";

const PASSWORD = "Blue river 77 sky";
const NEW_PASSWORD = "Green meadow 42 hill";
let server;
let browser;
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

test("code display + password: see activity, change password and user ID, remove the app and the code display", async () => {
  await personWithCodeDisplay(server, { userId: "anna.hansen", nationalId: "0101901234", phone: "+4512345678", password: PASSWORD });
  const used = currentStep();
  const context = await browser.newContext({ locale: "en-GB" });
  const page = await context.newPage();
  const problems = [];
  // A refused form answers 400 (Chromium logs that as a console error): not a problem.
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 400/.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));

  // The start page, then the ordinary login pages with "My sesam" as the service.
  await page.goto(`${server.base}/min-sesam`);
  assert.equal(await page.locator("h1").innerText(), "My sesam");
  await page.getByTestId("self-login").click();
  await page.waitForURL(/\/login\//);
  assert.match(await page.getByTestId("sp-header").innerText(), /Min sesam/);
  await page.getByLabel("User ID").fill("anna.hansen");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("link", { name: /Code display or audio code reader and password/ }).click();
  const step = await nextUnusedStep(used);
  await page.getByLabel(/Code from the code display/).fill(totp(step));
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log on" }).click();
  await page.waitForURL(`${server.base}/min-sesam`);

  // Profile: the national ID masked, how the person logged on.
  assert.equal(await page.getByTestId("profile-national-id").innerText(), "010190-****");
  assert.match(await page.getByTestId("profile-login").innerText(), /Code display or audio code reader and password \(substantial\)/);
  assert.doesNotMatch(await page.locator("main").innerText(), /0101901234/);
  await page.screenshot({ path: join(shots, "self-profile.png"), fullPage: true });

  // Activity: this very login is a use, and the messages show their delivery.
  await page.getByRole("link", { name: "Activity" }).click();
  const uses = await page.getByTestId("uses").innerText();
  assert.match(uses, /Min sesam/);
  assert.match(uses, /Code display or audio code reader and password/);
  assert.match(await page.getByTestId("messages").innerText(), /activation|sesam/i);
  await page.screenshot({ path: join(shots, "self-activity.png"), fullPage: true });

  // Change the password: a wrong current one is refused (and announced), the right one works.
  await page.getByRole("link", { name: "Password" }).click();
  await page.getByLabel("Current password").fill("not my password");
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel("Repeat the new password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  assert.match(await page.getByRole("alert").innerText(), /current password is wrong/);
  await page.getByLabel("Current password").fill(PASSWORD);
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel("Repeat the new password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  assert.match(await page.getByTestId("notice").innerText(), /password is changed/);

  // Change the user ID.
  await page.getByRole("link", { name: "User ID" }).click();
  await page.getByLabel("New user ID").fill("Anna.Selv");
  await page.getByRole("button", { name: "Change user ID" }).click();
  assert.match(await page.getByTestId("notice").innerText(), /user ID is changed/);
  assert.equal(await page.getByTestId("current-user-id").innerText(), "Anna.Selv");

  // Devices: remove the app (only the code display and password are left) ...
  await page.getByRole("link", { name: "Devices" }).click();
  await page.screenshot({ path: join(shots, "self-devices.png"), fullPage: true });
  await page.locator('[data-testid=authenticator][data-kind=app]').getByRole("button", { name: /Remove/ }).click();
  assert.match(await page.getByTestId("notice").innerText(), /device is removed/);
  assert.equal(await page.locator('[data-testid=authenticator][data-kind=app] button').count(), 0);
  // ... then the code display: the last one, and the page says what that means.
  await page.locator('[data-testid=authenticator][data-kind=code_display]').getByRole("button", { name: /Remove/ }).click();
  assert.match(await page.getByTestId("notice").innerText(), /last device/);
  assert.match(await page.locator('[data-testid=authenticator][data-kind=code_display]').innerText(), /Not active/);

  // Every change was notified: the outbox has the messages.
  const { messages } = await (await fetch(`${server.base}/dev/outbox?format=json`)).json();
  const events = new Set(messages.map((m) => m.event));
  for (const e of ["authenticator.password_changed", "identity.user_id_changed", "authenticator.app_revoked", "authenticator.revoked"]) {
    assert.ok(events.has(e), `${e} was notified: ${[...events]}`);
  }

  // Log out: the session is gone.
  await page.getByTestId("self-logout").click();
  await page.goto(`${server.base}/min-sesam/activity`);
  await page.waitForURL(`${server.base}/min-sesam`);
  assert.ok(await page.getByTestId("self-login").isVisible());

  assert.deepEqual(problems, [], "no script errors or CSP violations");
  await context.close();
});
