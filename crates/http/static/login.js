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
