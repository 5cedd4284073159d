// Settings → API Keys → BYOK Providers: the config cards (status, label, provider, privacy mode,
// masked key hint, last tested) with Test Key / Edit / Delete, and the entry point that wires the
// Add/Edit Provider modal (provider_form.js).

import { initProviderForm, openAdd, openEdit } from "./provider_form.js";
import { MODE_NAMES, pill, showResult } from "./provider_status.js";
import { headerLines } from "./provider_fields.js";
import * as vault from "./vault.js";
// Module scripts are loaded without a version query, so these are the page's own instances
// (vault_session.js holds the unlocked vault key in module state).
import { api } from "./app.js";
import "./encryption.js";
import { unlocked as unlockedVault } from "./vault_session.js";
import { el, showText } from "./dom.js";

const root = document.querySelector("[data-byok-providers]");
const list = root?.querySelector('[data-role="provider-list"]');
const configs = new Map();  // id → config, as last read from the API
const messages = new Map();  // id → the last Test Key answer shown on that card

const say = (role, text) => showText(root, role, text);

// ---- key hints -------------------------------------------------------------------------------

const bindingOf = (config, unlocked) => ({
  userId: unlocked.userId, configId: config.id, providerId: config.provider_id, destOrigin: config.dest_origin,
});

async function openCredential(config) {
  const unlocked = unlockedVault();
  if (!unlocked || !config.credential) return null;
  return vault.openBundle(unlocked.udk, config.credential, bindingOf(config, unlocked));
}

// E2E: the server has no hint to give; this browser computes it once the vault is unlocked.
async function keyHint(config) {
  if (config.privacy_mode !== "e2e") return config.key_hint ?? "No key stored";
  if (!unlockedVault()) return "end-to-end encrypted";
  try {
    const bundle = await openCredential(config);
    const key = bundle?.api_key ?? "";
    if (!key) return "No key stored";
    return key.trimStart().startsWith("{") ? "service-account JSON" : vault.maskedHint(key);
  } catch {
    return "can't be decrypted here: edit the config and paste the key again";
  }
}

// ---- cards -----------------------------------------------------------------------------------

function fact(term, ...value) {
  return [el("dt", { textContent: term }), el("dd", {}, ...value)];
}

function lastTested(iso) {
  if (!iso) return "Never";
  return el("time", { dateTime: iso, textContent: new Date(iso).toLocaleString() });
}

function cardActions(config) {
  const button = (text, action, extra = "") => {
    const b = el("button", { type: "button", className: `btn btn-small ${extra}`.trim(), textContent: text });
    b.dataset.action = action;
    b.dataset.configId = config.id;
    return b;
  };
  return el("div", { className: "actions" },
    button("Test Key", "test-key"), button("Edit", "edit", "btn-ghost"), button("Delete", "delete", "btn-danger"));
}

function errorLine(text) {
  const line = el("p", { className: "alert", textContent: text });
  line.setAttribute("role", "alert");
  return line;
}

// The last Test Key answer on this card: the result, or why the test could not be sent.
function cardResult(message) {
  if (message?.error) return errorLine(message.error);
  const box = el("div", { className: "test-result", hidden: true });
  box.setAttribute("role", "status");
  box.dataset.role = "card-result";
  if (message) showResult(box, message);
  return box;
}

function renderCard(config) {
  const titleId = `provider-${config.id}-title`;
  const hint = el("dd", { textContent: config.privacy_mode === "e2e" ? "end-to-end encrypted" : "" });
  hint.dataset.role = "key-hint";
  const facts = el("dl", { className: "facts provider-facts" },
    ...fact("Provider", config.provider_name), ...fact("Privacy", MODE_NAMES[config.privacy_mode]),
    ...fact("Endpoint", el("code", { className: "endpoint", textContent: config.base_url })),
    el("dt", { textContent: "Key" }), hint, ...fact("Last tested", lastTested(config.last_tested_at)),
    ...(config.model ? fact("Model", config.model) : []));
  const message = messages.get(config.id);
  // A fresh Test Key answer on the card already says why the config is invalid: say it once.
  const detail = config.status === "invalid" && config.status_detail && !message
    ? el("p", { className: "muted provider-detail", textContent: config.status_detail }) : null;
  const result = cardResult(message);
  const card = el("article", { className: "card provider-card", id: `provider-${config.id}` },
    el("div", { className: "card__head" }, el("h3", { id: titleId, textContent: config.label }), pill(config.status)),
    facts, detail, result, cardActions(config));
  card.setAttribute("aria-labelledby", titleId);
  card.dataset.configId = config.id;
  keyHint(config).then((text) => { hint.textContent = text; });
  return card;
}

function renderAll() {
  list.replaceChildren(...[...configs.values()].map(renderCard));
  root.querySelector('[data-role="provider-empty"]').hidden = configs.size > 0;
}

async function loadConfigs() {
  const rows = await api("/api/provider-configs");
  configs.clear();
  for (const row of rows) configs.set(row.id, row);
  for (const id of messages.keys()) if (!configs.has(id)) messages.delete(id);
  renderAll();
  document.dispatchEvent(new CustomEvent("providers:loaded", { detail: { count: configs.size } }));
}

// `data-state` on the list: "working" while a request runs, "ready" when the cards show its answer
// (pages and tests wait on it rather than on a fixed time).
async function working(task) {
  root.dataset.state = "working";
  try {
    return await task();
  } finally {
    root.dataset.state = "ready";
  }
}

// ---- Test Key, Edit, Delete --------------------------------------------------------------------

// E2E: decrypt here and hand the key to the server for this one call; Server-Accessible: the
// server uses the key it holds, so the body is empty.
async function secretFor(config) {
  if (config.privacy_mode !== "e2e") return {};
  if (!unlockedVault()) {
    throw new Error("Unlock encryption above (End-to-End Encryption card) to test an end-to-end key.");
  }
  let bundle;
  try {
    bundle = await openCredential(config);
  } catch {
    throw new Error("This key can't be decrypted here. Edit the config and paste the key again.");
  }
  return { api_key: bundle?.api_key ?? null, headers: headerLines(bundle?.headers) };
}

async function testKey(config, button) {
  button.disabled = true;
  button.textContent = "Testing…";
  try {
    const result = await api(`/api/provider-configs/${encodeURIComponent(config.id)}/test`, {
      method: "POST", body: await secretFor(config),
    });
    messages.set(config.id, result);
  } catch (error) {
    messages.set(config.id, { error: error.message });
  }
  await loadConfigs();  // the stored status, last tested and detail come from the server
  document.querySelector(`#provider-${CSS.escape(config.id)} [data-action="test-key"]`)?.focus();
}

function confirmDelete(config) {
  const dialog = root.querySelector('[data-role="delete-modal"]');
  dialog.querySelector('[data-role="delete-text"]').textContent =
    `“${config.label}” (${config.provider_name}) and its stored key will be removed from RoleCall. ` +
    "Scenes that use it will need another provider. This can't be undone.";
  dialog.dataset.configId = config.id;
  say("providers-error", null);
  dialog.showModal();
  dialog.querySelector('[data-action="cancel-delete"]').focus();
}

async function deleteConfirmed() {
  const dialog = root.querySelector('[data-role="delete-modal"]');
  const config = configs.get(dialog.dataset.configId);
  dialog.close();
  if (!config) return;
  await working(() => deleteConfig(config));
}

async function deleteConfig(config) {
  try {
    await api(`/api/provider-configs/${encodeURIComponent(config.id)}`, { method: "DELETE" });
    say("providers-notice", `Deleted “${config.label}”.`);
  } catch (error) {
    say("providers-error", error.message);
  }
  await loadConfigs();
}

function onListClick(event) {
  const button = event.target.closest("button[data-action]");
  const config = button && configs.get(button.dataset.configId);
  if (!config) return;
  say("providers-notice", null);
  if (button.dataset.action === "test-key") working(() => testKey(config, button));
  if (button.dataset.action === "edit") openEdit(config);
  if (button.dataset.action === "delete") confirmDelete(config);
}

function onVaultChange() {
  for (const [id, message] of messages) if (message.error) messages.delete(id);  // e.g. "unlock first"
  renderAll();
}

// ---- start -----------------------------------------------------------------------------------

// /settings?tab=api-keys&add=srv (or add=e2e, or add alone) opens Add Provider, e.g. from a group
// scene's notice. The parameter is dropped once used, so a reload does not open it again.
function openLinkedAdd() {
  const url = new URL(window.location.href);
  if (!url.searchParams.has("add")) return;
  const mode = url.searchParams.get("add");
  url.searchParams.delete("add");
  window.history.replaceState(null, "", url);
  openAdd(["srv", "e2e"].includes(mode) ? mode : null);
}

async function start() {
  if (!root) return;
  root.dataset.state = "working";
  const addButton = root.querySelector('[data-action="add-provider"]');
  addButton.disabled = true;  // until the provider list has arrived
  try {
    const providers = await api("/api/providers");
    initProviderForm({
      dialog: root.querySelector('[data-role="provider-modal"]'), api, unlockedVault, vault, providers,
      discardDialog: root.querySelector('[data-role="discard-modal"]'),
      onSaved: async (config, message) => {
        messages.delete(config.id);
        await working(loadConfigs);
        say("providers-notice", message);
      },
    });
    addButton.disabled = false;
    addButton.addEventListener("click", () => { say("providers-notice", null); openAdd(); });
    list.addEventListener("click", onListClick);
    root.querySelector('[data-action="confirm-delete"]').addEventListener("click", deleteConfirmed);
    root.querySelector('[data-action="cancel-delete"]').addEventListener("click", () => root.querySelector('[data-role="delete-modal"]').close());
    // E2E key hints and Test Key depend on whether this page holds the vault key.
    document.addEventListener("vault:unlocked", onVaultChange);
    document.addEventListener("vault:locked", onVaultChange);
    await loadConfigs();
    openLinkedAdd();
  } catch (error) {
    say("providers-error", `Couldn't load your providers: ${error.message}`);
  } finally {
    root.dataset.state = "ready";
  }
}

start();
