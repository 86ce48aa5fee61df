// The web app on an origin of its own (`app_public_url`) in Chromium: the public URL's
// /app/ leads there, the app works there (its API calls reach sesam on that origin), and
// nothing else of sesam answers there. `*.localhost` names the loopback in Chromium.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser } from "./support.mjs";

let server;
let browser;

before(async () => {
  server = await startServer({ env: (port) => ({ SESAM_APP_PUBLIC_URL: `http://app.localhost:${port}` }) });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the web app is served from its own origin only", async () => {
  const appOrigin = `http://app.localhost:${server.port}`;
  const context = await browser.newContext({ locale: "en" });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of (400|404)/.test(m.text())) problems.push(m.text());
  });
  await page.goto(`${server.base}/app/`);
  assert.equal(new URL(page.url()).origin, appOrigin);
  await page.getByRole("heading", { name: "Activate the sesam app" }).waitFor();
  // The app's API calls reach sesam on the app's origin.
  await page.getByLabel("Activation code from the letter").fill("ABCD-EFGH-JKLM");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("alert").getByText(/activation code is wrong/).waitFor();
  assert.match(await page.evaluate(async () => (await navigator.serviceWorker.ready).active.scriptURL), /^http:\/\/app\.localhost:\d+\/app\/sw\.js$/);
  // No login page, demo or other page of sesam on the app's origin.
  for (const path of ["/demo", "/demo/login", "/.well-known/openid-configuration"]) {
    const r = await page.goto(`${appOrigin}${path}`);
    assert.equal(r.status(), 404, path);
  }
  // The login pages still work on the public URL.
  const r = await page.goto(`${server.base}/demo`);
  assert.equal(r.status(), 200);
  assert.deepEqual(problems, []);
  await context.close();
});
