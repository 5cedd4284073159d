// The model picker, shared by the Cast page (models.js), the AI wing of a scene (wing.js) and the
// preset editor (presets.js): one collapsible section per provider config (Premiere Theater
// first), a search that filters across every section, and stars that pin a model to the top.
// Rows arrive in steps so the first screenful paints early at 10,000 models: the first request
// carries the rows of the first few open sections (and of any section holding a star), a second
// one the other open sections; a collapsed section's rows are fetched when it is opened, and a
// search fetches whatever is still missing once, then filters here, so typing never waits on the
// network again. Nothing is rendered until createPicker().

import { api } from "./app.js";
import { modelsOf } from "./catalog_rows.js";
import { el } from "./dom.js";

const PAGE = 30;  // rows rendered per section until "Show all" (keeps 10,000-model accounts fast)
const FIRST = 3;  // at most this many provider sections' rows come first (fewer once they hold a screenful)
const IDS_PER_REQUEST = 90;  // section ids in one query (the API takes up to 4,000 characters)
const BADGES = { vision: "Vision", tools: "Tools", json: "JSON mode", web_search: "Web search", reasoning: "Reasoning" };


function provenance(model) {
  const parts = [];
  if (model.details?.provider_list_at) parts.push(`From the provider's model list, fetched ${new Date(model.details.provider_list_at).toLocaleString()}.`);
  if (model.details?.curated_source) parts.push(`Curated facts from ${model.details.curated_source} (as of ${model.details.curated_as_of}).`);
  return parts.join(" ") || "No details known beyond the id.";
}

function loadSet(key) {
  try { return new Set(JSON.parse(localStorage.getItem(key) || "[]")); } catch { return new Set(); }
}

/** Badges for one model: context window, capabilities, speed tier, Free. */
export function badges(model) {
  const box = el("span", { className: "badges" });
  if (model.pinned) box.append(el("span", { className: "badge badge--pinned", textContent: "Pinned", title: "This config is pinned to this model" }));
  if (model.context_label) box.append(el("span", { className: "badge", textContent: model.context_label, title: `${model.context_window} tokens of context` }));
  for (const cap of model.capabilities || []) if (BADGES[cap]) box.append(el("span", { className: "badge badge--cap", textContent: BADGES[cap] }));
  if (model.speed) box.append(el("span", { className: `badge badge--speed badge--${model.speed.toLowerCase()}`, textContent: model.speed }));
  if (model.free) box.append(el("span", { className: "badge badge--free", textContent: "Free" }));
  return box;
}

/**
 * Build a picker into existing elements.
 * opts: {sections: element for the provider sections, starredBox: element holding a
 *   [data-role="starred"] list, status: live status line, search: the search input,
 *   emptyPremiere / noProviders: <template>s, collapsedKey: localStorage key,
 *   heading: "h2" | "h3", onPick(model) (rows become buttons), isCurrent(section, id),
 *   sectionNotes(section) -> extra nodes, prepare(sections) -> sections}
 */
export function createPicker(opts) {
  // raw: the sections as received (`loaded` false while their rows are not here); sections:
  // raw after opts.prepare, what is rendered.
  const state = { raw: [], sections: [], words: [], expanded: new Set(), collapsed: loadSet(opts.collapsedKey) };
  let columns = [];
  let generation = 0;  // a newer publish() wins over a slower, older one
  const fetching = new Map();  // section id -> the request bringing its rows
  const rowCache = { section: new WeakMap(), starred: new WeakMap() };
  const heading = opts.heading || "h2";

  function matches(model) {
    model._hay ??= `${model.id} ${model.name || ""}`.toLowerCase();
    return state.words.every((w) => model._hay.includes(w));
  }

  function modelRow(model) {
    const label = model.name || model.id;
    const star = el("button", {
      type: "button", className: "star", textContent: model.starred ? "★" : "☆",
      title: model.starred ? "Unstar" : "Star: pin to the top of every picker",
    });
    star.setAttribute("aria-pressed", String(model.starred));
    star.setAttribute("aria-label", `${model.starred ? "Unstar" : "Star"} ${label}`);
    star.addEventListener("click", () => toggleStar(model));
    const names = [el("span", { className: "model-name", textContent: label }), el("code", { className: "model-id", textContent: model.id })];
    let main;
    if (opts.onPick) {
      // The accessible name starts with what is seen (WCAG 2.5.3) and says what a click does.
      main = el("button", { type: "button", className: "model-names model-pick" },
        el("span", { className: "visually-hidden", textContent: "Use " }), ...names,
        el("span", { className: "visually-hidden", textContent: ` from ${model.section_label}` }));
      main.addEventListener("click", () => opts.onPick(model));
    } else {
      main = el("span", { className: "model-names" }, ...names);
    }
    const row = el("li", { className: "model-row" }, star, main, badges(model));
    // Where the details came from, computed when someone points at the row (dates are slow to format).
    row.addEventListener("pointerenter", () => { row.title ||= provenance(model); }, { once: true });
    row.dataset.model = model.id;
    row.dataset.modelSection = model.section;
    return row;
  }

  // Rows are built once per model (and star state) and reused, so a keystroke only moves nodes.
  function cachedRow(model, place) {
    const hit = rowCache[place].get(model);
    if (hit && hit.starred === model.starred) return hit.node;
    const node = modelRow(model);
    if (place === "starred") node.querySelector(".model-names").append(el("span", { className: "muted model-section-label", textContent: model.section_label }));
    rowCache[place].set(model, { starred: model.starred, node });
    return node;
  }

  function notes(section) {
    const out = [];
    if (section.error) out.push(el("p", { className: "alert", textContent: `Couldn't refresh this list: ${section.error} Showing the last list we had.` }));
    else if (section.stale && section.privacy_mode === "e2e") out.push(el("p", { className: "muted", textContent: "This list may be out of date. End-to-end keys can't be used in the background: click Test Key in Settings → API Keys to refresh it." }));
    else if (section.stale) out.push(el("p", { className: "muted", textContent: "Refreshing this list in the background…" }));
    if (section.id !== "premiere" && !section.total) {
      out.push(el("p", { className: "muted section-empty" }, "No models yet: Test Key to load models, in ",
        el("a", { href: `/settings?tab=api-keys#provider-${section.id}`, textContent: "Settings → API Keys" }), "."));
    }
    if (!section.loaded && section.total && !state.collapsed.has(section.id)) {
      out.push(el("p", { className: "muted section-loading", textContent: "Loading models…" }));
    }
    return out.concat(opts.sectionNotes ? opts.sectionNotes(section) : []);
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
    const kind = section.provider_name !== section.label ? section.provider_name + " · " : "";
    // The caret is a column of its own, so a long label wraps beside it instead of pushing it away.
    const caret = el("span", { className: "caret", textContent: "▸" });
    caret.setAttribute("aria-hidden", "true");
    details.append(el("summary", {}, caret, el("span", { className: "section-names" },
      el(heading, { textContent: section.label }),
      el("span", { className: "muted", textContent: ` ${kind}${count} model${section.total === 1 ? "" : "s"}` }))));
    details.addEventListener("toggle", () => {
      // Browsers also fire "toggle" for a section created open: only an actual re-opening renders.
      const wasCollapsed = state.collapsed.has(section.id);
      rememberCollapsed(section.id, !details.open);
      if (details.open && wasCollapsed) {
        render();
        if (!section.loaded) fetchRows([section.id]);
      }
    });
    details.append(...notes(section));
    if (section.id === "premiere" && !section.total && opts.emptyPremiere) details.append(opts.emptyPremiere.content.cloneNode(true));
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
    localStorage.setItem(opts.collapsedKey, JSON.stringify([...state.collapsed]));
  }

  function markCurrent() {
    if (!opts.isCurrent) return;
    for (const box of [opts.sections, opts.starredBox]) {
      for (const row of box.querySelectorAll(".model-row")) {
        const current = opts.isCurrent(row.dataset.modelSection, row.dataset.model);
        row.classList.toggle("is-current", current);
        row.querySelector(".model-pick")?.setAttribute("aria-pressed", String(current));
      }
    }
  }

  function render() {
    const starred = state.sections.flatMap((s) => s.models.filter((m) => m.starred && matches(m)));
    opts.starredBox.hidden = !starred.length;
    opts.starredBox.querySelector('[data-role="starred"]').replaceChildren(...starred.map((m) => cachedRow(m, "starred")));
    opts.sections.replaceChildren(...state.sections.map(renderSection).filter(Boolean));
    if (state.sections.length === 1 && opts.noProviders) opts.sections.append(opts.noProviders.content.cloneNode(true));
    const total = state.sections.reduce((n, s) => n + s.models.filter(matches).length, 0);
    const said = `${total} model${total === 1 ? " matches" : "s match"}`;
    const more = state.raw.some((s) => !s.loaded) ? " Searching the other sections…" : "";
    opts.status.textContent = state.words.length ? `${said} “${opts.search.value.trim()}”.${more}` : "";
    markCurrent();
  }

  async function toggleStar(model) {
    const starred = !model.starred;
    await api("/api/catalog/stars", { method: "POST", body: { section: model.section, model_id: model.id, starred } });
    for (const section of state.raw) {
      if (section.id !== model.section) continue;
      for (const m of section.models) if (m.id === model.id) m.starred = starred;
      section.models.sort((a, b) => Number(b.starred) - Number(a.starred));
      section.starred = section.models.filter((m) => m.starred).map((m) => m.id);
    }
    model.starred = starred;  // a row the page made up (a pinned model outside the list)
    await publish();
  }

  /** A compact section (rows: null when left out) as the picker keeps it. */
  function received(section) {
    const { rows, curated, ...meta } = section;
    return { ...meta, models: modelsOf(columns, section), loaded: rows !== null };
  }

  /** Sections with rows replace the ones received without; then render. */
  function merge(sections) {
    const byId = new Map(sections.filter((s) => s.rows !== null).map((s) => [s.id, received(s)]));
    if (!byId.size) return Promise.resolve();
    state.raw = state.raw.map((s) => (!s.loaded && byId.has(s.id) ? byId.get(s.id) : s));
    return publish();
  }

  async function publish() {
    const mine = ++generation;
    const sections = opts.prepare ? await opts.prepare(state.raw) : state.raw;
    if (mine !== generation) return;
    state.sections = sections;
    render();
  }

  /** Comma-joined ids for a query, cut to what the API takes (more ids only save bytes). */
  function idList(ids) {
    let out = "";
    for (const id of ids) {
      const next = out ? `${out},${encodeURIComponent(id)}` : encodeURIComponent(id);
      if (next.length > 3900) break;
      out = next;
    }
    return out;
  }

  /** Bring the rows of these sections (one request for one, else `only=` batches); each once. */
  function fetchRows(ids) {
    const wanted = ids.filter((id) => !fetching.has(id) && state.raw.some((s) => s.id === id && !s.loaded));
    const requests = [];
    if (wanted.length === 1) {
      requests.push([wanted, api(`/api/catalog/sections/${encodeURIComponent(wanted[0])}?view=compact`).then((d) => merge([d.section]))]);
    } else {
      for (let i = 0; i < wanted.length; i += IDS_PER_REQUEST) {
        const batch = wanted.slice(i, i + IDS_PER_REQUEST);
        requests.push([batch, api(`/api/catalog?view=compact&only=${idList(batch)}`).then((d) => merge(d.sections))]);
      }
    }
    for (const [batch, request] of requests) {
      const settled = request.catch((error) => {
        opts.status.textContent = `Couldn't load these models: ${error.message}`;
      }).finally(() => { for (const id of batch) fetching.delete(id); });
      for (const id of batch) fetching.set(id, settled);
    }
    return Promise.all(ids.map((id) => fetching.get(id)));
  }

  /** Every section's rows, for a search across all of them. */
  function fetchAll() {
    return fetchRows(state.raw.filter((s) => !s.loaded).map((s) => s.id));
  }

  async function load() {
    opts.sections.dataset.state = "working";  // tests and pages wait on "ready"
    try {
      // The compact shape (a fifth of the bytes of one object per model; gzip does the rest), rows
      // only for the first screenful: collapsed sections are skipped, and only FIRST open ones come.
      const skip = idList(state.collapsed);
      const url = `/api/catalog?view=compact&first=${FIRST}${skip ? `&skip=${skip}` : ""}`;
      // The Cast page starts this request early (catalog_early.js); use it once if it is this one.
      const early = window.rolecallCatalogFirst;
      window.rolecallCatalogFirst = { url: null };
      const data = (early?.url === url && await early.data) || await api(url);
      columns = data.columns;
      fetching.clear();
      state.raw = data.sections.map(received);
      await publish();
      // Then the other open sections, in one request (batches past ~90 sections).
      await fetchRows(state.raw.filter((s) => !s.loaded && !state.collapsed.has(s.id)).map((s) => s.id));
      if (state.words.length) await fetchAll();
    } catch (error) {
      opts.status.textContent = `Couldn't load your models: ${error.message}`;
    } finally {
      opts.sections.dataset.state = "ready";
    }
  }

  let pending = 0;
  opts.search.addEventListener("input", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      state.words = opts.search.value.toLowerCase().split(/\s+/).filter(Boolean);
      render();
      // A search covers every section: bring the rows not here yet (once), then filter again.
      if (state.words.length && state.raw.some((s) => !s.loaded)) fetchAll();
    });
  });

  /** The catalog's name for a model (the provider list's, else curated), or null. */
  function nameOf(section, id) {
    return state.sections.find((s) => s.id === section)?.models.find((m) => m.id === id)?.name ?? null;
  }

  return { load, render, markCurrent, nameOf };
}
