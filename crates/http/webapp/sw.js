// The web app's service worker: an offline shell, and web push. It keeps the app's own
// static files so the app opens without a network; every other request (above all the app
// API under /app/v1/, whose answers carry personal data) goes straight to the network and
// is never stored. A push says only that something waits: the notification's text is
// fixed here, and opening it opens the app, which fetches the requests itself.
const CACHE = "sesam-shell-v1";
const SHELL = [
  "/app/",
  "/app/index.html",
  "/app/app.css",
  "/app/app.js",
  "/app/api.js",
  "/app/i18n.js",
  "/app/protocol.js",
  "/app/push.js",
  "/app/store.js",
  "/app/manifest.webmanifest",
  "/app/icon.svg",
  "/app/icon-192.png",
  "/app/icon-512.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !SHELL.includes(url.pathname)) {
    return; // not ours: the browser fetches it as if there were no service worker
  }
  // Network first, so a new release shows at once; the stored copy when offline.
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          event.waitUntil(caches.open(CACHE).then((c) => c.put(event.request, copy)));
        }
        return response;
      })
      .catch(() => caches.match(event.request).then((hit) => hit ?? Response.error())),
  );
});

// ---- web push -----------------------------------------------------------------------

const NOTICE = {
  da: "Du har en anmodning i sesam",
  en: "You have a request in sesam",
};

/** The language the person chose in the app (kept in IndexedDB), else the browser's. */
function language() {
  const fallback = (self.navigator.language || "").toLowerCase().startsWith("da") ? "da" : "en";
  return new Promise((resolve) => {
    const req = indexedDB.open("sesam-app", 1);
    req.onupgradeneeded = () => req.result.createObjectStore("keys");
    req.onerror = () => resolve(fallback);
    req.onsuccess = () => {
      const db = req.result;
      try {
        const get = db.transaction("keys", "readonly").objectStore("keys").get("lang");
        get.onsuccess = () => { db.close(); resolve(get.result === "da" || get.result === "en" ? get.result : fallback); };
        get.onerror = () => { db.close(); resolve(fallback); };
      } catch {
        db.close();
        resolve(fallback);
      }
    };
  });
}

self.addEventListener("push", (event) => {
  // The payload ({"type":"pending"}) is not needed: every push means the same.
  event.waitUntil(language().then((lang) =>
    self.registration.showNotification("sesam", {
      body: NOTICE[lang],
      lang,
      tag: "sesam-pending",
      renotify: true,
      icon: "/app/icon-192.png",
      badge: "/app/icon-192.png",
    })));
});

// ---- a subscription the push service replaced -----------------------------------------
// The push service may end a subscription and offer a new one (`pushsubscriptionchange`):
// the worker subscribes again with sesam's key and tells sesam with a device-signed call,
// as the app does (docs/protocol.md §2 and "Web push"), so pushes keep coming without the
// app being opened. A classic worker cannot import the app's modules, so the few lines
// that sign are repeated here; the server's signature check is what tests them.

/** The app's record from IndexedDB (the device key and id), or null. */
function storedDevice() {
  return new Promise((resolve) => {
    const req = indexedDB.open("sesam-app", 1);
    req.onupgradeneeded = () => req.result.createObjectStore("keys");
    req.onerror = () => resolve(null);
    req.onsuccess = () => {
      const db = req.result;
      try {
        const get = db.transaction("keys", "readonly").objectStore("keys").get("device");
        get.onsuccess = () => { db.close(); resolve(get.result ?? null); };
        get.onerror = () => { db.close(); resolve(null); };
      } catch {
        db.close();
        resolve(null);
      }
    };
  });
}

const b64url = (buf) => {
  let s = "";
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};
const unb64url = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const hexOf = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");

/** A device-signed POST (the signing bytes of docs/protocol.md §2). */
async function signedPost(device, path, body) {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const timestamp = String(Date.now());
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(18)));
  const bodyHash = hexOf(await crypto.subtle.digest("SHA-256", bytes));
  const toSign = new TextEncoder().encode(["sesam-app-request/v1", "POST", path, timestamp, nonce,
    device.deviceId.toLowerCase(), bodyHash].join("\n"));
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, device.privateKey, toSign);
  const response = await fetch(path, {
    method: "POST",
    credentials: "omit",
    cache: "no-store",
    headers: {
      "content-type": "application/json",
      "sesam-device": device.deviceId,
      "sesam-timestamp": timestamp,
      "sesam-nonce": nonce,
      "sesam-signature": b64url(signature),
    },
    body: bytes,
  });
  if (!response.ok) throw new Error(`sesam answered ${response.status}`);
}

async function resubscribe(event) {
  const device = await storedDevice();
  if (!device?.deviceId || !device.privateKey) return; // not activated: nothing to tell
  let sub = event.newSubscription ?? null;
  if (!sub) {
    const config = await (await fetch("/app/v1/config", { credentials: "omit", cache: "no-store" })).json();
    if (typeof config.push_key !== "string" || !config.push_key) return;
    sub = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: unb64url(config.push_key) });
  }
  const { endpoint, keys } = sub.toJSON();
  await signedPost(device, "/app/v1/push/subscription", { endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } });
}

self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(resubscribe(event).catch(() => { /* the app registers it again when opened */ }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const app = windows.find((w) => new URL(w.url).pathname.startsWith("/app/"));
      return app ? app.focus() : self.clients.openWindow("/app/");
    }),
  );
});
