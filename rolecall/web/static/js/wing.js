// The AI wing: the Cast page's model picker (catalog_view.js) on the scene's right rail, a drawer
// on phones. Clicking a row makes it the scene's model at once (the caller PATCHes the scene).
// A config pinned to one model shows as that one model.

import { createPicker } from "./catalog_view.js";
import { el } from "./dom.js";

const PHONE = window.matchMedia("(max-width: 900px)");

/**
 * opts: {root: the scene element, configs(): Promise<Map id -> config>, current(): Model|null,
 *   pick(model): Promise (PATCH the scene)}
 */
export function initWing(opts) {
  const wing = opts.root.querySelector("#ai-wing");
  const backdrop = opts.root.querySelector(".wing-backdrop");
  const toggle = opts.root.querySelector('[data-action="open-wing"]');
  const q = (role) => wing.querySelector(`[data-role="${role}"]`);
  let lastFocus = null;

  async function prepare(sections) {
    const configs = await opts.configs();
    return sections.map((section) => {
      const pin = configs.get(section.id)?.model;
      if (!pin) return section;
      const row = section.models.find((m) => m.id === pin)
        ?? { id: pin, name: pin, section: section.id, section_label: section.label, starred: false, capabilities: [] };
      return { ...section, models: [row], total: 1, pinned: pin };
    });
  }

  function sectionNotes(section) {
    const notes = [];
    if (section.pinned) notes.push(el("p", { className: "muted", textContent: "This config is pinned to one model." }));
    if (section.status === "invalid") {
      notes.push(el("p", { className: "alert section-invalid" }, "Invalid: the provider rejected this key. ",
        el("a", { href: `/settings?tab=api-keys#provider-${section.id}`, textContent: "Fix it in Settings" }), "."));
    }
    if (section.privacy_mode === "e2e") notes.push(el("p", { className: "muted", textContent: "End-to-end key: your browser unlocks it for each message you send." }));
    return notes;
  }

  const picker = createPicker({
    sections: q("wing-sections"),
    starredBox: q("wing-starred"),
    status: q("wing-status"),
    search: q("wing-search"),
    emptyPremiere: q("empty-premiere"),
    noProviders: q("no-providers"),
    collapsedKey: "rolecall-wing-collapsed",
    heading: "h3",
    prepare,
    sectionNotes,
    isCurrent: (section, id) => {
      const model = opts.current();
      return Boolean(model && model.section === section && model.model_id === id);
    },
    onPick: async (model) => {
      wing.dataset.picking = "true";
      try {
        await opts.pick({ section: model.section, model_id: model.id });
        picker.markCurrent();
        if (PHONE.matches) close();
      } finally {
        delete wing.dataset.picking;
      }
    },
  });

  // On a phone the drawer is modal: the page behind it is inert until it closes.
  const behind = [opts.root.querySelector(".scene__main"), document.querySelector(".topbar"), document.querySelector(".footer")];
  const setBehind = (inert) => { for (const node of behind) if (node) node.inert = inert; };

  function open() {
    lastFocus = document.activeElement;
    wing.dataset.open = "true";
    backdrop.hidden = !PHONE.matches;
    setBehind(PHONE.matches);
    toggle.setAttribute("aria-expanded", "true");
    q("wing-search").focus();
  }

  function close() {
    wing.dataset.open = "false";
    backdrop.hidden = true;
    setBehind(false);
    toggle.setAttribute("aria-expanded", "false");
    (lastFocus && document.contains(lastFocus) ? lastFocus : toggle).focus();
  }

  toggle.addEventListener("click", () => (wing.dataset.open === "true" ? close() : open()));
  for (const b of opts.root.querySelectorAll('[data-action="close-wing"]')) b.addEventListener("click", close);
  wing.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && PHONE.matches) close();
  });

  return {
    open,
    reload: () => picker.load().then(() => { wing.dataset.ready = "true"; }),
    markCurrent: () => picker.markCurrent(),
    nameOf: (model) => (model ? picker.nameOf(model.section, model.model_id) : null),
  };
}
