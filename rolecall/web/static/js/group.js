// A group scene (docs/group-scenes.md): the cast panel (add, remove, mute, each character's own
// preset), the orchestrator's rule and turn limit, Stop, the turn jobs with their status, and the
// characters' turns arriving live from GET /api/scenes/{id}/events (server-sent events fed by the
// turn jobs). In a group scene the composer's message goes to /group/messages and the turns
// follow as background jobs; scene.js keeps rendering the conversation (it reloads on
// "scene:reload"). Signals for people and tests: the panel's data-mode is solo | group, its
// data-running is true | false, and the live turn carries data-character-id.

import { api } from "./app.js";
import { el } from "./dom.js";
import { avatar } from "./people.js";

const root = document.querySelector("[data-scene]");
const sceneId = root?.dataset.sceneId;
const base = `/api/scenes/${encodeURIComponent(sceneId)}`;
const panel = root?.querySelector('[data-role="group"]');
const $ = (role) => root.querySelector(`[data-role="${role}"]`);
// reason: why the last round ended (shown until the person speaks again).
const G = { group: null, characters: [], presets: [], source: null, live: null, frame: 0, reason: "", settles: 0 };

const isGroup = () => (G.group?.cast.length ?? 0) >= 2;
const nameOf = (id) => G.group?.cast.find((m) => m.id === id)?.name ?? "A character";
const reloadScene = () => root.dispatchEvent(new CustomEvent("scene:reload"));

// ---- rendering -------------------------------------------------------------------------------

function status(text) {
  $("group-status").textContent = text;
}

function idleStatus() {
  if (!isGroup()) return status("Add a second character to make this a group scene.");
  const limit = G.group.turn_limit;
  if (G.group.running) return status("The characters are taking their turns…");
  status(`${G.reason ? `${G.reason} ` : ""}Your move. Up to ${limit} turn${limit === 1 ? "" : "s"} follow each of your messages.`);
}

function memberItem(member) {
  const mute = el("input", { type: "checkbox", checked: member.muted });
  mute.addEventListener("change", () => change(`${base}/cast/${encodeURIComponent(member.id)}`, "PATCH", { muted: mute.checked }));
  const preset = el("select", {},
    el("option", { value: "", textContent: "Scene's model" }),
    ...G.presets.map((p) => el("option", { value: p.id, textContent: p.name, selected: p.id === member.preset_id })));
  preset.addEventListener("change", () => change(`${base}/cast/${encodeURIComponent(member.id)}`, "PATCH", { preset_id: preset.value || null }));
  const remove = el("button", { type: "button", className: "btn-link", textContent: "Remove" });
  remove.setAttribute("aria-label", `Remove ${member.name} from the scene`);
  remove.disabled = G.group.cast.length < 2;
  remove.addEventListener("click", () => change(`${base}/cast/${encodeURIComponent(member.id)}`, "DELETE"));
  const item = el("li", {}, avatar(member), el("strong", { textContent: member.name }),
    el("label", { className: "muted" }, preset), el("label", {}, mute, "Mute"), remove);
  preset.setAttribute("aria-label", `${member.name}'s preset`);
  mute.setAttribute("aria-label", `Mute ${member.name}`);
  item.dataset.characterId = member.id;
  item.dataset.speaking = String(G.live?.characterId === member.id);
  return item;
}

function jobItem(turn) {
  const job = turn.job;
  const who = job.result?.character_id ? nameOf(job.result.character_id) : `Turn ${turn.position}`;
  const why = job.status === "failed" ? `: ${job.error}` : "";
  const item = el("li", { textContent: `${who} · ${job.status}${why}` });
  item.dataset.status = job.status;
  return item;
}

function render() {
  const group = G.group;
  panel.hidden = false;
  panel.dataset.mode = isGroup() ? "group" : "solo";
  panel.dataset.running = String(Boolean(group.running));
  $("group-cast").replaceChildren(...group.cast.map(memberItem));
  $("group-rule").value = group.rule;
  $("group-limit").value = String(group.turn_limit);
  const inScene = new Set(group.cast.map((m) => m.id));
  const free = G.characters.filter((c) => !inScene.has(c.id));
  $("group-add").replaceChildren(...(free.length ? free.map((c) => el("option", { value: c.id, textContent: c.name }))
    : [el("option", { value: "", textContent: "No other characters" })]));
  root.querySelector('[data-action="group-add"]').disabled = !free.length;
  root.querySelector('[data-action="group-stop"]').hidden = !(isGroup() && group.running);
  $("group-jobs").replaceChildren(...group.turns.map(jobItem));
  if (!G.live) idleStatus();
}

function notice(text, link) {
  const box = el("p", { className: "alert", textContent: `${text} ` });
  box.setAttribute("role", "alert");
  if (link) box.append(el("a", { href: link, textContent: "Add a Server-Accessible config" }));
  $("group-notices").append(box);
}

// ---- the live turn ---------------------------------------------------------------------------

function paint() {
  G.frame = 0;
  if (G.live) $("group-live-text").textContent = G.live.text;
}

function turnStarted(data) {
  G.live = { characterId: data.character_id, text: "" };
  const box = $("group-live");
  box.dataset.characterId = data.character_id;
  $("group-live-who").textContent = `${data.name} is writing…`;
  $("group-live-text").textContent = "";
  box.hidden = false;
  status(`${data.name}'s turn.`);
  G.group.running = true;
  render();
}

function endLive() {
  if (G.frame) cancelAnimationFrame(G.frame);
  G.frame = 0;
  G.live = null;
  $("group-live").hidden = true;
}

async function refresh() {
  G.group = await api(`${base}/group`);
  render();
  // A round ends (stopped) just before its last job is recorded done: look again, a few times.
  const settling = !G.group.running && G.group.turns.some((t) => ["queued", "running"].includes(t.job.status));
  if (settling && G.settles++ < 10) setTimeout(() => refresh().catch(() => {}), 1000);
  else if (!settling) G.settles = 0;
}

function onEvent(name, data) {
  if (name === "state") { G.group = data; render(); return; }
  if (name === "turn_started") return turnStarted(data);
  if (name === "delta") {
    if (!G.live) return;
    G.live.text += data.t ?? "";
    G.frame ||= requestAnimationFrame(paint);
    return;
  }
  if (name === "notice") return notice(data.text, data.link);
  if (name === "turn_done" || name === "turn_failed") {
    endLive();
    if (name === "turn_failed") G.reason = `${nameOf(data.character_id)}'s turn failed: ${data.reason}`;
    reloadScene();
    refresh().catch(() => {});
    return;
  }
  if (name === "stopped") {
    endLive();
    G.group.running = false;
    if (!G.reason.includes("turn failed")) G.reason = data.reason;
    render();
    reloadScene();
    refresh().catch(() => {});
  }
}

function listen() {
  G.source = new EventSource(`${base}/events`);
  // No stream (yet): the panel still shows the cast. The browser reconnects by itself, sending the
  // last event id it saw, and the server replays what this page missed.
  G.source.addEventListener("error", () => { if (!G.group) refresh().catch(() => {}); });
  for (const name of ["state", "turn_started", "delta", "turn_done", "turn_failed", "notice", "stopped"]) {
    G.source.addEventListener(name, (event) => onEvent(name, JSON.parse(event.data)));
  }
}

// ---- actions ---------------------------------------------------------------------------------

async function change(path, method, body) {
  try {
    G.group = await api(path, { method, body });
    render();
    reloadScene();
  } catch (error) {
    notice(error.message);
  }
}

async function say(event) {
  if (!isGroup()) return;  // a solo scene: scene.js sends and streams the reply itself
  event.preventDefault();
  event.stopImmediatePropagation();
  const box = $("text");
  const text = box.value.trim();
  if (!text) return;
  box.value = "";
  $("group-notices").replaceChildren();
  G.reason = "";
  try {
    await api(`${base}/group/messages`, { method: "POST", body: { text } });
    G.group.running = true;
    render();
    reloadScene();
  } catch (error) {
    box.value ||= text;
    notice(error.message);
  }
}

function wire() {
  // Capture phase: in a group scene this handler answers the composer before scene.js does.
  $("composer").addEventListener("submit", say, true);
  $("group-rule").addEventListener("change", () => change(`${base}/group`, "PATCH", { rule: $("group-rule").value }));
  $("group-limit").addEventListener("change", () => {
    const value = Number($("group-limit").value);
    if (Number.isInteger(value)) change(`${base}/group`, "PATCH", { turn_limit: value });
  });
  root.querySelector('[data-action="group-add"]').addEventListener("click", () => {
    const id = $("group-add").value;
    if (id) change(`${base}/cast`, "POST", { character_id: id });
  });
  root.querySelector('[data-action="group-stop"]').addEventListener("click", () => change(`${base}/group/stop`, "POST"));
}

async function start() {
  if (!root || !panel) return;
  wire();
  const [characters, presets] = await Promise.all([
    api("/api/characters").catch(() => ({ characters: [] })),
    api("/api/presets").catch(() => ({ presets: [] })),
  ]);
  G.characters = characters.characters ?? [];
  G.presets = presets.presets ?? [];
  // The stream's first event, state, draws the panel: read before the page renders anything, it
  // can never undo a change the person made (a separate GET raced it, and a late state won).
  listen();
}

start().catch((error) => { if (panel) { panel.hidden = false; status(`Couldn't load the cast: ${error.message}`); } });
