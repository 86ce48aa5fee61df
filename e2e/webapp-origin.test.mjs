// The web app on an origin of its own (`app_public_url`) in Chromium: the public URL's
// /app/ leads there, the app works there (its API calls reach sesam on that origin), and
// nothing else of sesam answers there; a chip registered from the app on its origin (the
// DevTools virtual authenticator) logs in on the login pages of the public URL.
// `*.localhost` names the loopback in Chromium.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, activateWebApp } from "./support.mjs";

let server;
let browser;

before(async () => {
  // The app's host is below the public URL's (as `docs/operations.md` advises), so a chip
  // registered in the app can be used on the login pages: `localhost` itself counts as a
  // public suffix in Chromium and cannot be a relying party ID for another host.
  server = await startServer({ publicHost: "login.localhost", env: (port) => ({ SESAM_APP_PUBLIC_URL: `http://app.login.localhost:${port}` }) });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the web app is served from its own origin only", async () => {
  const appOrigin = `http://app.login.localhost:${server.port}`;
  const context = await browser.newContext({ locale: "en" });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of (400|404)/.test(m.text())) problems.push(m.text());
  });
  await page.goto(`${server.publicBase}/app/`);
  assert.equal(new URL(page.url()).origin, appOrigin);
  await page.getByRole("heading", { name: "Activate the sesam app" }).waitFor();
  // The app's API calls reach sesam on the app's origin.
  await page.getByLabel("Activation code from the letter").fill("ABCD-EFGH-JKLM");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("alert").getByText(/activation code is wrong/).waitFor();
  assert.match(await page.evaluate(async () => (await navigator.serviceWorker.ready).active.scriptURL), /^http:\/\/app\.login\.localhost:\d+\/app\/sw\.js$/);
  // No login page, demo or other page of sesam on the app's origin.
  for (const path of ["/demo", "/demo/login", "/.well-known/openid-configuration"]) {
    const r = await page.goto(`${appOrigin}${path}`);
    assert.equal(r.status(), 404, path);
  }
  // The login pages still work on the public URL.
  const r = await page.goto(`${server.publicBase}/demo`);
  assert.equal(r.status(), 200);
  assert.deepEqual(problems, []);
  await context.close();
});

test("a chip registered from the app on its own origin, then a login with it on the public URL", async () => {
  const appOrigin = `http://app.login.localhost:${server.port}`;
  const PHONE = "+4528765432";
  const PIN = "258036";
  const PASSWORD = "chips on another origin";
  const enrolled = server.admin("identity", "enrol", "--national-id", "0707904321", "--name", "Gitte Holm",
    "--birthdate", "1990-07-07", "--phone", PHONE, "--user-id", "gitte.holm");
  const context = await browser.newContext({ locale: "en" });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of (400|404)/.test(m.text())) problems.push(m.text());
  });
  await activateWebApp(server, page, { activationCode: enrolled.activation_code, phone: PHONE, pin: PIN });
  assert.equal(new URL(page.url()).origin, appOrigin);
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "usb", hasResidentKey: false, hasUserVerification: false, automaticPresenceSimulation: true },
  });
  await page.getByRole("button", { name: "Devices" }).click();
  const form = page.getByTestId("chip-form");
  await form.getByLabel("Your password").fill(PASSWORD);
  await form.getByLabel("Your PIN").fill(PIN);
  await form.getByRole("button", { name: "Add a chip" }).click();
  const said = page.getByTestId("notice").or(form.locator(".error"));
  await said.waitFor({ timeout: 15000 });
  assert.equal(await said.innerText(), "The chip is added. You can now log in with it.");
  assert.equal(await page.getByTestId("chip").count(), 1);
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].rpId, "login.localhost", "the relying party is the public URL's host name");

  // The same key on the login pages of the public URL.
  await page.goto(`${server.publicBase}/demo/login`);
  await page.waitForURL(/\/login\//);
  assert.equal(new URL(page.url()).origin, server.publicBase);
  await page.getByLabel("User ID").fill("gitte.holm");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("link", { name: /Chip and password/ }).click();
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Use chip" }).click();
  await page.waitForURL(/\/demo\/callback/, { timeout: 15000 });
  assert.match(await page.getByTestId("userinfo-claims").innerText(), /Gitte Holm/);
  assert.deepEqual(problems, []);
  await context.close();
});
