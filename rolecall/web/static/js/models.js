// The Cast page: every model the person can use, one collapsible section per provider config,
// search across all of them, and stars that pin a model to the top. The catalog is fetched once;
// filtering happens here so typing never waits on the network.

import { api } from "./app.js";
import { el } from "./dom.js";

const PAGE = 30;  // rows rendered per section until "Show all" (keeps 10,000-model accounts fast)
const COLLAPSED_KEY = "rolecall-collapsed-sections";
const BADGES = { vision: "Vision", tools: "Tools", json: "JSON mode", web_search: "Web search", reasoning: "Reasoning" };

const state = { sections: [], words: [], expanded: new Set(), collapsed: new Set(loadCollapsed()) };
const root = document.getElementById("catalog-sections");
const status = document.getElementById("catalog-status");
const search = document.getElementById("model-search");

function loadCollapsed() {
  try { return JSON.parse(localStorage.getItem(COLLAPSED_KEY) || "[]"); } catch { return []; }
}

function matches(model) {
  model._hay ??= `${model.id} ${model.name || ""}`.toLowerCase();
  return state.words.every((w) => model._hay.includes(w));
}

function provenance(model) {
  const parts = [];
  if (model.details?.provider_list_at) parts.push(`From the provider's model list, fetched ${new Date(model.details.provider_list_at).toLocaleString()}.`);
  if (model.details?.curated_source) parts.push(`Curated facts from ${model.details.curated_source} (as of ${model.details.curated_as_of}).`);
  return parts.join(" ") || "No details known beyond the id.";
}

// Rows are built once per model (and star state) and reused, so a keystroke only moves nodes.
const rowCache = { section: new WeakMap(), starred: new WeakMap() };

function cachedRow(model, place) {
  const hit = rowCache[place].get(model);
  if (hit && hit.starred === model.starred) return hit.node;
  const node = modelRow(model);
  if (place === "starred") node.querySelector(".model-names").append(el("span", { className: "muted", textContent: ` · ${model.section_label}` }));
  rowCache[place].set(model, { starred: model.starred, node });
  return node;
}

function modelRow(model) {
  const star = el("button", {
    type: "button", className: "star", textContent: model.starred ? "★" : "☆",
    title: model.starred ? "Unstar" : "Star: pin to the top of every picker",
  });
  star.setAttribute("aria-pressed", String(model.starred));
  star.setAttribute("aria-label", `${model.starred ? "Unstar" : "Star"} ${model.name || model.id}`);
  star.addEventListener("click", () => toggleStar(model));
  const badges = el("span", { className: "badges" });
  if (model.context_label) badges.append(el("span", { className: "badge", textContent: model.context_label, title: `${model.context_window} tokens of context` }));
  for (const cap of model.capabilities || []) if (BADGES[cap]) badges.append(el("span", { className: "badge badge--cap", textContent: BADGES[cap] }));
  if (model.speed) badges.append(el("span", { className: `badge badge--speed badge--${model.speed.toLowerCase()}`, textContent: model.speed }));
  if (model.free) badges.append(el("span", { className: "badge badge--free", textContent: "Free" }));
  const names = el("span", { className: "model-names" },
    el("span", { className: "model-name", textContent: model.name || model.id }),
    el("code", { className: "model-id", textContent: model.id }));
  const row = el("li", { className: "model-row" }, star, names, badges);
  // Where the details came from, computed when someone points at the row (dates are slow to format).
  row.addEventListener("pointerenter", () => { row.title ||= provenance(model); }, { once: true });
  row.dataset.model = model.id;
  return row;
}

function sectionNotes(section) {
  const notes = [];
  if (section.error) notes.push(el("p", { className: "alert", textContent: `Couldn't refresh this list: ${section.error} Showing the last list we had.` }));
  else if (section.stale && section.privacy_mode === "e2e") notes.push(el("p", { className: "muted", textContent: "This list may be out of date. End-to-end keys can't be used in the background: click Test Key in Settings → API Keys to refresh it." }));
  else if (section.stale) notes.push(el("p", { className: "muted", textContent: "Refreshing this list in the background…" }));
  if (section.id !== "premiere" && !section.total) notes.push(el("p", { className: "muted", textContent: "No models yet. Test the key in Settings → API Keys to load its model list." }));
  return notes;
}

function renderSection(section) {
  const visible = section.models.filter(matches);
  if (state.words.length && !visible.length) return null;
  const showAll = state.expanded.has(section.id);
  const open = !state.collapsed.has(section.id);
  // A collapsed section builds no rows until it is opened again.
  const shown = open ? visible.slice(0, showAll ? undefined : PAGE) : [];
  const list = el("ul", { className: "model-list" }, ...shown.map((m) => cachedRow(m, "section")));
  const details = el("details", { className: "card model-section", open });
  details.dataset.section = section.id;
  const count = state.words.length ? `${visible.length} of ${section.total}` : `${section.total}`;
  details.append(el("summary", {},
    el("h2", { textContent: section.label }),
    el("span", { className: "muted", textContent: ` ${section.provider_name !== section.label ? section.provider_name + " · " : ""}${count} model${section.total === 1 ? "" : "s"}` })));
  details.addEventListener("toggle", () => {
    // Browsers also fire "toggle" for a section created open: only an actual re-opening renders.
    const wasCollapsed = state.collapsed.has(section.id);
    rememberCollapsed(section.id, !details.open);
    if (details.open && wasCollapsed) render();
  });
  details.append(...sectionNotes(section));
  if (section.id === "premiere" && !section.total) details.append(document.getElementById("empty-premiere").content.cloneNode(true));
  details.append(list);
  if (open && !showAll && visible.length > PAGE) {
    const more = el("button", { type: "button", className: "btn btn-ghost btn-small", textContent: `Show all ${visible.length}` });
    more.addEventListener("click", () => { state.expanded.add(section.id); render(); });
    details.append(more);
  }
  return details;
}

function rememberCollapsed(id, collapsed) {
  if (collapsed) state.collapsed.add(id); else state.collapsed.delete(id);
  localStorage.setItem(COLLAPSED_KEY, JSON.stringify([...state.collapsed]));
}

function render() {
  const starred = state.sections.flatMap((s) => s.models.filter((m) => m.starred && matches(m)));
  const starredBox = document.getElementById("starred-section");
  starredBox.hidden = !starred.length;
  starredBox.querySelector('[data-role="starred"]').replaceChildren(...starred.map((m) => cachedRow(m, "starred")));
  const nodes = state.sections.map(renderSection).filter(Boolean);
  root.replaceChildren(...nodes);
  if (state.sections.length === 1) root.append(document.getElementById("no-providers").content.cloneNode(true));
  const total = state.sections.reduce((n, s) => n + s.models.filter(matches).length, 0);
  status.textContent = state.words.length ? `${total} model${total === 1 ? "" : "s"} match “${search.value.trim()}”.` : "";
}

async function toggleStar(model) {
  const starred = !model.starred;
  await api("/api/catalog/stars", { method: "POST", body: { section: model.section, model_id: model.id, starred } });
  for (const section of state.sections) {
    if (section.id !== model.section) continue;
    for (const m of section.models) if (m.id === model.id) m.starred = starred;
    section.models.sort((a, b) => Number(b.starred) - Number(a.starred));
  }
  render();
}

async function load() {
  try {
    const data = await api("/api/catalog");
    state.sections = data.sections;
    render();
  } catch (error) {
    status.textContent = `Couldn't load your models: ${error.message}`;
  }
}

let pending = 0;
search.addEventListener("input", () => {
  cancelAnimationFrame(pending);
  pending = requestAnimationFrame(() => {
    state.words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    render();
  });
});

load();
