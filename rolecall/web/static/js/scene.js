// A scene: the conversation, the composer (Enter sends, Shift+Enter is a new line), replies
// streamed over SSE (sse.js) with Stop, Regenerate (alternatives), Continue, edit and delete, the
// AI wing (wing.js) and, for an End-to-End config, the key opened in this browser for each request.
// Signals for people and tests alike: root[data-state] is loading | ready | streaming, every
// message carries data-status, the header carries data-model-section / data-model-id.

import { api } from "./app.js";
import { avatar } from "./people.js";
import { fillBody, messageItem, editInPlace } from "./message_view.js";
import { postStream, StreamRefused } from "./sse.js";
import { createKeyGate, NeedsUnlock } from "./key_gate.js";
import { initWing } from "./wing.js";
import { describeError } from "./scene_errors.js";
import { initScenePreset } from "./scene_preset.js";

const root = document.querySelector("[data-scene]");
const sceneId = root?.dataset.sceneId;
const userId = root?.dataset.accountId;
const base = `/api/scenes/${encodeURIComponent(sceneId)}`;
const $ = (role) => root.querySelector(`[data-role="${role}"]`);
const S = { scene: null, busy: false, editing: false, controller: null, live: null, configs: null, reloads: 0 };
let wing = null;
let gate = null;
let preset = null;  // the scene's preset: its chain follows the scene's own model

// ---- rendering -------------------------------------------------------------------------------

// The wing's catalog knows the provider's own model names; the scene's view may only know the id.
const modelName = (model) => wing?.nameOf(model) || model.display_name || model.model_id;
const character = (id) => S.scene?.characters.find((c) => c.id === id) ?? S.scene?.characters[0] ?? null;

function renderHeader() {
  const scene = S.scene;
  const names = scene.characters.map((c) => c.name).join(", ");
  $("scene-title").textContent = scene.title || names;
  document.title = `${scene.title || names} · RoleCall`;
  $("cast").replaceChildren(...scene.characters.map((c) => avatar(c)));
  const begin = scene.model ? null : preset?.start();  // none picked in the wing: where the chain starts
  const model = scene.model ?? begin?.model ?? null;
  $("model-name").textContent = model ? modelName(model) : "None chosen";
  const via = model?.config_label || model?.provider_name || "a deleted provider config";
  const from = begin ? ` · ${begin.note}` : "";
  $("model-config").textContent = model ? `via ${via}${model.privacy_mode === "e2e" ? " · end-to-end key" : ""}${from}` : "Pick a model in the AI wing";
  const head = $("current-model");
  head.dataset.modelSection = model?.section ?? "";
  head.dataset.modelId = model?.model_id ?? "";
  preset?.render();
}

// Built items are reused while nothing they show has changed, so a send in a long scene does not
// re-parse every earlier reply's Markdown.
const built = new WeakMap();

function itemFor(message, last) {
  const key = [message.id, message.text, message.status, message.active, message.alternatives?.length, last].join("\u0000");
  const hit = built.get(message);
  if (hit?.key === key) return hit.node;
  const node = messageItem(message, { character, modelName, last });
  built.set(message, { key, node });
  return node;
}

function renderMessages() {
  if (S.editing) return;  // an open edit box is not thrown away; the edit re-renders when it ends
  const messages = S.scene.messages;
  const last = messages.at(-1);
  $("messages").replaceChildren(...messages.map((m) => itemFor(m, m === last)));
  $("stage-status").hidden = messages.length > 0;
  $("stage-status").textContent = messages.length ? "" : "The stage is set. Say the first line.";
}

function setState(state) {
  root.dataset.state = state;
  S.busy = state === "streaming";
  root.querySelector('[data-action="send"]').hidden = S.busy;
  root.querySelector('[data-action="stop"]').hidden = !S.busy;
}

function scrollToEnd() {
  const list = $("messages");
  list.lastElementChild?.scrollIntoView({ block: "end", behavior: "smooth" });
}

// ---- loading ---------------------------------------------------------------------------------

async function loadScene() {
  S.scene = await api(base);
  renderHeader();
  renderMessages();
  setState("ready");
  // Reloaded while a reply was streaming: the server finishes or marks it interrupted shortly.
  if (S.scene.messages.some((m) => m.status === "streaming") && S.reloads++ < 10) setTimeout(loadScene, 1500);
}

async function configs() {
  if (!S.configs) {
    const rows = await api("/api/provider-configs");
    S.configs = new Map(rows.map((c) => [c.id, c]));
  }
  return S.configs;
}

// ---- errors ----------------------------------------------------------------------------------

function clearError() {
  $("error").hidden = true;
  $("error").replaceChildren();
}

function showError(error, retry) {
  const box = $("error");
  const view = describeError(error);
  box.replaceChildren(...view.nodes);
  box.dataset.kind = error.kind ?? "";
  box.hidden = false;
  if (retry && view.retry) {
    const again = Object.assign(document.createElement("button"), { type: "button", className: "btn btn-small", textContent: "Retry" });
    again.addEventListener("click", () => { clearError(); run(retry); });
    box.querySelector(".actions").append(again);
  }
  if (error.kind === "no_model") box.querySelector('[data-action="open-wing"]')?.addEventListener("click", () => wing.open());
  box.scrollIntoView({ block: "nearest" });
}

// ---- generation ------------------------------------------------------------------------------

/** Run one action: {kind: send|reply|regenerate|continue, ...}. */
async function run(action) {
  if (S.busy) return;
  clearError();
  let key, keys;
  try {
    const { first, chain } = await preset.chainFor(S.scene, action.messageId);
    key = await gate.keyFor(first);
    // The fallback slots' End-to-End keys, by config id (the first one's too: it may be a preset slot).
    keys = { ...(await gate.moreKeys(chain)), ...(key ? { [first.section]: key } : {}) };
  } catch (error) {
    if (error instanceof NeedsUnlock) return gate.ask(action);
    return showError({ kind: "key", headline: "Your key couldn't be opened here", message: error.message }, null);
  }
  const body = { ...(key ? { key } : {}), ...(Object.keys(keys).length ? { keys } : {}) };
  if (action.kind === "send") {
    S.scene.messages.push({ id: null, role: "user", text: action.text, status: "sending", alternatives: [], active: 0 });
    return stream(`${base}/messages`, { ...body, text: action.text }, action);
  }
  // Empty text: no new user message, the character answers the scene as it stands.
  if (action.kind === "reply") return stream(`${base}/messages`, { ...body, text: "" }, action);
  const mid = encodeURIComponent(action.messageId);
  return stream(`${base}/messages/${mid}/${action.kind}`, body, action);
}

function liveItem() {
  return $("messages").querySelector(`[data-message-id="${CSS.escape(S.live.message.id)}"]`);
}

function paint() {
  S.live.frame = 0;
  const item = liveItem();
  if (!item) return;
  // Follow the reply as it grows, unless the person has scrolled up to read.
  const following = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 160;
  fillBody(item.querySelector(".msg__body"), S.live.message, S.live.base + S.live.text);
  if (following) window.scrollTo(0, document.documentElement.scrollHeight);
  item.dataset.deltas = String(S.live.deltas);
  speak(false);
}

// Screen readers get whole sentences from the live region, not a token stream.
function speak(all) {
  const text = S.live.text;
  const end = all ? text.length : Math.max(text.lastIndexOf(". "), text.lastIndexOf("! "), text.lastIndexOf("? "), text.lastIndexOf("\n")) + 1;
  if (end > S.live.spoken) {
    $("live").textContent = text.slice(S.live.spoken, end).trim();
    S.live.spoken = end;
  }
}

function replaceMessage(message) {
  const i = S.scene.messages.findIndex((m) => m.id === message.id);
  if (i === -1) S.scene.messages.push(message); else S.scene.messages[i] = message;
}

function onStart(data, action) {
  let message = S.scene.messages.find((m) => m.id === data.message_id);
  let prefix = "";
  if (!message) {
    message = { id: data.message_id, role: "assistant", character_id: S.scene.characters[0]?.id, text: "", status: "streaming",
      alternatives: [], active: 0, model: data.model };
    S.scene.messages.push(message);
  } else if (action.kind === "regenerate") {
    message.alternatives = [...(message.alternatives || []), { index: data.alternative, text: "", status: "streaming" }];
    message.active = message.alternatives.length - 1;
  } else {
    prefix = message.text;
  }
  Object.assign(message, { status: "streaming", model: data.model ?? message.model, text: prefix });
  S.live = { message, base: prefix, text: "", deltas: 0, spoken: 0, frame: 0 };
  renderMessages();
  liveItem()?.querySelector(".msg__body").setAttribute("aria-busy", "true");
  scrollToEnd();
}

function onDelta(data) {
  if (!S.live) return;
  S.live.text += data.t ?? "";
  S.live.deltas += 1;
  S.live.frame ||= requestAnimationFrame(paint);
}

async function onError(data, action) {
  // The kept partial reply (interrupted), or null when the error came before the first token.
  const partial = data.reply ?? (typeof data.message === "object" ? data.message : null);
  const text = typeof data.message === "string" ? data.message : (data.detail ?? data.error ?? "");
  const retry = retryOf(action, partial);
  if (data.kind === "key_needed" || data.kind === "auth") S.configs = null;
  await loadScene().catch(() => {});  // what the server kept: an interrupted partial, or nothing
  if (data.kind === "key_needed") return gate.ask(retry);
  if (data.kind === "auth") wing.reload();
  // A kept partial is never spliced: Retry writes the reply again, from the chain's first model.
  showError({ ...data, message: text, retryable: partial ? true : data.retryable }, retry);
}

function retryOf(action, partial) {
  if (partial) return { kind: "regenerate", messageId: partial.id };
  // A send whose user message was committed: the retry only asks for the reply.
  if (action.kind === "send" && S.lastUser?.id) return { kind: "reply" };
  return action;
}

async function stream(path, body, action) {
  S.controller = new AbortController();
  S.live = null;
  S.lastUser = null;
  setState("streaming");
  renderMessages();
  scrollToEnd();
  let ended = false;
  try {
    for await (const { event, data } of postStream(path, body, S.controller.signal)) {
      if (event === "user") {
        S.lastUser = data;
        S.scene.messages = S.scene.messages.filter((m) => m.id !== null);
        replaceMessage(data);
        renderMessages();
      } else if (event === "start") onStart(data, action);
      else if (event === "delta") onDelta(data);
      else if (event === "done") { ended = true; finish(data); }
      else if (event === "error") { ended = true; finish(null); await onError(data, action); }
    }
    if (!ended) throw new TypeError("the stream ended early");
  } catch (error) {
    const live = S.live;
    finish(null);
    if (error.name === "AbortError") {
      // Stopped: keep what arrived, as the server does (it marks the partial interrupted).
      if (live) Object.assign(live.message, { status: "interrupted", text: live.base + live.text });
      else await loadScene().catch(() => {});  // stopped before the reply began: show what was kept
      renderMessages();
    } else if (error instanceof StreamRefused) {
      S.scene.messages = S.scene.messages.filter((m) => m.id !== null);
      if (action.kind === "send") $("text").value ||= action.text;
      renderMessages();
      showError({ kind: error.body?.code, headline: "The message wasn't sent", message: error.message }, null);
    } else {
      await loadScene().catch(() => {});  // show what the server committed
      showError({ kind: "network", message: "The connection dropped before the reply finished." }, retryOf(action, null));
    }
  } finally {
    S.controller = null;
    setState("ready");
    renderMessages();
  }
}

function finish(message) {
  if (S.live?.frame) cancelAnimationFrame(S.live.frame);
  if (S.live) {
    speak(true);
    root.dataset.deltas = String(S.live.deltas);  // how many pieces the last reply arrived in
  }
  if (message) replaceMessage(message);
  S.live = null;
}

// ---- message actions ---------------------------------------------------------------------------

async function onMessageAction(button) {
  const item = button.closest("[data-message-id]");
  const message = S.scene.messages.find((m) => m.id === item.dataset.messageId);
  if (!message || S.busy) return;
  const action = button.dataset.action;
  const path = `${base}/messages/${encodeURIComponent(message.id)}`;
  try {
    if (action === "regenerate" || action === "continue") return run({ kind: action, messageId: message.id });
    if (action === "reply") return run({ kind: "reply" });
    if (action === "prev-alt" || action === "next-alt") {
      const active = message.active + (action === "next-alt" ? 1 : -1);
      replaceMessage(await api(path, { method: "PATCH", body: { active } }));
    } else if (action === "edit") {
      S.editing = true;
      let text;
      try {
        text = await editInPlace(item, message.text);
      } finally {
        S.editing = false;
      }
      if (text !== null && text !== message.text) replaceMessage(await api(path, { method: "PATCH", body: { text } }));
    } else if (action === "delete") {
      if (!window.confirm("Delete this message?")) return;
      await api(path, { method: "DELETE" });
      S.scene.messages = S.scene.messages.filter((m) => m.id !== message.id);
    }
    renderMessages();
    $("messages").querySelector(`[data-message-id="${CSS.escape(message.id)}"] [data-action="${action}"]`)?.focus();
  } catch (error) {
    showError({ kind: "edit", headline: "That change wasn't saved", message: error.message }, null);
  }
}

async function pickModel(model) {
  const scene = await api(base, { method: "PATCH", body: { model } });
  S.scene.model = scene.model;
  renderHeader();
  $("live").textContent = `Now using ${scene.model ? modelName(scene.model) : model.model_id}.`;
  if (scene.model?.privacy_mode !== "e2e") gate.dismiss();
}

// ---- wiring ----------------------------------------------------------------------------------

function send(event) {
  event.preventDefault();
  const text = $("text").value.trim();
  if (!text || S.busy) return;
  $("text").value = "";
  run({ kind: "send", text });
}

function wire() {
  $("composer").addEventListener("submit", send);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  root.querySelector('[data-action="stop"]').addEventListener("click", () => S.controller?.abort());
  $("text").addEventListener("keydown", (event) => { if (event.key === "Escape" && S.busy) S.controller?.abort(); });
  gate = createKeyGate({
    root, userId, configs, go: run,
    cancelled: (action) => { if (action.kind === "send") $("text").value ||= action.text; },
  });
  root.querySelector('[data-action="delete-scene"]').addEventListener("click", async () => {
    if (!window.confirm("Delete this scene and all its messages? This cannot be undone.")) return;
    await api(base, { method: "DELETE" });
    window.location.assign("/scenes");
  });
  $("messages").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) onMessageAction(button);
  });
  wing = initWing({ root, configs, current: () => S.scene?.model ?? null, pick: pickModel });
  preset = initScenePreset({ root, sceneId, current: () => S.scene?.model ?? null, modelName,
    announce: (text) => { $("live").textContent = text; }, changed: () => { if (S.scene) renderHeader(); } });
  // group.js: a group scene's turn arrived or its cast changed (docs/group-scenes.md).
  root.addEventListener("scene:reload", () => { if (!S.busy) loadScene().catch(() => {}); });
  // A background pass (passes.js) added an alternative to a reply: show the scene as stored.
  root.addEventListener("scene:changed", () => { if (!S.busy && !S.editing) loadScene().catch(() => {}); });
  // Server-rendered disabled, so nothing is clicked before it works.
  for (const action of ["send", "delete-scene"]) root.querySelector(`[data-action="${action}"]`).disabled = false;
}

async function start() {
  if (!root) return;
  wire();
  try {
    await loadScene();
    $("text").focus();
  } catch (error) {
    $("stage-status").textContent = `Couldn't load this scene: ${error.message}`;
  }
  await wing.reload();
  if (S.scene) {  // the catalog's model names are known now
    renderHeader();
    for (const node of $("messages").querySelectorAll("[data-message-id]")) {
      const model = S.scene.messages.find((m) => m.id === node.dataset.messageId)?.model;
      const label = node.querySelector(".msg__model");
      if (model && label) label.textContent = modelName(model);
    }
  }
}

start();
