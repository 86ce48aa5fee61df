// Accessibility of the screens a person manages their identity on. Every screen of the web
// app (with a login waiting for approval, then approved with the keyboard alone), in Danish
// and English, on a desktop and a 390-px phone, checked by axe-core with zero violations
// and reflowed at 200 % zoom. Min sesam (its pages' axe check is in a11y.test.mjs): by
// keyboard alone (log on, open the activity, log off) and reflowed at 200 % zoom.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServer, personWithCodeDisplay, launchBrowser, nextUnusedStep, currentStep, totp, activateWebApp, root } from "./support.mjs";
import { bothSizes, at200PercentZoom } from "./axe.mjs";

const PASSWORD = "Blue river 77 sky";
const shots = join(root, "target", "e2e", "a11y-screens");
let server;
let browser;

before(async () => {
  mkdirSync(shots, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const WEB_APP_SCREENS = ["requests", "activity", "channels", "devices", "identity"];

test("every screen of the web app passes axe, with a login waiting, in both languages and sizes", async () => {
  const enrolled = server.admin("identity", "enrol", "--national-id", "0404904567", "--name", "Bo Jensen",
    "--birthdate", "1990-04-04", "--phone", "+4522334455", "--user-id", "bo.jensen");
  const context = await browser.newContext({ locale: "en-GB", bypassCSP: true });
  const app = await context.newPage();
  await activateWebApp(server, app, { activationCode: enrolled.activation_code, phone: "+4522334455", pin: "135790" });

  // A login waiting for approval: the card with the service, the text and the time left.
  const other = await browser.newContext({ locale: "en" });
  const login = await other.newPage();
  await login.goto(`${server.base}/demo/login`);
  await login.waitForURL(/\/login\//);
  await login.getByLabel("User ID").fill("bo.jensen");
  await login.getByRole("button", { name: "Continue" }).click();
  await login.getByRole("button", { name: /The sesam app/ }).click();
  await login.getByTestId("binding-code").waitFor();

  const code = (await login.getByTestId("binding-code").innerText()).trim();
  for (const [lang, switchTo] of [["en", "Dansk"], ["da", null]]) {
    for (const screen of WEB_APP_SCREENS) {
      await app.locator(`button[data-screen=${screen}]`).click();
      await app.locator(`button[data-screen=${screen}][aria-current=page]`).waitFor();
      if (screen === "requests") await app.getByTestId("request").waitFor({ timeout: 30000 });
      // The screen's own data has arrived when nothing says it is loading any more.
      await app.waitForFunction(() => !document.querySelector("[aria-busy=true]"));
      await bothSizes(app, `web app ${screen} ${lang}`, { shots });
      await at200PercentZoom(app, `web app ${screen} ${lang}`);
    }
    if (switchTo) {
      await app.getByRole("button", { name: switchTo }).click();
      await app.locator("html[lang=da]").waitFor();
    }
  }

  // The waiting login approved with the keyboard alone: Tab to the code, type, Tab to the
  // PIN, type, Enter.
  await app.setViewportSize({ width: 390, height: 844 });
  await app.locator("button[data-screen=requests]").click();
  const card = app.getByTestId("request");
  await card.waitFor();
  await app.locator("button[data-screen=requests]").focus();
  const focusedLabel = () => app.evaluate(() => document.activeElement?.labels?.[0]?.textContent ?? "");
  async function tabToField(label) {
    for (let i = 0; i < 30; i++) {
      await app.keyboard.press("Tab");
      if (label.test(await focusedLabel())) return;
    }
    assert.fail(`Tab never reached the field ${label}`);
  }
  await tabToField(/Koden på 4 cifre/);
  await app.keyboard.type(code);
  await tabToField(/PIN/);
  await app.keyboard.type("135790");
  await app.keyboard.press("Enter");
  await app.getByTestId("outcome").waitFor();
  await login.waitForURL(/\/demo\/callback/, { timeout: 15000 });
  await other.close();
  await context.close();
});

const SELF_SERVICE_PAGES = ["", "/activity", "/authenticators", "/channels", "/password", "/user-id", "/block"];

/** Logs on to Min sesam with the code display and the password, by keyboard alone. */
async function logOnByKeyboard(page, used) {
  await page.goto(`${server.base}/min-sesam`);
  const press = async (key, times = 1) => { for (let i = 0; i < times; i++) await page.keyboard.press(key); };
  // Tab until the focused element is the one wanted (it may have the focus already).
  async function tabTo(matches, what) {
    for (let i = 0; i < 40; i++) {
      if (await page.evaluate(matches)) return;
      await press("Tab");
    }
    assert.fail(`Tab never reached ${what} on ${page.url()}`);
  }
  await tabTo(() => document.activeElement?.dataset?.testid === "self-login", "the log-on link");
  await press("Enter");
  await page.waitForURL(/\/login\//);
  await tabTo(() => document.activeElement?.id === "user_id", "the user-ID field");
  await page.keyboard.type("anna.hansen");
  await press("Enter");
  await page.waitForSelector("ul.methods");
  await tabTo(() => document.activeElement?.dataset?.method === "code-display", "the code display choice");
  await press("Enter");
  await page.waitForURL(/\/code-display/);
  const step = await nextUnusedStep(used);
  await tabTo(() => document.activeElement?.name === "code", "the code field");
  await page.keyboard.type(totp(step));
  await tabTo(() => document.activeElement?.name === "password", "the password field");
  await page.keyboard.type(PASSWORD);
  await press("Enter");
  await page.waitForURL(`${server.base}/min-sesam`);
  return { tabTo, press };
}

test("Min sesam works by keyboard alone and reflows at 200 % zoom", async () => {
  await personWithCodeDisplay(server, { userId: "anna.hansen", nationalId: "0101901234", phone: "+4512345678", password: PASSWORD });
  const used = currentStep();
  const context = await browser.newContext({ locale: "da-DK" });
  const page = await context.newPage();
  const { tabTo, press } = await logOnByKeyboard(page, used);

  // The activity, then logging off, by keyboard.
  await tabTo(() => document.activeElement?.getAttribute("href") === "/min-sesam/activity", "the activity link");
  await press("Enter");
  await page.waitForURL(/\/min-sesam\/activity$/);
  assert.ok(await page.getByTestId("uses").isVisible());

  // axe over these pages is in a11y.test.mjs; here, each reflows at 200 % zoom.
  for (const path of SELF_SERVICE_PAGES) {
    await page.goto(`${server.base}/min-sesam${path}`);
    await at200PercentZoom(page, `min-sesam ${path || "/"}`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${server.base}/min-sesam`);
  await tabTo(() => document.activeElement?.closest?.("form[action$='/logout']") !== null && document.activeElement?.tagName === "BUTTON", "the log-off button");
  await press("Enter");
  await page.getByTestId("self-login").waitFor();
  await page.goto(`${server.base}/min-sesam/activity`);
  assert.equal(await page.getByTestId("uses").count(), 0, "logged off: the activity is not shown");
  await context.close();
});
