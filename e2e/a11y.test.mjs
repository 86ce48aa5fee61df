// Accessibility of every page a person meets, checked by axe-core in real Chromium: each
// login step and state (errors, waiting, rejected, expired, stale, gone, a payment and a
// signing), logout, sesam's information pages, the self-service site and the web app's screens, in Danish and
// English, on a desktop screen and on a 390-px phone. Zero violations is the bar. Also a
// complete login with the keyboard only (Tab, Enter and typing), and the phone layout:
// nothing wider than the screen, the language link on one line.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServer, personWithCodeDisplay, launchBrowser, nextUnusedStep, currentStep, totp, smsCode, root } from "./support.mjs";
import { VIEWPORTS, noViolations as runAxe, bothSizes as checkBothSizes } from "./axe.mjs";
const PASSWORD = "Blue river 77 sky";
const USER_ID = "anna.hansen";
const shots = join(root, "target", "e2e", "a11y");

let server;
let browser;
let anna;
let bank; // a service provider registered for payments and signing
let expiring; // an app request started first, looked at once it has expired
let lastStep = 0; // the code display's last used time step
const checked = [];

before(async () => {
  mkdirSync(shots, { recursive: true });
  // Many logins from one address and for one person in a few minutes: the limits are
  // raised for this test (their own tests are elsewhere).
  server = await startServer({
    env: () => ({
      SESAM_LIMIT_LOGIN_PER_MINUTE: "10000",
      SESAM_LIMIT_AUTHORIZE_PER_MINUTE: "10000",
      SESAM_LIMIT_REQUESTS_PER_PERSON: "1000",
      SESAM_LIMIT_REQUESTS_PER_SOURCE: "1000",
      // The operator the footer names comes from the configuration.
      SESAM_SITE_OPERATOR: "Digitaliseringsstyrelsen",
      SESAM_SITE_HELP_URL: "https://help.example.dk/sesam",
    }),
  });
  browser = await launchBrowser();
  anna = await personWithCodeDisplay(server, { userId: USER_ID, nationalId: "0101901234", phone: "+4512345678", password: PASSWORD });
  bank = server.admin("sp", "add", "--name", "Demo Bank", "--redirect-uri", "http://localhost:9/callback");
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A fresh browser (the language link switches the language within it). */
async function newPage(locale = "da-DK") {
  // axe is injected as an inline script, which the pages' policy (rightly) refuses.
  const context = await browser.newContext({ locale, bypassCSP: true, viewport: VIEWPORTS[0][1] });
  return { context, page: await context.newPage() };
}

/** axe over the page as it is, counted in `checked`. */
const noViolations = (page, name) => runAxe(page, name, checked);

/** Checks the page at both sizes (axe, the phone layout, one link colour). */
const bothSizes = (page, name) => checkBothSizes(page, name, { shots, checked });

/**
 * Checks the page in Danish, switches to English with the language link and checks it
 * again. `again` recreates a state the language switch leaves (a form's error).
 */
async function inBothLanguages(page, name, again) {
  assert.equal(await page.getAttribute("html", "lang"), "da", `${name} starts in Danish`);
  await bothSizes(page, `${name} da`);
  await page.getByRole("link", { name: "English" }).click();
  await page.waitForLoadState();
  if (again) await again(page);
  assert.equal(await page.getAttribute("html", "lang"), "en", `${name} switched to English`);
  await bothSizes(page, `${name} en`);
}

/** The demo's login, at the user-ID step. */
async function demoLogin(page) {
  await page.goto(`${server.base}/demo/login`);
  await page.waitForURL(/\/login\/[^/]+$/);
}

/** A login at the given SP with `authorization_details`, at the user-ID step. */
async function bankLogin(page, details) {
  const verifier = randomBytes(32).toString("base64url");
  const q = new URLSearchParams({
    response_type: "code",
    client_id: bank.client_id,
    redirect_uri: "http://localhost:9/callback",
    scope: "openid",
    state: "s1",
    nonce: "n1",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    authorization_details: JSON.stringify(details),
  });
  await page.goto(`${server.base}/authorize?${q}`);
  await page.waitForURL(/\/login\/[^/]+$/);
}

async function giveUserId(page, userId = USER_ID) {
  await page.locator("#user_id").fill(userId);
  await page.locator("form[action$='/user-id'] button").click();
  await page.waitForSelector("ul.methods");
}

/** Chooses the app and waits for the code; returns the request id. */
async function chooseApp(page) {
  await page.locator("button[data-method=app]").click();
  await page.getByTestId("binding-code").waitFor();
  return page.url().split("/").pop();
}

test("the login pages have no accessibility violations, in Danish and English, on desktop and phone", async () => {
  // Started first: it has expired by the end of this test.
  {
    const { context, page } = await newPage();
    await demoLogin(page);
    await giveUserId(page);
    await chooseApp(page);
    expiring = { context, page, started: Date.now() };
  }

  const { context, page } = await newPage();
  await demoLogin(page);
  assert.equal(await page.getByTestId("operator").innerText(), "Digitaliseringsstyrelsen");
  assert.equal(await page.getByRole("link", { name: "Hjælp" }).getAttribute("href"), "https://help.example.dk/sesam");
  assert.equal(await page.getByRole("link", { name: "Privatlivspolitik" }).getAttribute("href"), "/privacy");
  const favicon = await page.evaluate(async () => (await fetch("/static/favicon")).headers.get("content-type"));
  assert.equal(favicon, "image/svg+xml");
  // The check itself: a picture without a text is found.
  await page.evaluate(() => document.querySelector("main").append(Object.assign(document.createElement("img"), { src: "/static/logo" })));
  await assert.rejects(noViolations(page, "a planted violation"), /image-alt/);
  checked.pop();
  await page.reload();
  await inBothLanguages(page, "user ID");

  // The validation error, in the page's language.
  await page.getByRole("link", { name: "Dansk" }).click();
  const submitEmpty = async (p) => {
    await p.locator("#user_id").fill("");
    await p.locator("form[action$='/user-id'] button").click();
    await p.getByRole("alert").waitFor();
  };
  await submitEmpty(page);
  assert.match(await page.getByRole("alert").innerText(), /Skriv dit bruger-ID/);
  await inBothLanguages(page, "user ID error", async (p) => {
    await submitEmpty(p);
    assert.match(await p.getByRole("alert").innerText(), /Enter your user ID/);
  });
  await page.getByRole("link", { name: "Dansk" }).click();

  await giveUserId(page);
  await inBothLanguages(page, "choose authenticator");
  await page.getByRole("link", { name: "Dansk" }).click();

  await page.locator("a[data-method=code-display]").click();
  await page.locator("#code").waitFor();
  await inBothLanguages(page, "code display");
  const wrongCode = async (p) => {
    await p.locator("#code").fill("000000");
    await p.locator("#password").fill(PASSWORD);
    await p.locator("form[action$='/code-display'] button").click();
    await p.getByRole("alert").waitFor();
  };
  await page.getByRole("link", { name: "Dansk" }).click();
  await wrongCode(page);
  await inBothLanguages(page, "code display wrong code", wrongCode);
  await page.getByRole("link", { name: "Dansk" }).click();

  await page.goto(page.url().replace(/\/code-display$/, "/chip"));
  await page.locator("#password").waitFor();
  await inBothLanguages(page, "chip");
  await page.getByRole("link", { name: "Dansk" }).click();

  // Stale: "not you?" in another tab, then the old form is sent.
  const flow = page.url().replace(/\/chip$/, "");
  const makeStale = async (p) => {
    await p.goto(flow);
    if (await p.locator("#user_id").count()) await giveUserId(p);
    await p.goto(`${flow}/code-display`);
    const other = await p.context().newPage();
    await other.goto(flow);
    await other.locator("form[action$='/restart'] button").click();
    await other.locator("#user_id").waitFor();
    await other.close();
    await wrongCode(p);
  };
  await makeStale(page);
  assert.match(await page.getByRole("alert").innerText(), /forældet/);
  await inBothLanguages(page, "stale page", async (p) => {
    await makeStale(p);
    assert.match(await p.getByRole("alert").innerText(), /out of date/);
  });
  await page.getByRole("link", { name: "Dansk" }).click();

  // Waiting for the app.
  await giveUserId(page);
  const waiting = await chooseApp(page);
  assert.equal(await page.locator("head noscript").count(), 1, "the refresh is for pages without script only");
  assert.equal(await page.locator("meta[http-equiv=refresh]").count(), 0);
  await inBothLanguages(page, "waiting for the app");

  // Rejected in the app: a way back to the service, another way, or again.
  await page.getByRole("link", { name: "Dansk" }).click();
  server.app(anna.state, "reject", waiting);
  await page.getByRole("heading", { name: "Afvist i appen" }).waitFor({ timeout: 10000 });
  await inBothLanguages(page, "rejected in the app");
  await page.getByRole("link", { name: "Dansk" }).click();

  // Back to the service: the SP gets access_denied and its state.
  await page.locator("[data-action=back-to-service]").click();
  await page.waitForURL(/\/demo\/callback/);
  assert.match(await page.locator("main").innerText(), /access_denied/);

  // Gone: the finished login's address again.
  await page.goto(flow);
  await inBothLanguages(page, "gone");
  await context.close();

  // An error the service caused.
  {
    const { context, page } = await newPage();
    const bad = `${server.base}/authorize?client_id=nobody&response_type=code`;
    await page.goto(bad);
    await inBothLanguages(page, "service error", (p) => p.goto(bad));
    await context.close();
  }

  // Logout: the question and the answer.
  {
    const { context, page } = await newPage();
    await page.goto(`${server.base}/logout`);
    await inBothLanguages(page, "logout");
    await context.close();
  }
  for (const [locale, heading] of [["da-DK", "Du er logget af"], ["en-GB", "You are logged out"]]) {
    const { context, page } = await newPage(locale);
    await page.goto(`${server.base}/logout`);
    await page.locator("form[action='/logout'] button").click();
    await page.getByRole("heading", { name: heading }).waitFor();
    await bothSizes(page, `logged out ${locale}`);
    await context.close();
  }

  // "Forgot your user ID?": the form and its answer (the same whatever is typed).
  {
    const { context, page } = await newPage();
    await demoLogin(page);
    await page.getByTestId("forgot-user-id").click();
    await page.locator("#national_id").waitFor();
    await inBothLanguages(page, "forgot user ID");
    const ask = async (p) => {
      await p.locator("#national_id").fill("010190-1234");
      await p.locator("form[action$='/forgot-user-id'] button").click();
      await p.getByTestId("reminder-sent").waitFor();
    };
    await page.getByRole("link", { name: "Dansk" }).click();
    await ask(page);
    await inBothLanguages(page, "forgot user ID sent", ask);
    await context.close();
  }

  // sesam's information pages.
  for (const path of ["/help", "/privacy", "/about"]) {
    const { context, page } = await newPage();
    await page.goto(`${server.base}${path}`);
    await inBothLanguages(page, path.slice(1));
    await context.close();
  }
});

test("a payment and a signing read as approving and signing, and pass axe", async () => {
  const payment = [{ type: "payment_initiation", instructedAmount: { currency: "DKK", amount: "1250.00" }, creditorName: "Boligselskabet Danmark A/S", creditorAccount: { iban: "DK5000400440116243" } }];
  const signing = [{ type: "sesam_transaction", action: "SIGN", text: "Underskriv lejekontrakt for Nørregade 12, 3. tv., 1165 København K, gældende fra 1. februar 2027" }];
  for (const [name, details, da, en] of [
    ["payment", payment, "Godkend", "Approve"],
    ["signing", signing, "Underskriv", "Sign"],
  ]) {
    const { context, page } = await newPage();
    await bankLogin(page, details);
    const header = await page.getByTestId("sp-header").innerText();
    assert.match(header, new RegExp(`${da} hos`));
    assert.doesNotMatch(header, /Log på/);
    await page.getByTestId("transaction-text").waitFor();
    await inBothLanguages(page, `${name} user ID`);
    await page.getByRole("link", { name: "Dansk" }).click();
    await giveUserId(page);
    await inBothLanguages(page, `${name} choose`);
    await page.getByRole("link", { name: "Dansk" }).click();
    await page.locator("a[data-method=code-display]").click();
    await page.locator("#code").waitFor();
    assert.equal((await page.locator("form[action$='/code-display'] button").innerText()).trim(), da);
    await inBothLanguages(page, `${name} code display`);
    assert.equal((await page.locator("form[action$='/code-display'] button").innerText()).trim(), en);
    await chooseAppFrom(page);
    await inBothLanguages(page, `${name} waiting`);
    await context.close();
  }
});

/** From a code-display page back to the choice, then the app. */
async function chooseAppFrom(page) {
  await page.getByRole("link", { name: "Dansk" }).click();
  await page.goto(page.url().replace(/\/code-display$/, ""));
  await chooseApp(page);
}

test("the web app's screens pass axe in both languages and sizes", async () => {
  for (const [locale, lang, phone, nationalId, birthdate] of [
    ["da-DK", "da", "+4522334401", "0202902345", "1990-02-02"],
    ["en-GB", "en", "+4522334402", "0303903456", "1990-03-03"],
  ]) {
    const enrolled = server.admin("identity", "enrol", "--national-id", nationalId, "--name", "Bo Jensen",
      "--birthdate", birthdate, "--phone", phone);
    const context = await browser.newContext({ locale, bypassCSP: true, viewport: VIEWPORTS[1][1] });
    const app = await context.newPage();
    await app.goto(`${server.base}/app/`);
    await app.locator("h1").first().waitFor();
    await bothSizes(app, `web app start ${lang}`);
    await app.locator("#activation-code").fill(enrolled.activation_code);
    await app.locator("form button[type=submit]").first().click();
    await app.getByTestId("sms-sent").waitFor();
    await bothSizes(app, `web app SMS step ${lang}`);
    const code = await smsCode(server.base, phone);
    await app.locator("#sms-code").fill(code);
    await app.locator("#user-id").fill(lang === "da" ? "bo.jensen.da" : "bo.jensen.en");
    await app.locator("#pin").fill("246810");
    await app.locator("#pin2").fill("246810");
    await app.locator("form button[type=submit]").first().click();
    await app.getByTestId("who").waitFor();
    await bothSizes(app, `web app home ${lang}`);
    await context.close();
  }
});

test("a complete login with the keyboard only", async () => {
  const { context, page } = await newPage("en-GB");
  await page.goto(`${server.base}/demo`);
  /** Presses Tab until the focused element matches `selector`, then returns. */
  const tabTo = async (selector) => {
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press("Tab");
      if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
    }
    assert.fail(`Tab never reached ${selector}`);
  };
  await tabTo("[data-testid=demo-login]");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/login\/[^/]+$/);
  // The user-ID field has the focus when the page opens.
  assert.ok(await page.evaluate(() => document.activeElement?.id === "user_id"));
  await page.keyboard.type(USER_ID);
  await page.keyboard.press("Enter");
  await page.waitForSelector("ul.methods");
  await tabTo("a[data-method=code-display]");
  await page.keyboard.press("Enter");
  await page.locator("#code").waitFor();
  const step = await nextUnusedStep(currentStep());
  lastStep = step;
  assert.ok(await page.evaluate(() => document.activeElement?.id === "code"));
  await page.keyboard.type(totp(step));
  await tabTo("#password");
  await page.keyboard.type(PASSWORD);
  await tabTo("form[action$='/code-display'] button");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/demo\/callback/);
  assert.match(await page.getByTestId("id-token-claims").innerText(), /substantial/);
  await context.close();
});

test("the self-service screens pass axe in both languages and sizes", async () => {
  const { context, page } = await newPage();
  await page.goto(`${server.base}/min-sesam`);
  await inBothLanguages(page, "self-service start");
  await page.getByTestId("self-login").click();
  await page.waitForURL(/\/login\//);
  await giveUserId(page);
  await page.locator("a[data-method=code-display]").click();
  const step = await nextUnusedStep(Math.max(lastStep, currentStep()));
  lastStep = step;
  await page.locator("#code").fill(totp(step));
  await page.locator("#password").fill(PASSWORD);
  await page.locator("form[action$='/code-display'] button").click();
  await page.waitForURL(`${server.base}/min-sesam`);
  for (const path of ["", "/activity", "/authenticators", "/channels", "/password", "/user-id", "/block"]) {
    await page.goto(`${server.base}/min-sesam${path}`);
    if ((await page.getAttribute("html", "lang")) !== "da") await page.getByRole("link", { name: "Dansk" }).click();
    await inBothLanguages(page, `self-service${path.replace("/", " ") || " profile"}`);
  }
  await context.close();
});

test("an app request that expired offers to try again, another way, or the way back", async () => {
  assert.ok(expiring, "the first test started a request");
  const { context, page, started } = expiring;
  const left = started + 181_000 - Date.now();
  if (left > 0) await new Promise((r) => setTimeout(r, left));
  await page.getByRole("heading", { name: "Anmodningen er udløbet" }).waitFor({ timeout: 15000 });
  await inBothLanguages(page, "expired");
  for (const action of ["try-again", "other-method", "back-to-service"]) {
    assert.equal(await page.locator(`[data-action=${action}]`).count(), 1, action);
  }
  await page.locator("[data-action=try-again]").click();
  await page.getByTestId("binding-code").waitFor();
  await context.close();
  console.log(`axe checked ${checked.length} pages and states`);
});
