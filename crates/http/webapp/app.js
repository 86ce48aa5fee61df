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
  if (e.code === "channel_code_wrong") return E.channel_code_wrong(left);
  if (e.code === "app_locked") {
    const until = (e.description.match(/until (\S+)/) ?? [])[1];
    const at = until ? new Date(until) : null;
    if (at && !Number.isNaN(at.getTime())) return E.app_locked_until(clock(at), /was wrong 3 times/.test(e.description));
  }
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

function showActivation(message) {
  redraw = () => showActivation();
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
  screen(h("h1", {}, t().activateTitle), noticeBox(message), h("p", {}, t().activateIntro), h("p", { class: "help" }, t().newLetterHelp), form,
    h("h2", { class: "section" }, t().pairTitle),
    h("p", {}, t().pairIntro),
    h("button", { type: "button", class: "secondary", onclick: () => showPairStart() }, t().pairStart));
  form.elements["activation-code"].focus();
}

function showSmsStep(activation) {
  redraw = () => showSmsStep(activation);
  const { started } = activation;
  const until = clock(new Date(started.sms_code_expires_at));
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
    h("button", { type: "button", class: "link", onclick: () => showActivation() }, t().startOver));
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
    nav("requests"),
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
        badge(requests.length);
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

/** The number of waiting requests on the Requests tab, seen from the other screens. */
function badge(n) {
  const tab = document.querySelector('.tab[data-screen="requests"]');
  if (tab) tab.textContent = n ? `${t().nav.requests} (${n})` : t().nav.requests;
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
    : (r.binding_required
      ? h("div", {}, field(`code-${id}`, t().bindingCode, t().bindingCodeHelp, digits(4)), canScan() ? scanner(r, () => errors) : null)
      : h("p", { class: "help" }, t().noBrowser));
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

// ---- the camera: the waiting page's QR code ------------------------------------------

/** Whether this browser can read QR codes from the camera (else the code is typed). */
function canScan() {
  return typeof globalThis.BarcodeDetector === "function" && typeof navigator.mediaDevices?.getUserMedia === "function";
}

/**
 * A button that opens the camera and reads the waiting page's QR code; a code for this
 * request fills in the field, any other QR code is refused. The camera stops when done.
 */
function scanner(r, errorsBox) {
  const box = h("div", { class: "scanner" });
  const start = h("button", { type: "button", class: "secondary" }, t().scan);
  let stream = null;
  const stop = () => {
    stream?.getTracks().forEach((track) => track.stop());
    stream = null;
    box.replaceChildren(start);
  };
  start.addEventListener("click", async () => {
    const status = h("p", { class: "help", role: "status" }, t().scanning);
    const video = h("video", { playsinline: true, muted: true, "aria-label": t().camera });
    const cancel = h("button", { type: "button", class: "link", onclick: stop }, t().scanStop);
    try {
      const detector = new BarcodeDetector({ formats: ["qr_code"] });
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      video.srcObject = stream;
      box.replaceChildren(video, status, cancel);
      await video.play().catch(() => {});
      while (stream && box.isConnected) {
        const found = await detector.detect(video).catch(() => []);
        for (const code of found) {
          const qr = p.parseBindingQr(code.rawValue);
          if (!qr) continue;
          if (qr.request !== r.id.toLowerCase()) {
            showError(errorsBox(), t().errors.qr_other);
            continue;
          }
          stop();
          const input = document.getElementById(`code-${r.id}`);
          if (input) input.value = qr.code;
          showError(errorsBox(), null);
          document.getElementById(`pin-${r.id}`)?.focus();
          return;
        }
        await sleep(250);
      }
      // The card went away (answered, expired, another screen): the camera goes off too.
      stop();
    } catch {
      stop();
      showError(errorsBox(), t().errors.camera);
    }
  });
  box.append(start);
  return box;
}

// ---- navigation and shared pieces ----------------------------------------------------

const SCREENS = { requests: () => showRequests(), activity: () => showActivity(), channels: () => showChannels(), devices: () => showDevices() };

function nav(current) {
  return h("nav", { class: "tabs", "aria-label": t().navLabel },
    Object.keys(SCREENS).map((name) => h("button", {
      type: "button",
      class: "tab",
      "aria-current": name === current ? "page" : null,
      "data-screen": name,
      onclick: () => { SCREENS[name](); document.getElementById("main").focus(); },
    }, t().nav[name])));
}

/** Times in words people read, in Danish time: "today at 14:05", "3 December 2026 at 09:12". */
/** The time of day in Danish time, 24-hour: "14:05". */
function clock(at) {
  return new Intl.DateTimeFormat(lang === "da" ? "da-DK" : "en-GB", { timeZone: "Europe/Copenhagen", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(at);
}

function when(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  const zone = "Europe/Copenhagen";
  const locale = lang === "da" ? "da-DK" : "en-GB";
  const day = (d) => new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
  const time = clock(at);
  const now = new Date();
  if (day(at) === day(now)) return t().todayAt(time);
  if (day(at) === day(new Date(now.getTime() - 86400000))) return t().yesterdayAt(time);
  const date = new Intl.DateTimeFormat(locale, { timeZone: zone, day: "numeric", month: "long", year: "numeric" }).format(at);
  return t().dateAt(date, time);
}

let uid = 0;

/**
 * A change that needs the PIN: a button that opens a small form with the PIN; `run(pin)`
 * does the change (and draws what follows). Errors are said in plain words in place.
 */
function withPin({ label, confirm, explain, danger, testid, what, run }) {
  const box = h("div", { class: "with-pin", "data-testid": testid });
  // `what` names the thing for screen readers, as every row has its own "Remove".
  const open = h("button", { type: "button", class: danger ? "secondary danger-text" : "secondary", "aria-label": what ? `${label}: ${what}` : null }, label);
  open.addEventListener("click", () => {
    const id = `pin-${++uid}`;
    const errors = h("div", { role: "alert", class: "alerts" });
    const form = h("form", { novalidate: true, class: "pin-form" },
      explain ? h("p", {}, explain) : null,
      field(id, t().pin, null, { ...pinInput("off"), required: true }),
      errors,
      h("div", { class: "buttons" },
        h("button", { type: "submit", class: danger ? "danger" : "primary" }, confirm),
        h("button", { type: "button", class: "secondary", onclick: () => box.replaceChildren(open) }, t().cancel)));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const pin = form.elements[id].value.trim();
      if (!/^[0-9]{6}$/.test(pin)) return showError(errors, t().pinFormat);
      await busy(form, async () => {
        try {
          await run(pin);
        } catch (e) {
          form.elements[id].value = "";
          if (isRevoked(e)) return showRevoked();
          showError(errors, errorText(e));
        }
      });
    });
    box.replaceChildren(form);
    form.elements[id].focus();
  });
  box.append(open);
  return box;
}

/** A screen of the signed-in app: the tabs, the title, and a body loaded from sesam. */
async function managed(name, title, load) {
  const body = h("div", { "aria-busy": "true" }, h("p", { class: "status", role: "status" }, t().loading));
  screen(nav(name), h("h1", {}, title), body);
  if (!polling) poll();
  try {
    const content = await load();
    body.replaceChildren(...[content].flat().filter((x) => x !== null && x !== undefined && x !== false));
  } catch (e) {
    if (isRevoked(e)) return showRevoked();
    body.replaceChildren(h("p", { class: "error", role: "alert" }, e.code === "network" ? t().errors.network : errorText(e)));
  } finally {
    body.removeAttribute("aria-busy");
  }
}

const noticeBox = (text) => (text ? h("p", { class: "notice", role: "status", "data-testid": "notice" }, text) : null);

// ---- activity and messages -----------------------------------------------------------

function showActivity() {
  redraw = showActivity;
  managed("activity", t().activityTitle, async () => {
    const [messages, activity] = await Promise.all([api.inbox(device), api.activity(device)]);
    const A = t();
    const words = (map, key) => map[key] ?? key;
    return [
      h("h2", { class: "section" }, A.inboxTitle),
      messages.length
        ? h("ul", { class: "items", "data-testid": "inbox" }, messages.map((m) => h("li", { class: "item" },
          h("p", { class: "item-text" }, String(m.text ?? "")),
          h("p", { class: "help" }, when(m.at)))))
        : h("p", { class: "help" }, A.inboxEmpty),
      h("h2", { class: "section" }, A.requestsDone),
      activity.requests.length
        ? h("ul", { class: "items", "data-testid": "history" }, activity.requests.map((r) => h("li", { class: "item" },
          h("p", { class: "item-head" }, `${String(r.sp_name ?? "")} · ${words(A.actions, r.action)}`),
          h("p", { class: "item-text" }, String(r.text ?? "")),
          h("p", { class: "help" }, `${words(A.results, r.not_me ? "not_me" : r.result)} · ${when(r.answered_at ?? r.at)}`))))
        : h("p", { class: "help" }, A.requestsNone),
      h("h2", { class: "section" }, A.sentTitle),
      activity.messages.length
        ? h("ul", { class: "items", "data-testid": "sent" }, activity.messages.map((m) => h("li", { class: "item" },
          h("p", { class: "item-head" }, words(A.events, m.event)),
          h("p", { class: "help" }, `${m.channel === "app" ? A.inApp : A.sentTo(words(A.channelKinds, m.channel), String(m.to ?? ""))} · ${words(A.deliveries, m.status)} · ${when(m.sent_at ?? m.at)}`))))
        : h("p", { class: "help" }, A.sentNone),
    ];
  });
}

// ---- channels ------------------------------------------------------------------------

function showChannels(message) {
  redraw = () => showChannels();
  managed("channels", t().channelsTitle, async () => {
    const c = await api.channels(device);
    const A = t();
    const again = (text) => () => showChannels(text);
    const list = [...c.channels].sort((a, b) => a.position - b.position);
    const order = list.map((x) => x.id);
    const rows = list.map((ch, i) => {
      const confirm = ch.confirmed ? null : confirmForm(ch);
      const up = i === 0 ? null : withPin({
        label: A.moveUp, confirm: A.moveUp, explain: A.moveUpExplain(ch.address), testid: "move-up", what: ch.address,
        run: async (pin) => {
          const next = [...order];
          [next[i - 1], next[i]] = [next[i], next[i - 1]];
          await api.orderChannels(device, next, pin);
          again(A.orderSaved)();
        },
      });
      const remove = withPin({
        label: A.remove, confirm: A.removeConfirm, explain: A.removeChannelExplain(ch.address), danger: true, testid: "remove-channel", what: ch.address,
        run: async (pin) => { await api.removeChannel(device, ch.id, pin); again(A.channelRemoved)(); },
      });
      return h("li", { class: "item", "data-testid": "channel" },
        h("p", { class: "item-head" }, `${i + 1}. ${A.channelKinds[ch.kind] ?? ch.kind}: `, h("span", { class: "address" }, String(ch.address))),
        h("p", { class: "help" }, ch.confirmed ? A.confirmed : A.notConfirmed),
        confirm, h("div", { class: "buttons" }, up, remove));
    });
    const everyUse = withPin({
      label: c.notify_every_use ? A.everyUseOff : A.everyUseOn,
      confirm: c.notify_every_use ? A.everyUseOff : A.everyUseOn,
      testid: "every-use",
      run: async (pin) => { await api.setEveryUse(device, !c.notify_every_use, pin); again(A.everyUseSaved(!c.notify_every_use))(); },
    });
    return [
      noticeBox(message),
      h("p", {}, A.channelsIntro),
      c.recommendation ? h("p", { class: "notice", "data-testid": "recommendation" }, A.channelsRecommend) : null,
      list.length ? h("ol", { class: "items plain", "data-testid": "channels" }, rows) : h("p", { class: "help" }, A.noChannels),
      h("h2", { class: "section" }, A.everyUseTitle),
      h("p", { "data-testid": "every-use-state" }, c.notify_every_use ? A.everyUseIsOn : A.everyUseIsOff),
      everyUse,
      h("h2", { class: "section" }, A.addChannel),
      addChannelForm(),
    ];
  });
}

function addChannelForm() {
  const A = t();
  const errors = h("div", { role: "alert", class: "alerts" });
  const kind = h("fieldset", { class: "choice" },
    h("legend", {}, A.channelKind),
    h("label", { class: "inline" }, h("input", { type: "radio", name: "kind", value: "sms", checked: true }), ` ${A.channelKinds.sms}`),
    h("label", { class: "inline" }, h("input", { type: "radio", name: "kind", value: "email" }), ` ${A.channelKinds.email}`));
  const form = h("form", { novalidate: true, "data-testid": "add-channel" },
    kind,
    field("address", A.address, A.addressHelp, { type: "text", autocomplete: "off", maxlength: 254, required: true, spellcheck: "false" }),
    field("add-pin", A.pin, null, { ...pinInput("off"), required: true }),
    errors,
    h("button", { type: "submit", class: "primary" }, A.add));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const address = f.address.value.trim();
    const pin = f["add-pin"].value.trim();
    if (!address) return showError(errors, A.addressMissing);
    if (!/^[0-9]{6}$/.test(pin)) return showError(errors, A.pinFormat);
    await busy(form, async () => {
      try {
        await api.addChannel(device, f.kind.value, address, pin);
        showChannels(A.codeSent(address));
      } catch (e) {
        f["add-pin"].value = "";
        if (isRevoked(e)) return showRevoked();
        showError(errors, errorText(e));
      }
    });
  });
  return form;
}

function confirmForm(ch) {
  const A = t();
  const id = `confirm-${ch.id}`;
  const errors = h("div", { role: "alert", class: "alerts" });
  const form = h("form", { novalidate: true, class: "pin-form", "data-testid": "confirm-channel" },
    field(`${id}-code`, A.confirmCode, A.confirmCodeHelp, { ...digits(6), maxlength: 8, pattern: "[0-9]{6,8}", required: true }),
    field(`${id}-pin`, A.pin, null, { ...pinInput("off"), required: true }),
    errors,
    h("button", { type: "submit", class: "primary" }, A.confirm));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const pin = f[`${id}-pin`].value.trim();
    if (!/^[0-9]{6}$/.test(pin)) return showError(errors, A.pinFormat);
    await busy(form, async () => {
      try {
        await api.confirmChannel(device, ch.id, f[`${id}-code`].value.trim(), pin);
        showChannels(A.channelConfirmed(ch.address));
      } catch (e) {
        f[`${id}-pin`].value = "";
        if (isRevoked(e)) return showRevoked();
        showError(errors, errorText(e));
      }
    });
  });
  return form;
}

// ---- devices, code displays and chips ------------------------------------------------

function showDevices(message) {
  redraw = () => showDevices();
  managed("devices", t().devicesTitle, async () => {
    const m = await api.me(device);
    const A = t();
    const apps = m.devices.filter((d) => d.state === "active");
    const appRows = apps.map((d) => {
      const mine = d.this_device === true;
      const remove = withPin({
        label: mine ? A.removeThis : A.remove,
        confirm: A.removeConfirm,
        explain: mine ? A.removeThisExplain : A.removeAppExplain(d.name),
        danger: true,
        testid: mine ? "remove-this" : "remove-app",
        what: mine ? null : d.name,
        run: async (pin) => {
          const done = await api.revoke(device, `app:${d.device_id}`, pin);
          if (mine) return forgetThisApp();
          showDevices(done.warning ? `${A.appRemoved(d.name)} ${A.weaker}` : A.appRemoved(d.name));
        },
      });
      return h("li", { class: "item", "data-testid": mine ? "this-app" : "app" },
        h("p", { class: "item-head" }, String(d.name), mine ? h("span", { class: "tag" }, ` · ${A.thisApp}`) : null),
        h("p", { class: "help" }, A.addedOn(when(d.created_at))),
        mine ? renameForm(d) : null,
        remove);
    });
    const displays = m.code_displays.filter((c) => c.state === "active").map((c) => h("li", { class: "item", "data-testid": "code-display" },
      h("p", { class: "item-head" }, A.codeDisplay(String(c.serial), c.kind)),
      c.activated_at ? h("p", { class: "help" }, A.activatedOn(when(c.activated_at))) : null,
      withPin({ label: A.remove, confirm: A.removeConfirm, explain: A.removeDisplayExplain, danger: true, testid: "remove-display", what: A.codeDisplay(String(c.serial), c.kind),
        run: async (pin) => { await api.revoke(device, `code_display:${c.serial}`, pin); showDevices(A.displayRemoved); } })));
    const chips = m.chips.filter((c) => c.state === "active").map((c) => h("li", { class: "item", "data-testid": "chip" },
      h("p", { class: "item-head" }, A.chip),
      h("p", { class: "help" }, A.addedOn(when(c.created_at))),
      withPin({ label: A.remove, confirm: A.removeConfirm, explain: A.removeChipExplain, danger: true, testid: "remove-chip", what: A.chip,
        run: async (pin) => { await api.revoke(device, `chip:${c.chip_id}`, pin); showDevices(A.chipRemoved); } })));
    return [
      noticeBox(message),
      h("p", { class: "who" }, t().who(device.userId, device.deviceName)),
      h("h2", { class: "section" }, A.appsTitle),
      h("ul", { class: "items plain", "data-testid": "apps" }, appRows),
      h("h2", { class: "section" }, A.displaysTitle),
      displays.length ? h("ul", { class: "items plain" }, displays) : h("p", { class: "help" }, A.noDisplays),
      h("h2", { class: "section" }, A.chipsTitle),
      chips.length ? h("ul", { class: "items plain" }, chips) : h("p", { class: "help" }, A.noChips),
      chips.length ? null : chipForm(),
    ];
  });
}

function renameForm(d) {
  const A = t();
  const errors = h("div", { role: "alert", class: "alerts" });
  const form = h("form", { novalidate: true, class: "rename" },
    field("rename", A.renameLabel, null, { type: "text", maxlength: 40, value: d.name, required: true }),
    errors,
    h("button", { type: "submit", class: "secondary" }, A.rename));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.elements.rename.value.trim();
    if (!name) return showError(errors, A.nameMissing);
    await busy(form, async () => {
      try {
        const done = await api.rename(device, d.device_id, name);
        device = { ...device, deviceName: typeof done.name === "string" ? done.name : name };
        await store.saveDevice(device).catch(() => {});
        showDevices(A.renamed(device.deviceName));
      } catch (e) {
        if (isRevoked(e)) return showRevoked();
        showError(errors, errorText(e));
      }
    });
  });
  return form;
}

/** This app removed itself: its keys are forgotten, and it offers to activate again. */
async function forgetThisApp() {
  await store.forgetDevice().catch(() => {});
  device = null;
  showActivation(t().thisRemoved);
}

// ---- chips (security keys) -----------------------------------------------------------

const canRegisterChip = () => typeof globalThis.PublicKeyCredential === "function" && typeof navigator.credentials?.create === "function";

/** The browser's options from the server's JSON (base64url fields to bytes). */
function creationOptions(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: p.unb64(json.challenge),
    user: { ...json.user, id: p.unb64(json.user.id) },
    excludeCredentials: (json.excludeCredentials ?? []).map((c) => ({ ...c, id: p.unb64(c.id) })),
  };
}

/** The credential as the JSON the server reads. */
function credentialJson(c) {
  if (typeof c.toJSON === "function") return c.toJSON();
  return {
    id: c.id,
    rawId: p.b64(new Uint8Array(c.rawId)),
    type: c.type,
    response: {
      attestationObject: p.b64(new Uint8Array(c.response.attestationObject)),
      clientDataJSON: p.b64(new Uint8Array(c.response.clientDataJSON)),
      transports: c.response.getTransports?.() ?? [],
    },
    extensions: c.getClientExtensionResults?.() ?? {},
  };
}

function chipForm() {
  const A = t();
  if (!canRegisterChip()) return h("p", { class: "help" }, A.chipUnsupported);
  const errors = h("div", { role: "alert", class: "alerts" });
  const form = h("form", { novalidate: true, "data-testid": "chip-form" },
    h("p", {}, A.chipIntro),
    field("chip-password", A.password, A.passwordHelp, { type: "password", autocomplete: "current-password", minlength: 8, maxlength: 64, required: true }),
    field("chip-pin", A.pin, null, { ...pinInput("off"), required: true }),
    errors,
    h("button", { type: "submit", class: "primary" }, A.registerChip));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    showError(errors, null);
    const pin = f["chip-pin"].value.trim();
    const password = f["chip-password"].value;
    if (password.length < 8) return showError(errors, A.passwordShort);
    if (!/^[0-9]{6}$/.test(pin)) return showError(errors, A.pinFormat);
    await busy(form, async () => {
      try {
        const started = await api.startChipRegistration(device, pin, password);
        showError(errors, null);
        errors.append(h("p", { class: "notice" }, A.touchKey));
        let credential;
        try {
          credential = await navigator.credentials.create({ publicKey: creationOptions(started.options.publicKey) });
        } catch {
          credential = null;
        }
        if (!credential) return showError(errors, A.errors.chip_cancelled);
        await api.finishChipRegistration(started.registration_id, credentialJson(credential));
        showDevices(A.chipRegistered);
      } catch (e) {
        f["chip-pin"].value = "";
        if (isRevoked(e)) return showRevoked();
        showError(errors, errorText(e));
      }
    });
  });
  return form;
}

// ---- a further app: pairing with an app the person already has ----------------------

function showPairStart() {
  redraw = showPairStart;
  const A = t();
  const errors = h("div", { role: "alert", class: "alerts" });
  const form = h("form", { novalidate: true },
    field("pair-user-id", A.userId, A.userIdHelp, { type: "text", autocomplete: "username", autocapitalize: "none", spellcheck: "false", maxlength: 48, required: true }),
    field("device-name", A.deviceName, A.deviceNameHelp, { type: "text", maxlength: 40, value: A.defaultDeviceName, required: true }),
    field("pin", A.choosePin, A.pairPinHelp, { ...pinInput("new-password"), required: true }),
    field("pin2", A.repeatPin, null, { ...pinInput("new-password"), required: true }),
    errors,
    h("button", { type: "submit", class: "primary" }, A.pairGo),
    h("button", { type: "button", class: "link", onclick: () => showActivation() }, A.withLetter));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const userId = f["pair-user-id"].value.trim();
    const pin = f.pin.value.trim();
    if (!userId) return showError(errors, A.errors.user_id_required);
    if (!/^[0-9]{6}$/.test(pin)) return showError(errors, A.pinFormat);
    if (pin !== f.pin2.value.trim()) return showError(errors, A.pinsDiffer);
    await busy(form, async () => {
      try {
        const pairing = await api.startPairing(userId, pin, f["device-name"].value.trim() || A.defaultDeviceName);
        await store.put("pairing", pairing);
        showPairWaiting(pairing);
      } catch (e) {
        f.pin.value = "";
        f.pin2.value = "";
        showError(errors, errorText(e));
      }
    });
  });
  screen(h("h1", {}, A.pairTitle), h("p", {}, A.pairIntro), form);
  form.elements["pair-user-id"].focus();
}

let pairingWatch = 0;

function showPairWaiting(pairing) {
  redraw = () => showPairWaiting(pairing);
  const A = t();
  const status = h("p", { class: "status", role: "status", "data-testid": "pair-status" }, A.pairWaiting);
  const again = h("button", { type: "button", class: "secondary", onclick: async () => {
    pairingWatch++;
    await store.remove("pairing").catch(() => {});
    showPairStart();
  } }, A.pairCancel);
  screen(h("h1", {}, A.pairTitle),
    h("p", {}, A.pairShowCode),
    h("p", { class: "pairing-code", "data-testid": "pairing-code", "aria-label": A.pairingCodeLabel }, pairing.pairingCode),
    h("p", { class: "help" }, A.pairUntil(when(pairing.expiresAt))),
    status, again);
  const mine = ++pairingWatch;
  (async () => {
    while (mine === pairingWatch) {
      try {
        const s = await api.pairingStatus(pairing.pairingId);
        if (mine !== pairingWatch) return;
        if (s.status === "approved" && typeof s.device_id === "string") {
          const { pairingId, pairingCode, expiresAt, ...rest } = pairing;
          device = { ...rest, deviceId: s.device_id };
          await store.saveDevice(device);
          await store.remove("pairing").catch(() => {});
          pairingWatch++;
          return showRequests(A.paired(device.userId));
        }
        if (s.status === "rejected" || s.status === "expired") {
          await store.remove("pairing").catch(() => {});
          status.textContent = s.status === "rejected" ? A.pairRejected : A.pairExpired;
          again.textContent = A.pairAgain;
          return;
        }
        status.textContent = A.pairWaiting;
      } catch (e) {
        status.textContent = e.code === "network" ? t().offline : errorText(e);
      }
      await sleep(2000);
    }
  })();
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
  const pairing = device ? null : await store.get("pairing").catch(() => null);
  if (device) showRequests();
  else if (pairing) showPairWaiting(pairing);
  else showActivation();
  if (device) push.refresh(device);
}

boot();
