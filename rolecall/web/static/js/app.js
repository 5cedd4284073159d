// Site-wide behaviour: the phone menu, confirmation prompts, and a fetch helper that sends the
// CSRF token. Plain ES module, no build step.

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

// fetch() for our JSON API: sends the CSRF header and parses the canonical error shape.
export async function api(path, { method = "GET", body } = {}) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) {
    const error = new Error(data?.error ?? `Request failed (${response.status})`);
    error.status = response.status;
    error.field = data?.field ?? null;
    throw error;
  }
  return data;
}

function wireMenu() {
  const toggle = document.querySelector(".nav-toggle");
  const nav = document.getElementById("main-nav");
  if (!toggle || !nav) return;
  toggle.addEventListener("click", () => {
    const open = nav.classList.toggle("is-open");
    toggle.setAttribute("aria-expanded", String(open));
  });
}

// Log-out also forgets a vault key this browser remembers (the server's Clear-Site-Data does too).
function wireLogout() {
  for (const form of document.querySelectorAll('form[action="/logout"]')) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const done = () => form.submit();
      try {
        const request = indexedDB.deleteDatabase("rolecall-vault");
        request.onsuccess = request.onerror = request.onblocked = done;
      } catch {
        done();
      }
    });
  }
}

function wireConfirms() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

// Left/Right (and Home/End) move between the links of a nav marked data-arrow-keys (Settings tabs).
function wireArrowKeys() {
  for (const nav of document.querySelectorAll("nav[data-arrow-keys]")) {
    nav.addEventListener("keydown", (event) => {
      const links = [...nav.querySelectorAll("a")];
      const at = links.indexOf(document.activeElement);
      if (at < 0) return;
      const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: links.length - 1 }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      links[(to + links.length) % links.length].focus();
    });
  }
}

wireMenu();
wireArrowKeys();
wireConfirms();
wireLogout();
