// The chip step: asks the server for a challenge, lets the browser talk to the security
// key (WebAuthn), and sends the answer with the password. Everything else on the login
// pages works without JavaScript.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-chip]");
  if (!form) return;
  const status = document.getElementById("chip-status");
  form.addEventListener("submit", async (event) => {
    if (form.dataset.ready === "1") return;
    event.preventDefault();
    status.textContent = status.dataset.waiting;
    try {
      const body = new URLSearchParams({ csrf: form.elements.csrf.value });
      const r = await fetch(form.dataset.challenge, { method: "POST", body, credentials: "same-origin" });
      if (!r.ok) throw new Error("no challenge");
      const c = await r.json();
      const options = PublicKeyCredential.parseRequestOptionsFromJSON(c.options.publicKey);
      const credential = await navigator.credentials.get({ publicKey: options });
      form.elements.ceremony.value = c.ceremony;
      form.elements.credential.value = JSON.stringify(credential.toJSON());
      form.dataset.ready = "1";
      form.submit();
    } catch (e) {
      status.textContent = status.dataset.failed;
    }
  });
});

// The app's waiting page: asks the server every 2 seconds whether the person answered in
// the app and shows the time left; once answered (or expired) it opens the page that
// finishes the login or says what happened. Without script the page refreshes itself
// (a <meta> refresh inside <noscript>), so nothing here is needed to log on.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-wait]");
  if (!box) return;
  const status = box.querySelector("[role=status]");
  const countdown = box.querySelector(".countdown");
  const clock = countdown.querySelector("[data-testid=countdown]");
  const deadline = Date.now() + Number(box.dataset.secondsLeft) * 1000;
  // At zero the countdown stops; the server says when the request has expired (the next
  // poll), so a clock that runs a little fast cannot reload the page in a loop.
  let warned = false;
  let leaving = false;
  const leave = (text) => {
    if (leaving) return;
    leaving = true;
    if (text) status.textContent = text;
    window.location.replace(box.dataset.next);
  };
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    clock.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    countdown.hidden = false;
    if (left <= 60 && left > 0 && !warned) {
      warned = true;
      status.textContent = box.dataset.minuteLeft;
    }
  };
  const poll = async () => {
    try {
      const r = await fetch(box.dataset.wait, { credentials: "same-origin", headers: { accept: "application/json" } });
      if (r.ok) {
        const s = await r.json();
        if (s.state !== "waiting") return leave(s.state === "answered" ? box.dataset.answered : "");
      } else if (r.status !== 429) {
        return leave();
      }
    } catch {
      // Offline for a moment: try again at the next poll.
    }
    setTimeout(poll, 2000);
  };
  tick();
  setInterval(tick, 1000);
  setTimeout(poll, 1000);
});
