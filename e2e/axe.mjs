// Accessibility checks shared by the browser tests: axe-core over the page as it is, the
// phone layout, one link colour, and both screen sizes. Zero violations is the bar.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export const VIEWPORTS = [["desktop", { width: 1280, height: 900 }], ["phone", { width: 390, height: 844 }]];

/** Runs axe over the page as it is and fails with every violation found. */
export async function noViolations(page, name, checked = []) {
  // axe is injected as an inline script: the context must be made with `bypassCSP`.
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () => {
    // The whole page, every rule axe runs by default (WCAG 2.0–2.2 A/AA and best practice).
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  });
  checked.push(name);
  assert.deepEqual(result, [], `${name}: ${JSON.stringify(result, null, 1)}`);
}

/** The phone layout: nothing wider than the screen, the language link on one line. */
export async function fitsThePhone(page, name) {
  const m = await page.evaluate(() => {
    const lang = document.querySelector(".lang");
    const box = document.querySelector(".transaction");
    const lh = lang && parseFloat(getComputedStyle(lang).lineHeight);
    return {
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      langLines: lang ? Math.round(lang.getBoundingClientRect().height / lh) : 1,
      boxRight: box ? box.getBoundingClientRect().right : 0,
    };
  });
  assert.ok(m.overflow <= 0, `${name}: the page is ${m.overflow}px wider than the phone`);
  assert.equal(m.langLines, 1, `${name}: the language link wraps`);
  assert.ok(m.boxRight <= 390, `${name}: the transaction box ends at ${m.boxRight}px`);
}

/** One link colour: every text link (and link-styled button) reads the same. */
export async function oneLinkColour(page, name) {
  const colours = await page.evaluate(() => [...new Set(
    [...document.querySelectorAll("a:not(.button):not(.method):not(.skip), button.link")].map((a) => getComputedStyle(a).color),
  )]);
  assert.ok(colours.length <= 1, `${name}: links in ${colours.join(", ")}`);
}

/** Checks the page at both sizes; a screenshot of each goes to `shots` when given. */
export async function bothSizes(page, name, { shots, checked } = {}) {
  await oneLinkColour(page, name);
  for (const [size, viewport] of VIEWPORTS) {
    await page.setViewportSize(viewport);
    if (size === "phone") await fitsThePhone(page, name);
    await noViolations(page, `${name} (${size})`, checked);
    if (shots) await page.screenshot({ path: join(shots, `${name.replace(/[^a-z0-9]+/gi, "-")}-${size}.png`), fullPage: true });
  }
}

/**
 * 200 % zoom (WCAG 1.4.4 and 1.4.10): a 1280×900 window zoomed to 200 % lays the page out
 * in 640×450 CSS pixels. The page must reflow into that: nothing wider than the window.
 */
export async function at200PercentZoom(page, name) {
  await page.setViewportSize({ width: 640, height: 450 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${name} at 200 %: ${overflow}px wider than the window`);
}
