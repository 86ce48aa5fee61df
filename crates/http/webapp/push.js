// Web push for this app (docs/protocol.md, "Web push"): the "Notifications" switch. On,
// the browser subscribes with sesam's VAPID key and the subscription is registered with a
// device-signed call; off, it is removed from sesam and from the browser. A push carries
// nothing but "something waits": the service worker shows a fixed text, and the app
// fetches the requests itself.
import * as api from "./api.js";
import * as store from "./store.js";

const TEXTS = {
  da: {
    label: "Notifikationer",
    help: "Få besked på denne enhed, når en anmodning venter på dig.",
    unsupported: "Denne browser kan ikke give besked fra sesam.",
    denied: "Notifikationer er slået fra for sesam i browserens indstillinger.",
    failed: "Notifikationer kunne ikke ændres. Prøv igen.",
    on: "Du får besked, når en anmodning venter.",
    off: "Notifikationer er slået fra.",
  },
  en: {
    label: "Notifications",
    help: "Be told on this device when a request waits for you.",
    unsupported: "This browser cannot notify you for sesam.",
    denied: "Notifications for sesam are blocked in the browser's settings.",
    failed: "Notifications could not be changed. Please try again.",
    on: "You will be told when a request waits.",
    off: "Notifications are off.",
  },
};

export const supported = () =>
  "serviceWorker" in navigator && "PushManager" in globalThis && "Notification" in globalThis;

function fromB64url(s) {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

function sameBytes(a, b) {
  if (!a || !b) return false;
  const x = new Uint8Array(a);
  return x.length === b.length && x.every((v, i) => v === b[i]);
}

/** The service worker's registration, or an error after 10 s (e.g. it failed to install). */
function registration() {
  return Promise.race([
    navigator.serviceWorker.ready,
    new Promise((_, reject) => setTimeout(() => reject(new Error("no service worker")), 10000)),
  ]);
}

/** Subscribes this browser and registers the subscription with sesam. */
export async function subscribe(device) {
  const config = await api.getUnsigned("/app/v1/config");
  if (typeof config.push_key !== "string" || !config.push_key) throw new Error("sesam does not push");
  const key = fromB64url(config.push_key);
  if ((await Notification.requestPermission()) !== "granted") {
    throw Object.assign(new Error("denied"), { denied: true });
  }
  const reg = await registration();
  let sub = await reg.pushManager.getSubscription();
  // A subscription made for another server key cannot be used: start again.
  if (sub && !sameBytes(sub.options?.applicationServerKey, key)) {
    await sub.unsubscribe();
    sub = null;
  }
  sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  const { endpoint, keys } = sub.toJSON();
  await api.signed(device, "POST", "/app/v1/push/subscription", {
    endpoint,
    keys: { p256dh: keys.p256dh, auth: keys.auth },
  });
  await store.put("push", true);
}

/** Removes the subscription from sesam and from the browser. */
export async function unsubscribe(device) {
  await api.signed(device, "POST", "/app/v1/push/subscription/remove");
  await store.put("push", false);
  const reg = await navigator.serviceWorker.getRegistration("/app/").catch(() => null);
  const sub = await reg?.pushManager.getSubscription().catch(() => null);
  await sub?.unsubscribe().catch(() => {});
}

/** When the person turned notifications on, registers the browser's current
 *  subscription again (the push service may have replaced it). Quiet on failure. */
export async function refresh(device) {
  if (!supported() || Notification.permission !== "granted") return;
  if ((await store.get("push").catch(() => false)) !== true) return;
  await subscribe(device).catch(() => {});
}

/** The switch, for the requests screen. */
export function pushSwitch(device, lang) {
  const T = TEXTS[lang] ?? TEXTS.en;
  const box = document.createElement("div");
  box.className = "field push";
  const label = document.createElement("label");
  const input = document.createElement("input");
  input.type = "checkbox";
  input.id = "push-switch";
  input.setAttribute("role", "switch");
  input.setAttribute("aria-describedby", "push-help");
  label.append(input, " ", T.label);
  const help = document.createElement("p");
  help.className = "help";
  help.id = "push-help";
  help.textContent = T.help;
  const status = document.createElement("p");
  status.setAttribute("role", "status");
  status.id = "push-status";
  box.append(label, help, status);
  if (!supported()) {
    input.disabled = true;
    status.textContent = T.unsupported;
    return box;
  }
  store.get("push").then((on) => {
    input.checked = on === true && Notification.permission === "granted";
  }).catch(() => {});
  input.addEventListener("change", async () => {
    const want = input.checked;
    input.disabled = true;
    status.textContent = "";
    try {
      if (want) await subscribe(device);
      else await unsubscribe(device);
      status.textContent = want ? T.on : T.off;
    } catch (e) {
      input.checked = !want;
      status.textContent = e?.denied ? T.denied : T.failed;
    } finally {
      input.disabled = false;
    }
  });
  return box;
}
