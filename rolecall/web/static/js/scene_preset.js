// The scene's preset, in the scene header: a labelled <select> of the person's presets (the first
// option follows their default), and the order a turn tries its models in. The model picked in the
// AI wing goes first; the preset's API Options chain follows without repeats; with neither, the
// Premiere Theater's first model answers (services/fallback.py walks the same order), so the
// preset's fallbacks apply to every turn of the scene.
// Signals: [data-role=scene-preset] carries data-preset-id (the preset in use) and data-state.

import { api } from "./app.js";
import { el } from "./dom.js";

const PREMIERE = "premiere";

/** A preset slot in the shape of the scene's model (ModelOut), for the header and the key gate. */
function slotModel(slot) {
  return {
    section: slot.section, model_id: slot.model_id, config_label: slot.kind === PREMIERE ? null : slot.label,
    provider_name: slot.provider_name, privacy_mode: slot.privacy_mode, display_name: slot.model_id,
  };
}

/**
 * opts: {root: the scene element, sceneId, current(): the scene's own model (AI wing) or null,
 *   modelName(model) -> text, announce(text): say it in the page's live region,
 *   changed(): the preset in use changed (the header re-renders, which calls render())}
 */
export function initScenePreset(opts) {
  const box = opts.root.querySelector('[data-role="scene-preset"]');
  const select = box.querySelector("select");
  const chainLine = box.querySelector('[data-role="preset-chain"]');
  const path = `/api/scene-presets/${encodeURIComponent(opts.sceneId)}`;
  const S = { presets: [], presetId: null, chosen: false, premiere: null, pending: 0, loaded: false };

  const inUse = () => S.presets.find((p) => p.id === S.presetId) ?? null;
  const same = (a, b) => a.section === b.section && a.model_id === b.model_id;

  /** The models a turn tries, in order: the scene's own choice first, then the preset's slots. */
  function walk() {
    const own = opts.current();
    const slots = (inUse()?.slots ?? []).filter((s) => !s.broken).map(slotModel);
    if (own) return [own, ...slots.filter((s) => !same(s, own))];
    return slots.length || !S.premiere ? slots : [S.premiere];
  }

  /** The models a group character with its own preset tries: its chain replaces the scene's. */
  function walkOf(presetId) {
    const slots = (S.presets.find((p) => p.id === presetId)?.slots ?? []).filter((s) => !s.broken).map(slotModel);
    return slots.length || !S.premiere ? slots : [S.premiere];
  }

  /** The hosted default: the operator's first Premiere Theater model, if any (none: null). */
  async function premiereDefault() {
    const data = await api(`/api/catalog/sections/${PREMIERE}?view=compact`).catch(() => null);
    const row = data?.section?.rows?.[0];
    if (!row) return null;
    const at = (name) => row[data.columns.indexOf(name)];
    return { section: PREMIERE, model_id: at("id"), config_label: null, provider_name: "Premiere Theater",
      privacy_mode: null, display_name: at("name") || at("id") };
  }

  function describe(model) {
    const where = model.section === PREMIERE ? "Premiere Theater" : (model.config_label || model.provider_name || "a provider config");
    return el("span", { className: "chain__step" }, el("strong", { textContent: opts.modelName(model) }), ` via ${where}`);
  }

  function renderChain() {
    const preset = inUse();
    if (!S.presets.length) {
      chainLine.replaceChildren("No presets yet. ", el("a", { href: "/presets", textContent: "Create one" }),
        " to add fallback models that answer when this one fails.");
      return;
    }
    const fallbacks = walk().slice(1);
    const parts = [];
    if (fallbacks.length) {
      parts.push("Fallbacks, in order, when the model fails before it answers: ");
      fallbacks.forEach((model, i) => parts.push(i ? " → " : "", describe(model)));
      parts.push(". ");
    } else {
      parts.push(preset ? `“${preset.name}” has no fallback models yet. ` : "No preset, so no fallback models. ");
    }
    parts.push(el("a", { href: "/presets", textContent: "Edit presets" }));
    chainLine.replaceChildren(...parts);
  }

  function renderSelect() {
    const fallback = S.presets.find((p) => p.is_default);
    const options = [el("option", { value: "", textContent: fallback ? `Default: ${fallback.name}` : "Default (none yet)" })];
    for (const preset of S.presets) options.push(el("option", { value: preset.id, textContent: preset.name }));
    select.replaceChildren(...options);
    select.value = S.chosen ? S.presetId : "";
    select.disabled = !S.presets.length;
    box.dataset.presetId = S.presetId ?? "";
  }

  function render() {
    if (S.loaded) renderChain();
  }

  async function load() {
    try {
      const [list, pick, hosted] = await Promise.all([api("/api/presets"), api(path), premiereDefault()]);
      Object.assign(S, { presets: list.presets, premiere: hosted });
      S.presetId = pick.preset_id;
      S.chosen = pick.chosen;
      S.loaded = true;
      box.dataset.state = "ready";
      renderSelect();
      opts.changed();
    } catch (error) {
      box.dataset.state = "error";
      chainLine.textContent = `Couldn't load your presets: ${error.message}`;
    }
  }

  // Arrow keys on a focused select fire a change per step: the saves run one after another, in order.
  let saving = Promise.resolve();
  select.addEventListener("change", () => {
    const wanted = select.value || null;
    box.dataset.state = "working";
    S.pending += 1;
    saving = saving.then(() => save(wanted)).finally(() => {
      if (--S.pending === 0) box.dataset.state = "ready";
    });
  });

  async function save(wanted) {
    try {
      await api(path, { method: "PUT", body: { preset_id: wanted } });
      const pick = await api(path);
      Object.assign(S, { presetId: pick.preset_id, chosen: pick.chosen });
      if (S.pending > 1) return;  // another step is on its way: show where it lands
      renderSelect();
      opts.changed();
      const name = inUse()?.name;
      opts.announce(name ? `This scene now uses the preset ${name}; its fallback chain applies.` : "This scene uses no preset.");
    } catch (error) {
      renderSelect();
      opts.announce(`The preset wasn't changed: ${error.message}`);
    }
  }

  load();
  return {
    render,
    /** With no model picked in the wing: {model, note} of the one a turn starts with, else null. */
    start: () => {
      const first = opts.current() ? null : walk()[0];
      if (!first) return null;
      return { model: first, note: inUse()?.slots.length ? "the preset's primary" : "the hosted default, no key needed" };
    },
    /** Every model of the walk: the page hands over the keys of its End-to-End ones it can open. */
    walk,
    /** The models a turn tries, {first, chain}. In a group scene a reply is regenerated or continued
     * by its author, through the author's own preset when it has one (docs/group-scenes.md). */
    async chainFor(scene, messageId) {  // first: the page asks for the phrase only when it is End-to-End
      const author = messageId && scene.messages.find((m) => m.id === messageId)?.character_id;
      if (author && scene.characters.length >= 2) {
        const member = (await api(`/api/scenes/${encodeURIComponent(opts.sceneId)}/group`)).cast.find((m) => m.id === author);
        if (member?.preset_id) {
          const chain = walkOf(member.preset_id);
          return { first: chain[0] ?? null, chain };
        }
      }
      return { first: opts.current() ?? walk()[0] ?? null, chain: walk() };
    },
  };
}
