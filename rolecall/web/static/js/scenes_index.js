// /scenes: the person's characters (create, edit, delete, start a scene with one) and their
// scenes, newest activity first.

import { api } from "./app.js";
import { avatar, initialsOf, relativeTime } from "./people.js";
import { el } from "./dom.js";

const root = document.querySelector("[data-scenes-index]");
const dialog = document.querySelector('[data-role="character-modal"]');
const form = dialog?.querySelector("form");
const characters = new Map();
let editing = null;  // the character being edited, or null for a new one

const $ = (role, from = document) => from.querySelector(`[data-role="${role}"]`);

function say(role, text) {
  const node = $(role);
  node.textContent = text ?? "";
  node.hidden = !text;
}

// ---- scenes ----------------------------------------------------------------------------------

function sceneCard(scene) {
  const who = scene.characters || [];
  const names = who.map((c) => c.name).join(", ");
  const when = scene.last_activity_at
    ? el("time", { dateTime: scene.last_activity_at, textContent: relativeTime(scene.last_activity_at), title: new Date(scene.last_activity_at).toLocaleString() })
    : null;
  const link = el("a", { href: `/scenes/${encodeURIComponent(scene.id)}`, className: "scene-card__link" },
    el("span", { className: "avatars" }, ...who.map((c) => avatar(c))),
    el("span", { className: "scene-card__body" },
      el("h3", { textContent: scene.title || names || "Untitled scene" }),
      names && names !== scene.title ? el("span", { className: "muted", textContent: `with ${names}` }) : null,
      scene.last_message_preview ? el("span", { className: "scene-card__preview", textContent: scene.last_message_preview }) : null),
    el("span", { className: "scene-card__meta muted" },
      when ? el("span", {}, "Last activity ", when) : null,
      scene.model ? el("span", { className: "scene-card__model", textContent: scene.model.display_name || scene.model.model_id }) : null));
  const item = el("li", { className: "card scene-card" }, link);
  item.dataset.sceneId = scene.id;
  return item;
}

async function loadScenes() {
  const data = await api("/api/scenes");
  const scenes = Array.isArray(data) ? data : data.scenes;
  $("scene-list").replaceChildren(...scenes.map(sceneCard));
  const empty = $("scenes-empty");
  empty.hidden = scenes.length > 0;
  if (!scenes.length && !empty.childElementCount) {  // the server rendered a list that is gone now
    empty.append(el("div", { className: "empty" }, el("h3", { textContent: "No scenes yet" }),
      el("p", { textContent: "A scene is a stage for one of your characters. Create a character, then press Start scene." })));
  }
}

// ---- characters ------------------------------------------------------------------------------

function characterItem(character) {
  const start = el("button", { type: "button", className: "btn btn-small", textContent: "Start scene" });
  start.dataset.action = "start";
  start.setAttribute("aria-label", `Start scene with ${character.name}`);
  const edit = el("button", { type: "button", className: "btn btn-small btn-ghost", textContent: "Edit" });
  edit.dataset.action = "edit";
  edit.setAttribute("aria-label", `Edit ${character.name}`);
  const item = el("li", { className: "character" },
    avatar(character),
    el("span", { className: "character__body" },
      el("strong", { className: "character__name", textContent: character.name }),
      el("span", { className: "muted character__persona", textContent: character.persona })),
    el("span", { className: "character__actions" }, start, edit));
  item.dataset.characterId = character.id;
  return item;
}

async function loadCharacters() {
  const data = await api("/api/characters");
  characters.clear();
  for (const c of data.characters) characters.set(c.id, c);
  $("character-list").replaceChildren(...data.characters.map(characterItem));
  $("characters-empty").hidden = characters.size > 0;
}

function preview() {
  const badge = $("preview", form);
  badge.textContent = initialsOf(form.elements.name.value) || "?";
  badge.style.setProperty("--avatar", form.elements.avatar_color.value);
}

function openForm(character = null) {
  editing = character;
  form.reset();
  dialog.querySelector("#character-form-title").textContent = character ? `Edit ${character.name}` : "New character";
  for (const name of ["name", "persona", "first_message", "example_dialogue"]) form.elements[name].value = character?.[name] ?? "";
  form.elements.avatar_color.value = character?.avatar_color ?? randomColor();
  form.querySelector("details").open = Boolean(character?.example_dialogue);
  dialog.querySelector('[data-action="delete-character"]').hidden = !character;
  say("form-error", null);
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  preview();
  dialog.showModal();
  form.elements.name.focus();
}

// The server's palette for characters created without a colour (services/characters.py).
const PALETTE = ["#b45309", "#be123c", "#7c3aed", "#0369a1", "#047857", "#a16207", "#c2410c", "#4338ca"];
const randomColor = () => PALETTE[Math.floor(Math.random() * PALETTE.length)];

async function save(event) {
  event.preventDefault();
  const body = {};
  for (const name of ["name", "persona", "first_message", "example_dialogue", "avatar_color"]) body[name] = form.elements[name].value.trim();
  const missing = ["name", "persona"].filter((n) => !body[n]);
  for (const n of ["name", "persona"]) form.elements[n].setAttribute("aria-invalid", String(missing.includes(n)));
  if (missing.length) {
    say("form-error", missing.includes("name") ? "Give the character a name." : "Describe the character's persona: the model needs it.");
    form.elements[missing[0]].focus();
    return;
  }
  try {
    if (editing) await api(`/api/characters/${encodeURIComponent(editing.id)}`, { method: "PATCH", body });
    else await api("/api/characters", { method: "POST", body });
  } catch (error) {
    say("form-error", error.message);
    if (error.field && form.elements[error.field]) form.elements[error.field].setAttribute("aria-invalid", "true");
    return;
  }
  dialog.close();
  await loadCharacters();
}

async function remove() {
  if (!editing || !window.confirm(`Delete ${editing.name}? Scenes with them keep their messages.`)) return;
  try {
    await api(`/api/characters/${encodeURIComponent(editing.id)}`, { method: "DELETE" });
  } catch (error) {
    say("form-error", error.message);
    return;
  }
  dialog.close();
  await Promise.all([loadCharacters(), loadScenes()]);
}

async function startScene(character, button) {
  button.disabled = true;
  try {
    const scene = await api("/api/scenes", { method: "POST", body: { character_ids: [character.id] } });
    window.location.assign(`/scenes/${encodeURIComponent(scene.id)}`);
  } catch (error) {
    button.disabled = false;
    say("characters-error", `Couldn't start the scene: ${error.message}`);
  }
}

function wire() {
  if (!root) return;
  root.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    if (button.dataset.action === "new-character") openForm();
    const character = characters.get(button.closest("[data-character-id]")?.dataset.characterId);
    if (!character) return;
    if (button.dataset.action === "edit") openForm(character);
    if (button.dataset.action === "start") startScene(character, button);
  });
  form.addEventListener("submit", save);
  form.addEventListener("input", preview);
  for (const b of dialog.querySelectorAll('[data-action="close"]')) b.addEventListener("click", () => dialog.close());
  dialog.querySelector('[data-action="delete-character"]').addEventListener("click", remove);
  root.querySelector('[data-action="new-character"]').disabled = false;  // server-rendered disabled until now
  Promise.all([loadCharacters(), loadScenes()])
    .catch((error) => say("characters-error", `Couldn't load your characters and scenes: ${error.message}`))
    .finally(() => { root.dataset.ready = "true"; });
  // Back from a scene via the browser's cache: the list's last activity has moved on.
  window.addEventListener("pageshow", (event) => { if (event.persisted) loadScenes().catch(() => {}); });
}

wire();
