// The Presets page: list, create, edit and delete presets; the API Options card orders the
// primary model and its fallbacks, picked with the same model picker as the Cast page.

import { api } from "./app.js";
import { createPicker } from "./catalog_view.js";
import { el } from "./dom.js";

const SAMPLERS = ["temperature", "top_p", "top_k", "min_p", "max_tokens", "repetition_penalty", "presence_penalty", "frequency_penalty"];
const INTEGERS = new Set(["top_k", "max_tokens"]);
const MODES = { e2e: "E2E", srv: "Server-Accessible" };
const LABELS = { top_k: "top-k", min_p: "min-p", max_tokens: "max reply tokens", repetition_penalty: "repetition penalty",
  presence_penalty: "presence penalty", frequency_penalty: "frequency penalty" };

const form = document.getElementById("preset-editor");
const list = document.getElementById("preset-list");
const status = document.getElementById("presets-status");
const slotList = document.getElementById("slot-list");
const errorBox = document.getElementById("preset-error");
const notice = document.getElementById("preset-notice");
const pickerBox = document.getElementById("slot-picker");
const addButton = document.getElementById("add-slot");
const deleteButton = document.getElementById("delete-preset");

const state = { presets: [], current: null, slots: [], sections: [] };

const picker = createPicker({
  sections: document.getElementById("slot-sections"),
  starredBox: document.getElementById("slot-starred"),
  status: document.getElementById("slot-picker-status"),
  search: document.getElementById("slot-search"),
  emptyPremiere: document.getElementById("slot-empty-premiere"),
  collapsedKey: "rolecall-preset-picker-collapsed",
  heading: "h3",
  onPick: addSlot,
  isCurrent: (section, id) => state.slots.some((s) => s.section === section && s.model_id === id),
  // Keep the sections (label, provider, privacy mode) to describe a picked model in its slot.
  prepare: (sections) => { state.sections = sections; return sections; },
});
let pickerLoaded = false;

function show(box, text) {
  box.textContent = text || "";
  box.hidden = !text;
}

function roleName(index) {
  return index === 0 ? "Primary" : `Fallback ${index}`;
}

function slotRow(slot, index) {
  const badge = slot.kind === "premiere"
    ? el("span", { className: "pill pill--grey", textContent: "Premiere Theater" })
    : slot.broken ? el("span", { className: "pill pill--red", textContent: "Config deleted" })
      : el("span", { className: "pill pill--grey", textContent: MODES[slot.privacy_mode] || "" });
  const where = slot.kind === "premiere" ? "Premiere Theater" : `${slot.label}${slot.provider_name && slot.provider_name !== slot.label ? ` (${slot.provider_name})` : ""}`;
  const model = el("span", { className: "slot__model" }, el("strong", { textContent: where }), " · ", el("code", { textContent: slot.model_id }));
  if (slot.broken) model.append(el("br"), el("span", { className: "muted", textContent: slot.reason }));
  // As saved: the settings this provider has no field for are left out of its requests.
  if (slot.unsupported?.length) {
    const names = slot.unsupported.map((n) => LABELS[n] || n).join(", ");
    model.append(el("br"), el("span", { className: "muted slot__note", textContent: `Not sent to this provider (no such setting): ${names}.` }));
  }
  const button = (text, label, action, disabled = false) => {
    const b = el("button", { type: "button", className: "btn btn-ghost btn-small", textContent: text, disabled });
    b.setAttribute("aria-label", label);
    b.addEventListener("click", action);
    return b;
  };
  const name = `${roleName(index)}: ${slot.model_id}`;
  const actions = el("span", { className: "slot__actions" },
    button("↑", `Move up ${name}`, () => move(index, -1), index === 0),
    button("↓", `Move down ${name}`, () => move(index, 1), index === state.slots.length - 1),
    button("Remove", `Remove ${name}`, () => { state.slots.splice(index, 1); renderSlots(); }));
  const row = el("li", { className: `slot${slot.broken ? " slot--broken" : ""}` },
    el("span", { className: "slot__role", textContent: roleName(index) }), model, badge, actions);
  row.dataset.section = slot.section;
  row.dataset.model = slot.model_id;
  return row;
}

function move(index, delta) {
  const [slot] = state.slots.splice(index, 1);
  state.slots.splice(index + delta, 0, slot);
  renderSlots();
}

function renderSlots() {
  slotList.replaceChildren(...state.slots.map(slotRow));
  document.getElementById("slots-empty").hidden = state.slots.length > 0;
  picker.markCurrent();
}

function addSlot(model) {
  if (state.slots.some((s) => s.section === model.section && s.model_id === model.id)) return;
  const section = state.sections.find((s) => s.id === model.section) || {};
  state.slots.push({
    kind: model.section === "premiere" ? "premiere" : "config", section: model.section, model_id: model.id,
    label: section.label || model.section_label, provider_name: section.provider_name || "",
    privacy_mode: section.privacy_mode || null, broken: false, reason: "",
  });
  renderSlots();
  show(notice, `Added ${model.name || model.id} as ${roleName(state.slots.length - 1).toLowerCase()}. Save to keep it.`);
}

function renderList() {
  list.replaceChildren(...state.presets.map((preset) => {
    const b = el("button", { type: "button", className: "btn btn-ghost btn-small", textContent: preset.name + (preset.is_default ? " (default)" : "") });
    b.setAttribute("aria-pressed", String(state.current?.id === preset.id));
    b.addEventListener("click", () => edit(preset));
    return el("li", {}, b);
  }));
  status.textContent = state.presets.length ? "" : "No presets yet. Create one to set samplers, a system prompt and a fallback chain.";
}

function edit(preset) {
  state.current = preset;
  state.slots = preset ? preset.slots.map((s) => ({ ...s })) : [];
  form.hidden = false;
  form.elements.name.value = preset?.name || "";
  form.elements.is_default.checked = Boolean(preset?.is_default);
  for (const name of SAMPLERS) form.elements[name].value = preset?.settings?.[name] ?? "";
  form.elements.stop.value = (preset?.settings?.stop || []).join("\n");
  form.elements.system_prompt.value = preset?.system_prompt || "";
  document.getElementById("preset-editor-title").textContent = preset ? `Preset: ${preset.name}` : "New preset";
  deleteButton.hidden = !preset;
  show(errorBox, "");
  show(notice, "");
  renderSlots();
  renderList();
}

function readForm() {
  const settings = {};
  for (const name of SAMPLERS) {
    const raw = form.elements[name].value.trim();
    if (raw !== "") settings[name] = INTEGERS.has(name) ? parseInt(raw, 10) : Number(raw);
  }
  settings.stop = form.elements.stop.value.split("\n").filter((line) => line !== "");
  return {
    name: form.elements.name.value, settings, system_prompt: form.elements.system_prompt.value,
    is_default: form.elements.is_default.checked,
    slots: state.slots.filter((s) => !s.broken).map((s) => ({ section: s.section, model_id: s.model_id })),
  };
}

async function save(event) {
  event.preventDefault();
  show(errorBox, "");
  const body = readForm();
  if (state.slots.some((s) => s.broken)) show(notice, "Slots whose config was deleted are dropped when you save.");
  try {
    const saved = state.current
      ? await api(`/api/presets/${state.current.id}`, { method: "PATCH", body })
      : await api("/api/presets", { method: "POST", body });
    await load(saved.id);
    show(notice, `Saved “${saved.name}”.`);
  } catch (error) {
    show(errorBox, error.message);
    if (error.field) form.elements[error.field.replace(/^settings\./, "")]?.focus();
  }
}

async function remove() {
  if (!state.current || !window.confirm(`Delete the preset “${state.current.name}”?`)) return;
  try {
    await api(`/api/presets/${state.current.id}`, { method: "DELETE" });
    state.current = null;
    form.hidden = true;
    await load();
  } catch (error) {
    show(errorBox, error.message);
  }
}

async function load(selectId = null) {
  try {
    const data = await api("/api/presets");
    state.presets = data.presets;
    const chosen = state.presets.find((p) => p.id === (selectId || state.current?.id)) || (selectId === null && !state.current ? state.presets[0] : null);
    if (chosen) edit(chosen); else renderList();
  } catch (error) {
    status.textContent = `Couldn't load your presets: ${error.message}`;
  }
}

addButton.addEventListener("click", async () => {
  pickerBox.hidden = !pickerBox.hidden;
  addButton.setAttribute("aria-expanded", String(!pickerBox.hidden));
  if (!pickerBox.hidden && !pickerLoaded) {
    pickerLoaded = true;
    await picker.load();
  }
  if (!pickerBox.hidden) document.getElementById("slot-search").focus();
});
document.getElementById("new-preset").addEventListener("click", () => edit(null));
deleteButton.addEventListener("click", remove);
form.addEventListener("submit", save);

load();
