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

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const app = windows.find((w) => new URL(w.url).pathname.startsWith("/app/"));
      return app ? app.focus() : self.clients.openWindow("/app/");
    }),
  );
});
