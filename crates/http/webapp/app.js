// The sesam web app: activation of this browser as an app with the letter and the SMS
// code, then the list of requests waiting for the person's answer. Screens are built with
// DOM calls only (no HTML from strings: the page's policy requires Trusted Types).
import * as api from "./api.js";
import * as p from "./protocol.js";
import * as push from "./push.js";
import * as store from "./store.js";
import { TEXTS, browserLanguage } from "./i18n.js";

let lang = "da";
const t = () => TEXTS[lang];
let device = null;
/** What is drawn now, drawn again when the language changes. */
let redraw = () => {};

// ---- small DOM helpers --------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A labelled input with its help text, announced with it. */
function field(id, label, help, attrs) {
  const helpId = help ? `${id}-help` : undefined;
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    help ? h("p", { class: "help", id: helpId }, help) : null,
    h("input", { id, name: id, "aria-describedby": helpId, ...attrs }));
}

const digits = (n) => ({ type: "text", inputmode: "numeric", pattern: `[0-9]{${n}}`, maxlength: n, autocomplete: "off", spellcheck: "false" });
const pinInput = (autocomplete) => ({ type: "password", inputmode: "numeric", pattern: "[0-9]{6}", maxlength: 6, autocomplete });

function screen(...children) {
  const main = document.getElementById("main");
  main.replaceChildren(...children);
  return main;
}

/** Shows `message` in the form's alert area (or clears it). */
function showError(box, message) {
  box.replaceChildren();
  if (message) box.append(h("p", { class: "error" }, message));
}

function errorText(e, request) {
  const E = t().errors;
  if (!(e instanceof api.ApiError)) return E.other;
  const left = (e.description.match(/(\d+) attempts? left/) ?? [])[1];
  if (e.code === "sms_code_wrong") return E.sms_code_wrong(left);
  if (e.code === "pin_wrong") return E.pin_wrong(left);
  if (e.status === 401 && /clock/.test(e.description)) return E.clock;
  if (e.code === "invalid_request" && (/expired|already answered/.test(e.description) || (request && secondsLeft(request) <= 0))) return E.expired;
  if (typeof E[e.code] === "string") return E[e.code];
  if (e.code.startsWith("user_id") || e.code === "invalid_request" && /user ID/.test(e.description)) return E.user_id_refused(e.description);
  return e.description ? `${E.other} (${e.description})` : E.other;
}

const isRevoked = (e) => e instanceof api.ApiError && e.status === 401 && /unknown or revoked device/.test(e.description);

// ---- the language -------------------------------------------------------------------

function applyLanguage() {
  document.documentElement.lang = lang;
  document.title = t().title;
  const button = document.getElementById("lang");
  button.textContent = t().otherLangName;
  button.setAttribute("lang", t().otherLang);
  document.querySelector(".skip").textContent = t().skip;
}

async function switchLanguage() {
  lang = t().otherLang;
  await store.put("lang", lang).catch(() => {});
  applyLanguage();
  redraw();
}

// ---- activation ---------------------------------------------------------------------

function showActivation() {
  redraw = showActivation;
  const errors = h("div", { role: "alert", class: "alerts" });
  const form = h("form", { novalidate: true },
    field("activation-code", t().activationCode, t().activationCodeHelp,
      { type: "text", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", required: true }),
    errors,
    h("button", { type: "submit", class: "primary" }, t().next));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = form.elements["activation-code"].value.trim();
    if (!code) return showError(errors, t().errors.activation_code_invalid);
    await busy(form, async () => {
      try {
        const started = await api.startActivation(code);
        showSmsStep({ started, activationCode: code });
      } catch (e) {
        showError(errors, errorText(e));
      }
    });
  });
  screen(h("h1", {}, t().activateTitle), h("p", {}, t().activateIntro), form);
  form.elements["activation-code"].focus();
}

function showSmsStep(activation) {
  redraw = () => showSmsStep(activation);
  const { started } = activation;
  const until = new Date(started.sms_code_expires_at).toLocaleTimeString(lang === "da" ? "da-DK" : "en-GB", { hour: "2-digit", minute: "2-digit" });
  const errors = h("div", { role: "alert", class: "alerts" });
  const form = h("form", { novalidate: true },
    field("sms-code", t().smsCode, null, { ...digits(8), autocomplete: "one-time-code", required: true }),
    started.user_id_required
      ? field("user-id", t().chooseUserId, t().chooseUserIdHelp, { type: "text", autocomplete: "username", autocapitalize: "none", spellcheck: "false", maxlength: 48, required: true })
      : null,
    field("device-name", t().deviceName, t().deviceNameHelp, { type: "text", maxlength: 40, value: t().defaultDeviceName, required: true }),
    field("pin", t().choosePin, t().choosePinHelp, { ...pinInput("new-password"), required: true }),
    field("pin2", t().repeatPin, null, { ...pinInput("new-password"), required: true }),
    errors,
    h("button", { type: "submit", class: "primary" }, t().activate),
    h("button", { type: "button", class: "link", onclick: showActivation }, t().startOver));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const pin = f.pin.value.trim();
    if (!/^[0-9]{6}$/.test(pin)) return showError(errors, t().pinFormat);
    if (pin !== f.pin2.value.trim()) return showError(errors, t().pinsDiffer);
    await busy(form, async () => {
      try {
        const d = await api.completeActivation({
          started,
          activationCode: activation.activationCode,
          smsCode: f["sms-code"].value.trim(),
          pin,
          deviceName: f["device-name"].value.trim() || t().defaultDeviceName,
          newUserId: started.user_id_required ? f["user-id"].value.trim() : null,
        });
        await store.saveDevice(d);
        device = d;
        showRequests(t().activated(d.userId));
      } catch (e) {
        f.pin.value = "";
        f.pin2.value = "";
        showError(errors, errorText(e));
      }
    });
  });
  screen(h("h1", {}, t().activateTitle),
    h("p", { "data-testid": "sms-sent" }, t().smsSent(started.sms_sent_to, until)),
    form);
  form.elements["sms-code"].focus();
}

/** Runs `action` with the form's buttons disabled, so nothing is sent twice. */
async function busy(form, action) {
  const buttons = [...form.querySelectorAll("button")];
  buttons.forEach((b) => { b.disabled = true; });
  form.setAttribute("aria-busy", "true");
  try {
    await action();
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    form.removeAttribute("aria-busy");
  }
}

// ---- requests -----------------------------------------------------------------------

/** The cards on the screen by request id, kept while the person types. */
const cards = new Map();
let polling = false;
let notice = null;

function secondsLeft(request) {
  return Math.floor((Date.parse(request.expires_at) - Date.now()) / 1000);
}

function showRequests(message) {
  redraw = () => showRequests();
  notice = message ?? null;
  cards.clear();
  const list = h("div", { class: "requests", id: "requests", "aria-live": "polite" });
  screen(
    h("h1", {}, t().requestsTitle),
    h("p", { class: "who", "data-testid": "who" }, t().who(device.userId, device.deviceName)),
    push.pushSwitch(device, lang),
    notice ? h("p", { class: "notice", role: "status" }, notice) : null,
    h("p", { class: "status", role: "status", id: "poll-status" }, t().waiting),
    h("div", { id: "outcome", role: "status" }),
    list);
  if (!polling) poll();
}

function setStatus(text) {
  const s = document.getElementById("poll-status");
  if (s && s.textContent !== text) s.textContent = text;
}

async function poll() {
  polling = true;
  // The first look, and the first after a failure, does not wait: the list shows the
  // state at once (e.g. when the connection comes back); after that it long-polls.
  let quick = true;
  try {
    while (device) {
      try {
        const requests = await api.pending(device, cards.size || quick ? 0 : 25);
        quick = false;
        if (!device) break;
        update(requests);
        setStatus(requests.length ? "" : t().waiting);
        if (requests.length) await sleep(2000);
      } catch (e) {
        if (isRevoked(e)) return showRevoked();
        setStatus(e.code === "network" ? t().offline : errorText(e));
        quick = true;
        await sleep(5000);
      }
    }
  } finally {
    polling = false;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function update(requests) {
  const list = document.getElementById("requests");
  if (!list) return;
  const ids = new Set(requests.map((r) => r.id));
  for (const [id, card] of cards) {
    if (!ids.has(id) && !card.answering) {
      card.el.remove();
      cards.delete(id);
    }
  }
  for (const r of requests) {
    if (!cards.has(r.id)) {
      const card = makeCard(r);
      cards.set(r.id, card);
      list.append(card.el);
    }
  }
}

function actionName(r) {
  return t().actions[r.kind === "activate_app" ? "activate_app" : r.action] ?? r.action ?? "";
}

function makeCard(r) {
  const pairing = r.kind === "activate_app";
  const id = r.id;
  const card = { el: null, answering: false };
  const left = h("p", { class: "time-left", "data-testid": "time-left" });
  const tick = () => {
    const s = secondsLeft(r);
    left.textContent = s > 0 ? t().timeLeft(Math.floor(s / 60), s % 60) : t().expired;
    if (s > 0) {
      if (card.el.isConnected) setTimeout(tick, 1000);
    } else if (!card.answering) {
      // Expired while shown: say so where the person is looking, then take it away.
      showError(errors, t().errors.expired);
      form.querySelectorAll("input, button").forEach((x) => { x.disabled = true; });
      setTimeout(() => { card.el.remove(); cards.delete(id); }, 10000);
    }
  };
  const errors = h("div", { role: "alert", class: "alerts" });
  const codeField = pairing
    ? (r.pairing_code_required ? field(`code-${id}`, t().pairingCode, null, digits(4)) : null)
    : (r.binding_required ? field(`code-${id}`, t().bindingCode, t().bindingCodeHelp, digits(4)) : h("p", { class: "help" }, t().noBrowser));
  const form = h("form", { novalidate: true },
    codeField,
    field(`pin-${id}`, t().pin, null, { ...pinInput("off"), required: true }),
    errors,
    h("div", { class: "buttons" },
      h("button", { type: "submit", class: "primary", value: "approve" }, t().approve),
      h("button", { type: "button", class: "secondary", "data-answer": "reject" }, t().reject),
      pairing ? null : h("button", { type: "button", class: "secondary", "data-answer": "not-me" }, t().notMe)));
  const answer = async (kind) => {
    const f = form.elements;
    const pin = f[`pin-${id}`].value.trim();
    const code = f[`code-${id}`]?.value ?? "";
    if (kind === "approve" && !/^[0-9]{6}$/.test(pin)) return showError(errors, t().pinFormat);
    card.answering = true;
    showError(errors, null);
    await busy(form, async () => {
      try {
        if (kind === "approve") {
          await (pairing ? api.approvePairing(device, r, pin, code) : api.approveLogin(device, r, pin, code));
          finish(pairing ? t().approvedApp : t().approved(r.sp_name), false);
        } else {
          await (pairing ? api.rejectPairing(device, r) : api.rejectLogin(device, r, kind === "not-me"));
          finish(kind === "not-me" ? t().reported : t().rejected, kind === "not-me");
        }
      } catch (e) {
        card.answering = false;
        f[`pin-${id}`].value = "";
        if (isRevoked(e)) return showRevoked();
        showError(errors, e.code === "network" ? t().errors.unsure : errorText(e, r));
        if (["request_voided", "pairing_voided"].includes(e.code) || errorText(e, r) === t().errors.expired) {
          form.querySelectorAll("input, button").forEach((x) => { x.disabled = true; });
          setTimeout(() => { card.el.remove(); cards.delete(id); }, 8000);
        }
      }
    });
  };
  const finish = (text, offerBlock) => {
    card.el.remove();
    cards.delete(id);
    const outcome = document.getElementById("outcome");
    if (!outcome) return;
    outcome.replaceChildren(h("p", { class: "notice", "data-testid": "outcome" }, text));
    if (offerBlock) outcome.append(blockOffer());
  };
  if (!pairing && !p.showableText(r.text)) {
    // Never approve what cannot be shown exactly; it can still be refused.
    showError(errors, t().errors.unshowable);
    form.querySelector("button[type=submit]").disabled = true;
    form.querySelector("button[type=submit]").hidden = true;
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); answer("approve"); });
  form.querySelectorAll("button[data-answer]").forEach((b) => b.addEventListener("click", () => answer(b.dataset.answer)));
  const level = pairing ? "" : t().level(r.level);
  card.el = h("article", { class: "request", "data-testid": "request", "aria-labelledby": `head-${id}` },
    h("h2", { id: `head-${id}`, class: "request-head" },
      h("span", { class: "action" }, actionName(r)),
      h("span", { class: "sp-name", "data-testid": "sp-name" }, pairing ? "sesam" : r.sp_name)),
    h("section", { class: "transaction", "aria-label": t().youApprove },
      h("p", { class: "transaction-label" }, t().youApprove),
      h("p", { class: "transaction-text", "data-testid": "transaction-text" }, r.text)),
    level ? h("p", { class: "help" }, level) : null,
    left,
    form);
  setTimeout(tick, 0);
  return card;
}

function blockOffer() {
  const box = h("div", { class: "block-offer" }, h("p", {}, t().blockAdvice));
  const button = h("button", { type: "button", class: "danger" }, t().block);
  button.addEventListener("click", async () => {
    if (button.dataset.confirm !== "1") {
      button.dataset.confirm = "1";
      button.textContent = t().blockConfirm;
      return;
    }
    button.disabled = true;
    try {
      await api.blockIdentity(device);
      box.replaceChildren(h("p", { class: "notice", role: "status" }, t().blocked));
    } catch (e) {
      button.disabled = false;
      box.append(h("p", { class: "error", role: "alert" }, errorText(e)));
    }
  });
  box.append(button);
  return box;
}

function showRevoked() {
  redraw = showRevoked;
  const again = h("button", { type: "button", class: "primary" }, t().activateAgain);
  again.addEventListener("click", async () => {
    await store.forgetDevice().catch(() => {});
    device = null;
    showActivation();
  });
  screen(h("h1", {}, t().title), h("p", { class: "error", role: "alert" }, t().errors.revoked), again);
}

// ---- start --------------------------------------------------------------------------

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  let url = "/app/sw.js";
  if (globalThis.trustedTypes) {
    const policy = trustedTypes.createPolicy("sesam", {
      createScriptURL: (u) => { if (u === "/app/sw.js") return u; throw new TypeError("not the service worker"); },
    });
    url = policy.createScriptURL(url);
  }
  navigator.serviceWorker.register(url, { scope: "/app/" }).catch(() => { /* the app works without it */ });
}

async function boot() {
  lang = (await store.get("lang").catch(() => null)) ?? browserLanguage(navigator.languages);
  applyLanguage();
  document.getElementById("lang").addEventListener("click", switchLanguage);
  registerServiceWorker();
  device = (await store.device().catch(() => null)) ?? null;
  if (device) showRequests();
  else showActivation();
  if (device) push.refresh(device);
}

boot();
