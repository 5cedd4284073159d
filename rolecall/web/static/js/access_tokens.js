// Settings → Access Tokens: create a token (shown once), list tokens with their last use, revoke.

import { api } from "./app.js";

const root = document.querySelector("[data-access-tokens]");
const part = (role) => root.querySelector(`[data-role="${role}"]`);

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function say(role, text) {
  const node = part(role);
  node.textContent = text ?? "";
  node.hidden = !text;
}

function when(iso, never = "Never") {
  if (!iso) return never;
  const date = new Date(iso);
  return el("time", { dateTime: iso, textContent: date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) });
}

function row(token) {
  const revoke = el("button", { type: "button", className: "btn btn-danger btn-small", textContent: "Revoke" });
  revoke.setAttribute("aria-label", `Revoke token “${token.name}”`);
  revoke.addEventListener("click", () => revokeToken(token, revoke));
  const expires = token.expired ? el("span", { className: "pill pill--red", textContent: "Expired" }) : when(token.expires_at);
  const tr = el("tr", {},
    el("td", { textContent: token.name }),
    el("td", {}, el("code", { textContent: `…${token.hint}` })),
    el("td", { textContent: token.scopes.join(", ") }),
    el("td", {}, when(token.created_at)),
    el("td", {}, expires),
    el("td", {}, when(token.last_used_at, "Not used yet")),
    el("td", {}, revoke));
  tr.dataset.tokenId = token.id;
  return tr;
}

async function refresh() {
  try {
    const tokens = await api("/api/access-tokens");
    part("list").querySelector("tbody").replaceChildren(...tokens.map(row));
    part("list").hidden = tokens.length === 0;
    part("empty").hidden = tokens.length !== 0;
    say("list-error", "");
  } catch (error) {
    say("list-error", error.message);
  }
}

async function revokeToken(token, button) {
  if (!window.confirm(`Revoke “${token.name}”? Tools using it stop working at once.`)) return;
  button.disabled = true;
  try {
    await api(`/api/access-tokens/${encodeURIComponent(token.id)}`, { method: "DELETE" });
  } catch (error) {
    say("list-error", error.message);
    button.disabled = false;
    return;
  }
  await refresh();
}

async function create(event) {
  event.preventDefault();
  const form = part("create");
  const name = form.elements.name.value.trim();
  const scopes = [...form.querySelectorAll('input[name="scope"]:checked')].map((box) => box.value);
  if (!name) {
    say("create-error", "Give the token a name, e.g. “VS Code on my laptop”.");
    form.elements.name.focus();
    return;
  }
  if (!scopes.length) {
    say("create-error", "Choose what the token may do: chat, list models, or both.");
    return;
  }
  const expires = form.elements.expires.value;
  const submit = form.querySelector('button[type="submit"]');
  submit.disabled = true;
  try {
    const created = await api("/api/access-tokens", {
      method: "POST", body: { name, scopes, expires_in_days: expires ? Number(expires) : null },
    });
    say("create-error", "");
    form.reset();
    part("created-name").textContent = created.name;
    part("created-token").value = created.token;
    part("created").hidden = false;
    part("created-token").focus();
    part("created-token").select();
    await refresh();
  } catch (error) {
    say("create-error", error.message);
  } finally {
    submit.disabled = false;
  }
}

if (root) {
  part("create").addEventListener("submit", create);
  root.querySelector('[data-action="copy"]').addEventListener("click", async (event) => {
    const input = part("created-token");
    try {
      await navigator.clipboard.writeText(input.value);
      event.target.textContent = "Copied";
    } catch {
      input.select();  // the clipboard API needs a secure context; leave it selected for Ctrl+C
    }
  });
  root.querySelector('[data-action="dismiss"]').addEventListener("click", () => {
    part("created-token").value = "";  // the token leaves the page once the person has it
    part("created").hidden = true;
  });
  refresh();
}
