// The Add/Edit Provider modal (docs/user-guide.md, "3. Click + Add Provider" to "5. Save"): mode
// first, then provider, label, key, advanced options; Test, then Save; it holds all until Save.
// End-to-end keys are sealed here with the unlocked vault and never sent on save (only for a
// Test, for that one call); Server-Accessible keys go to the server, which encrypts them at rest.

import {
  baseHint, fillFields, filledBaseUrl, keyPrefixWarning, keyShapeProblem, labelTooLong, liveBaseUrl, parseHeaders,
  readFields, renderFields, updateLabelCount,
} from "./provider_fields.js";
import { MODE_NAMES, askBeforeClosing, showResult } from "./provider_status.js";

const LOCKED = "This browser doesn't hold your encryption key yet. Unlock it above (End-to-End Encryption card) " +
  "with your recovery phrase, then save again. Nothing was sent.";

let deps;  // {dialog, api, unlockedVault, vault, providers, onSaved}, set once by initProviderForm
let form;
// `dirty`: the person typed or chose something since the modal opened (closing then asks first).
const state = { editing: null, provider: null, testId: null, initial: null, busy: false, dirty: false };

const $ = (role) => form.querySelector(`[data-role="${role}"]`);
const byId = (id) => deps.providers.find((p) => p.id === id);

// ---- opening and resetting ---------------------------------------------------------------------

function providerOptions() {
  const select = form.elements.provider_id;
  select.replaceChildren(new Option("Choose a provider…", ""));
  const groups = new Map();
  for (const p of deps.providers) {  // the API lists them in display order
    if (!groups.has(p.category_label)) groups.set(p.category_label, Object.assign(document.createElement("optgroup"), { label: p.category_label }));
    groups.get(p.category_label).append(new Option(p.name, p.id));
  }
  select.append(...groups.values());
}

function reset() {
  form.reset();
  Object.assign(state, { editing: null, provider: null, testId: null, initial: null, dirty: false });
  clearErrors();
  updateLabelCount(form);
  $("test-result").hidden = true;
  $("main-fields").replaceChildren();
  $("advanced-fields").replaceChildren();
  $("advanced").hidden = true;
  $("advanced").open = false;
  $("base-hint").hidden = true;
  $("header-names").hidden = true;
  form.elements.provider_id.disabled = false;
}

/** mode: "e2e" | "srv" to start with that privacy mode chosen (a link such as ?add=srv). */
export function openAdd(mode = null) {
  reset();
  $("modal-title").textContent = "Add Provider";
  $("mode-choice").hidden = false;
  $("mode-fixed").hidden = true;
  $("details").disabled = true;  // the privacy mode comes before anything else (user guide, Step 3a)
  $("mode-first").hidden = false;
  const chosen = mode && form.querySelector(`input[name="privacy_mode"][value="${CSS.escape(mode)}"]`);
  if (chosen) {
    chosen.checked = true;
    chooseMode();
  }
  deps.dialog.showModal();
  form.dataset.state = "idle";
  (chosen ? form.elements.provider_id : form.querySelector('input[name="privacy_mode"]')).focus();
}

export function openEdit(config) {
  reset();
  state.editing = config;
  $("modal-title").textContent = `Edit ${config.label}`;
  $("mode-choice").hidden = true;
  $("mode-fixed").hidden = false;
  $("mode-name").textContent = MODE_NAMES[config.privacy_mode];
  $("details").disabled = false;
  $("mode-first").hidden = true;
  form.elements.label.value = config.label;
  form.elements.provider_id.value = config.provider_id;
  form.elements.provider_id.disabled = true;  // a config keeps its provider
  chooseProvider(config.provider_id);
  fillFields(form, state.provider, config, isCustomBase(state.provider, config));
  if (config.header_names?.length) {
    $("header-names").textContent = `Current custom headers: ${config.header_names.join(", ")} (values hidden). ` +
      "Leave Custom Headers empty to keep them; to change them, type them all again and paste the key again too.";
    $("header-names").hidden = false;
  }
  state.initial = snapshot();
  updateLabelCount(form);
  deps.dialog.showModal();
  form.dataset.state = "idle";
  form.elements.label.focus();
}

// Whether a saved config uses a Custom Base URL. The API may say so; otherwise compare with the
// registry's default (a Custom provider always has its own).
function isCustomBase(provider, config) {
  if (typeof config.custom_base === "boolean") return config.custom_base;
  if (!provider.default_base_url) return true;
  return config.base_url !== filledBaseUrl(provider, config.values);
}

function currentMode() {
  return state.editing ? state.editing.privacy_mode : form.elements.privacy_mode.value || null;
}

function chooseMode() {
  $("details").disabled = false;
  $("mode-first").hidden = true;
  invalidateTest();
}

function chooseProvider(id) {
  state.provider = byId(id) ?? null;
  invalidateTest();
  clearErrors();
  const hint = $("base-hint");
  if (!state.provider) {
    $("main-fields").replaceChildren();
    $("advanced-fields").replaceChildren();
    $("advanced").hidden = true;
    hint.hidden = true;
    return;
  }
  const count = renderFields(state.provider, { main: $("main-fields"), advanced: $("advanced-fields") }, { edit: !!state.editing });
  $("advanced").hidden = count === 0;
  hint.hidden = false;
  updateBaseHint();
  const label = form.elements.label;
  if (!state.editing) label.placeholder = `e.g. ${state.provider.name} personal`;
}

// The address requests will go to, as typed so far (liveBaseUrl).
function updateBaseHint() {
  if (state.provider) $("base-hint").textContent = baseHint(liveBaseUrl(form, state.provider));
}


// ---- errors and results ------------------------------------------------------------------------

function clearErrors() {
  for (const node of form.querySelectorAll(".field-error, [data-role='form-error']")) {
    node.hidden = true;
    node.textContent = "";
  }
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

// The API names the input in `field`: label, api_key, values.<name>, headers, body, ...
function rowFor(field) {
  if (!field) return null;
  const name = field === "credential" ? "api_key" : field.replace(/^values\./, "");
  return form.querySelector(`[data-field="${CSS.escape(name)}"]`);
}

function showError(error) {
  clearErrors();
  const row = rowFor(error.field);
  const slot = row?.querySelector(".field-error");
  if (!slot) {
    $("form-error").textContent = error.message;
    $("form-error").hidden = false;
    return;
  }
  const details = row.closest("details");
  if (details) details.open = true;
  slot.textContent = error.message;
  slot.hidden = false;
  const input = row.querySelector("input, textarea, select");
  input?.setAttribute("aria-invalid", "true");
  input?.focus();
}

function fail(message, field = null) {
  return Object.assign(new Error(message), { field });
}

// The server applies its network policy to a typed Base URL (private address, plain http://), so
// the person learns at once what Save would refuse. Only the Base URL's own message is shown here.
async function checkBaseUrl() {
  const slot = rowFor("base_url")?.querySelector(".field-error");
  if (!state.provider || !slot) return;
  const data = readFields(form, state.provider);
  slot.hidden = true;
  slot.textContent = "";
  if (!data.base_url) return;
  try {
    await deps.api("/api/provider-configs/resolve", { method: "POST", body: {
      provider_id: state.provider.id, base_url: data.base_url, endpoint_type: data.endpoint_type, values: data.values } });
  } catch (error) {
    if (error.field !== "base_url") return;
    slot.textContent = error.message;
    slot.hidden = false;
  }
}

function invalidateTest() {
  // A remembered test only speaks for exactly what was tested.
  state.testId = null;
  $("test-result").hidden = true;
}

function updateKeyWarning() {
  const input = form.querySelector('.field-row [name="api_key"]');
  const warning = form.querySelector('[data-role="key-warning"]');
  if (!input || !warning || !state.provider) return;
  const text = keyPrefixWarning(state.provider, input.value.trim(), deps.providers);
  warning.textContent = text ?? "";
  warning.hidden = !text;
}

// ---- reading the form ------------------------------------------------------------------------

function payload() {
  return {
    provider_id: state.provider.id, privacy_mode: currentMode(), label: form.elements.label.value.trim(),
    ...readFields(form, state.provider),
  };
}

// What an edit compares against, to send only what changed (an unchanged field must not make the
// config Untested).
function snapshot() {
  const { label, base_url, endpoint_type, values, body, model } = payload();
  return { label, base_url, endpoint_type, values, body, model };
}

function checkReady() {
  if (!currentMode()) throw fail("Pick a privacy mode first: End-to-End Encryption or Server-Accessible.");
  if (!state.provider) throw fail("Choose a provider.", "provider_id");
  const tooLong = labelTooLong(form.elements.label.value.trim().length);
  if (tooLong) throw fail(tooLong, "label");
}

function checkKeyShape(data) {
  const problem = keyShapeProblem(state.provider, data.api_key);
  if (problem) throw fail(problem, "api_key");
}

// ---- Test ------------------------------------------------------------------------------------

async function runTest() {
  clearErrors();
  checkReady();
  const data = payload();
  if (state.editing && !data.api_key && state.provider.key_policy !== "none") {
    throw fail("Paste the key to test it from here, or save and click Test Key on the config card.", "api_key");
  }
  const result = await deps.api("/api/provider-configs/test", { method: "POST", body: data });
  showResult($("test-result"), result);
  $("test-result").scrollIntoView({ block: "nearest" });
  state.testId = result.status === "unchecked" || state.editing ? null : result.test_id ?? null;
}

// ---- Save ------------------------------------------------------------------------------------

async function resolveOrigin(data) {
  // No headers here: for E2E their values are secrets that only the sealed bundle carries.
  const body = { provider_id: data.provider_id, base_url: data.base_url, endpoint_type: data.endpoint_type,
    values: data.values };
  return (await deps.api("/api/provider-configs/resolve", { method: "POST", body })).dest_origin;
}

/** Seal {api_key, headers} for config `configId` → {credential, header_names}. */
async function seal(configId, data, headers) {
  const unlocked = deps.unlockedVault();
  if (!unlocked) throw fail(LOCKED);
  const destOrigin = await resolveOrigin(data);
  const credential = await deps.vault.sealBundle(unlocked.udk, { api_key: data.api_key, headers }, {
    gen: unlocked.gen, userId: unlocked.userId, configId, providerId: data.provider_id, destOrigin,
  });
  return { credential, header_names: Object.keys(headers) };
}

async function saveNew() {
  const data = payload();
  const common = { provider_id: data.provider_id, label: data.label, privacy_mode: data.privacy_mode,
    base_url: data.base_url, endpoint_type: data.endpoint_type, values: data.values, body: data.body,
    model: data.model, test_id: state.testId };
  if (data.privacy_mode === "srv") {
    return deps.api("/api/provider-configs", { method: "POST", body: { ...common, api_key: data.api_key, headers: data.headers } });
  }
  if (!deps.unlockedVault()) throw fail(LOCKED);
  checkKeyShape(data);
  const headers = parseHeaders(data.headers);
  const id = crypto.randomUUID();
  const sealed = await seal(id, data, headers);
  return deps.api("/api/provider-configs", { method: "POST", body: { ...common, id, ...sealed } });
}

function changedFields(data) {
  const changes = {};
  for (const [name, before] of Object.entries(state.initial)) {
    if (JSON.stringify(data[name]) !== JSON.stringify(before)) changes[name] = data[name];
  }
  return changes;
}

// Header values of an E2E config live in its sealed bundle: keep them when only the key changes.
async function storedHeaders(config, unlocked) {
  if (!config.header_names?.length) return {};
  try {
    const bundle = await deps.vault.openBundle(unlocked.udk, config.credential, {
      userId: unlocked.userId, configId: config.id, providerId: config.provider_id, destOrigin: config.dest_origin,
    });
    return bundle.headers ?? {};
  } catch {
    throw fail("The stored custom headers can't be read here: type them again.", "headers");
  }
}

async function saveEdit() {
  const config = state.editing;
  const data = payload();
  const changes = changedFields(data);
  const headersChanged = data.headers.trim() !== "";
  if (headersChanged && !data.api_key && state.provider.key_policy !== "none") {
    throw fail("Custom headers are stored together with the key: paste the key again to change them.", "api_key");
  }
  if (data.api_key || headersChanged) {
    if (config.privacy_mode === "srv") {
      changes.api_key = data.api_key || null;
      if (headersChanged) changes.headers = data.headers;  // absent: keep the stored ones
    } else {
      const unlocked = deps.unlockedVault();
      if (!unlocked) throw fail(LOCKED);
      checkKeyShape(data);
      const headers = headersChanged ? parseHeaders(data.headers) : await storedHeaders(config, unlocked);
      Object.assign(changes, await seal(config.id, data, headers));
    }
  }
  if (Object.keys(changes).length === 0) return config;
  return deps.api(`/api/provider-configs/${encodeURIComponent(config.id)}`, { method: "PATCH", body: changes });
}

async function save(event) {
  event.preventDefault();
  clearErrors();
  checkReady();
  const editing = state.editing;
  const saved = editing ? await saveEdit() : await saveNew();
  state.dirty = false;  // saved: nothing to lose
  deps.dialog.close();
  deps.onSaved(saved, editing ? `Saved changes to “${saved.label}”.` : `Saved “${saved.label}”.`);
}

// ---- wiring ----------------------------------------------------------------------------------

// One request at a time; the button says what is happening.
function busy(button, text, task) {
  return async (event) => {
    if (state.busy) return event?.preventDefault?.();
    state.busy = true;
    form.dataset.state = "working";
    const label = button.textContent;
    button.textContent = text;
    for (const b of form.querySelectorAll("button")) b.disabled = true;
    try {
      await task(event);
    } catch (error) {
      showError(error);
    } finally {
      state.busy = false;
      button.textContent = label;
      for (const b of form.querySelectorAll("button")) b.disabled = false;
      form.dataset.state = "idle";
    }
  };
}

export function initProviderForm(options) {
  deps = options;
  form = deps.dialog.querySelector("form");
  providerOptions();
  const saveButton = form.querySelector('button[type="submit"]');
  form.addEventListener("submit", busy(saveButton, "Saving…", save));
  form.querySelector('[data-action="test"]').addEventListener("click", busy(form.querySelector('[data-action="test"]'), "Testing…", runTest));
  askBeforeClosing(deps.dialog, deps.discardDialog, { busy: () => state.busy, dirty: () => state.dirty });
  deps.dialog.addEventListener("close", () => {
    form.dataset.state = "closed";
    reset();
  });
  form.addEventListener("change", (event) => {
    state.dirty = true;
    if (event.target.name === "privacy_mode") chooseMode();
    if (event.target.name === "provider_id") chooseProvider(event.target.value);
    if (event.target.name === "base_url") checkBaseUrl();
    updateBaseHint();
  });
  form.addEventListener("input", (event) => {
    state.dirty = true;
    if (event.target.name === "api_key") updateKeyWarning();
    if (event.target.name === "label") updateLabelCount(form);
    else invalidateTest();
    updateBaseHint();
  });
}
