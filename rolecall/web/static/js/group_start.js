// /scenes: start a group scene with two or more of the person's characters (docs/group-scenes.md).
// The form lists the characters as checkboxes; its button works once two are ticked.

import { api } from "./app.js";
import { el, showText } from "./dom.js";

const form = document.querySelector('[data-role="group-start"]');

function tickedIds() {
  return [...form.querySelectorAll('input[type="checkbox"]:checked')].map((box) => box.value);
}

function syncButton() {
  form.querySelector('button[type="submit"]').disabled = tickedIds().length < 2;
}

async function load() {
  const { characters } = await api("/api/characters");
  // The list is drawn again whenever the page's character list changes: keep what is ticked.
  const ticked = new Set(tickedIds());
  form.querySelector('[data-role="group-start-cast"]').replaceChildren(...characters.map((c) =>
    el("label", {}, el("input", { type: "checkbox", value: c.id, checked: ticked.has(c.id) }), c.name)));
  form.hidden = characters.length < 2;
  syncButton();
}

async function start(event) {
  event.preventDefault();
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const scene = await api("/api/scenes", { method: "POST", body: { character_ids: tickedIds() } });
    window.location.assign(`/scenes/${encodeURIComponent(scene.id)}`);
  } catch (error) {
    button.disabled = false;
    showText(form, "group-start-error", `Couldn't start the scene: ${error.message}`);
  }
}

if (form) {
  form.addEventListener("change", syncButton);
  form.addEventListener("submit", start);
  load().catch(() => {});
  // A character made or deleted on this page: the list follows (scenes_index.js reloads its own).
  new MutationObserver(() => load().catch(() => {}))
    .observe(document.querySelector('[data-role="character-list"]'), { childList: true });
}
