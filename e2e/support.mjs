// What the browser tests share: a real `sesam serve` on a free port with its own data
// directory, the operator CLI and the reference app (`sesam-app`), TOTP codes for the
// demo code display, and Debian's Chromium driven by playwright-core.
import { spawn, execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, "..");
const bin = (name) => process.env[`SESAM_${name.toUpperCase().replace("-", "_")}_BIN`] ?? join(root, "target", "debug", name);
export const DEMO_PSKC = join(root, "docs", "demo", "demo-code-display.pskcxml");
/// The published RFC 6238 test seed the demo code display uses.
const DEMO_SEED = Buffer.from("12345678901234567890");

export function totp(step, seed = DEMO_SEED) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", seed).update(msg).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1_000_000).padStart(6, "0");
}

export const currentStep = () => Math.floor(Date.now() / 1000 / 30);

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/// Starts `sesam serve --demo` and waits until it is ready. `env(port)` may add settings;
/// `publicHost` (a name under `localhost`, which Chromium resolves to the loopback) makes
/// the public URL `http://<publicHost>:<port>` for the browser (`publicBase`), while this
/// process keeps reaching the server at `base`.
export async function startServer({ env, publicHost } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "sesam-e2e-"));
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const publicBase = publicHost ? `http://${publicHost}:${port}` : base;
  const child = spawn(bin("sesam"), ["serve", "--demo", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`, "--public-url", publicBase], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, SESAM_MASTER_KEY: "", SESAM_DATABASE_URL: "", ...(env ? env(port) : {}) },
  });
  let log = "";
  child.stderr.on("data", (d) => { log += d; });
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (child.exitCode !== null) throw new Error(`sesam exited: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const admin = (...args) => JSON.parse(execFileSync(bin("sesam"), ["admin", "--data-dir", dataDir, "--operator", "e2e", "--json", ...args], { encoding: "utf8" }));
  const app = (state, ...args) => execFileSync(bin("sesam-app"), ["--state", state, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return {
    base, publicBase, port, dataDir, admin, app, log: () => log,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/// The newest 8-digit code the development outbox holds for `to`.
export async function smsCode(base, to) {
  for (let i = 0; i < 100; i++) {
    const { messages } = await (await fetch(`${base}/dev/outbox?format=json`)).json();
    // The outbox lists the newest first.
    const m = messages.find((x) => x.to === to && x.event === "activation.temporary_pin");
    const code = m && m.text.match(/\b\d{8}\b/);
    if (code) return code[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no SMS code for ${to}`);
}

/// Enrols a person, activates their app over the two channels, and activates the demo
/// code display with the password: what the README's walk-through does by hand.
export async function personWithCodeDisplay(server, { userId, nationalId, phone, password }) {
  const enrolled = server.admin("identity", "enrol", "--national-id", nationalId, "--name", "Anna Hansen", "--birthdate", "1990-01-01", "--phone", phone, "--user-id", userId);
  server.admin("codedisplay", "import", DEMO_PSKC);
  const state = join(server.dataDir, `${userId}.app.json`);
  const activate = ["activate", "--server", server.base, "--activation-code", enrolled.activation_code, "--pin", "123456", "--name", "e2e phone"];
  try {
    server.app(state, ...activate);
  } catch (e) {
    // Without a terminal the app asks to be run again with the SMS code.
    if (!String(e.stderr).includes("--sms-code")) throw e;
  }
  server.app(state, ...activate, "--sms-code", await smsCode(server.base, phone));
  const step = currentStep();
  server.app(state, "activate-code-display", "--serial", "DEMO-0001", "--code1", totp(step - 1), "--code2", totp(step), "--password", password, "--pin", "123456");
  return { state };
}

/// Chromium as the probe on this machine kind starts it, with a fresh profile.
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/// Waits until the code display shows a code that was not used yet (one per 30 s step).
export async function nextUnusedStep(used) {
  while (currentStep() <= used) await new Promise((r) => setTimeout(r, 500));
  return currentStep();
}

/// A PSKC file with one code display of a fresh random seed (what a manufacturer ships),
/// written into the server's data directory; returns its path, serial and seed.
export function codeDisplayFile(server, serial) {
  const seed = randomBytes(20);
  const path = join(server.dataDir, `${serial}.pskcxml`);
  writeFileSync(path, `<?xml version="1.0" encoding="UTF-8"?>
<pskc:KeyContainer xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" Version="1.0">
  <pskc:KeyPackage>
    <pskc:DeviceInfo><pskc:Manufacturer>e2e</pskc:Manufacturer><pskc:SerialNo>${serial}</pskc:SerialNo></pskc:DeviceInfo>
    <pskc:Key Id="${serial}" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
      <pskc:AlgorithmParameters><pskc:Suite>HMAC-SHA1</pskc:Suite><pskc:ResponseFormat Length="6" Encoding="DECIMAL"/></pskc:AlgorithmParameters>
      <pskc:Data>
        <pskc:Secret><pskc:PlainValue>${seed.toString("base64")}</pskc:PlainValue></pskc:Secret>
        <pskc:Time><pskc:PlainValue>0</pskc:PlainValue></pskc:Time>
        <pskc:TimeInterval><pskc:PlainValue>30</pskc:PlainValue></pskc:TimeInterval>
      </pskc:Data>
    </pskc:Key>
  </pskc:KeyPackage>
</pskc:KeyContainer>
`);
  return { path, serial, seed };
}

/// Activates the web app in `page` with the letter's `activationCode` and the SMS code sent
/// to `phone` (choosing `newUserId` when the identity has none); English texts.
export async function activateWebApp(server, page, { activationCode, phone, pin, newUserId }) {
  await page.goto(`${server.publicBase}/app/`);
  await page.getByLabel("Activation code from the letter").fill(activationCode);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByTestId("sms-sent").waitFor();
  await page.getByLabel("Code from the SMS").fill(await smsCode(server.base, phone));
  if (newUserId) await page.getByLabel("Choose your user ID").fill(newUserId);
  await page.getByLabel("Choose a 6-digit PIN").fill(pin);
  await page.getByLabel("Type the PIN again").fill(pin);
  await page.getByRole("button", { name: "Activate" }).click();
  await page.getByText(/^The app is activated\./).waitFor({ timeout: 15000 });
}
