// Post-production in a scene: the summary, "Summarize now" / "Summarize nightly", and per reply
// "Polish" and "Regenerate at…", each a background job whose status (queued, running, done,
// failed with its reason) is shown in the Post-production panel. Times are the person's: every
// schedule is sent with this browser's IANA time zone (a nightly time is on that clock, daylight
// saving included), and times are shown in it.
// The reply buttons are added to the items scene.js renders (watched with a MutationObserver) and
// carry data-pass-action, which scene.js ignores. When a pass changes a reply, the page asks
// scene.js to reload the scene with a "scene:changed" event on its root.
// Signals: [data-passes][data-state] is loading | idle | working; each pass <li> has data-kind
// and data-status.

import { api } from "./app.js";
import { el, showText } from "./dom.js";

const root = document.querySelector("[data-scene]");
const panel = document.querySelector("[data-passes]");
const sceneId = root?.dataset.sceneId;
const base = `/api/scenes/${encodeURIComponent(sceneId)}`;
const $ = (role) => panel.querySelector(`[data-role="${role}"]`);
const ACTIVE = new Set(["queued", "running"]);
const FAST = 1000;
const SLOW = 30000;
const KIND_NAMES = { summary: "Summary", polish: "Polish of a reply", regenerate: "Regeneration of a reply" };
const STATUS_NAMES = { queued: "queued", running: "running", done: "done", failed: "failed" };
const S = { state: null, timer: 0, seen: new Map() };

const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short", timeZone: ZONE });
// A schedule made in another zone (another device) says which.
const zoneNote = (zone) => (zone && zone !== ZONE ? ` (${zone})` : "");

function reply(messageId) {
  const body = root.querySelector(`[data-message-id="${CSS.escape(messageId ?? "")}"] .msg__body`);
  const text = body?.textContent.trim() ?? "";
  return text ? `“${text.length > 40 ? `${text.slice(0, 40)}…` : text}”` : "a deleted reply";
}

// ---- the panel -----------------------------------------------------------------------------------

function renderSummary(summary) {
  $("summary-text").textContent = summary?.text || "No summary yet.";
  showText(panel, "summary-meta", summary
    ? `Covers the first ${summary.covered} message${summary.covered === 1 ? "" : "s"} · updated ${when(summary.updated_at)}`
    : "");
}

function passItem(pass) {
  const what = pass.kind === "summary" ? KIND_NAMES.summary : `${KIND_NAMES[pass.kind]} ${reply(pass.message_id)}`;
  const item = el("li", { className: `passes__item passes__item--${pass.status}` },
    el("span", { className: "passes__what", textContent: what }),
    el("span", { className: `passes__status passes__status--${pass.status}`, textContent: STATUS_NAMES[pass.status] }),
    el("span", { className: "muted", textContent: `${pass.scheduled ? "scheduled · " : ""}${when(pass.created_at)}` }));
  const reason = pass.error || pass.note;
  if (reason && pass.status !== "done") {
    const line = el("p", { className: "passes__reason", textContent: reason });
    // The End-to-End refusal names its fix: a Server-Accessible config.
    if (pass.status === "failed" && /Server-Accessible/.test(reason)) {
      line.append(" ", el("a", { href: "/settings?tab=api-keys", textContent: "Add a Server-Accessible config" }));
    }
    item.append(line);
  }
  Object.assign(item.dataset, { kind: pass.kind, status: pass.status, jobId: pass.job_id });
  return item;
}

function scheduleItem(schedule) {
  const what = schedule.kind === "summary"
    ? `Summary every night at ${schedule.daily_at}${zoneNote(schedule.time_zone)}`
    : `Regenerate ${reply(schedule.message_id)}`;
  const cancel = el("button", { type: "button", className: "btn-link", textContent: "Cancel" });
  cancel.dataset.passAction = "cancel";
  cancel.dataset.scheduleId = schedule.id;
  cancel.setAttribute("aria-label", `Cancel: ${what}`);
  const item = el("li", { className: "passes__item" },
    el("span", { className: "passes__what", textContent: what }),
    el("span", { className: "muted", textContent: `next run ${when(schedule.next_run_at)}` }), cancel);
  Object.assign(item.dataset, { kind: schedule.kind, scheduleId: schedule.id });
  return item;
}

function render() {
  const { summary, passes, schedules } = S.state;
  renderSummary(summary);
  $("recent").replaceChildren(...(passes.length ? passes.map(passItem) : [el("li", { className: "muted", textContent: "None yet." })]));
  $("schedules").replaceChildren(...(schedules.length ? schedules.map(scheduleItem) : [el("li", { className: "muted", textContent: "Nothing scheduled." })]));
  const busy = passes.filter((p) => ACTIVE.has(p.status));
  const nightly = schedules.find((s) => s.kind === "summary");
  panel.querySelector('[data-pass-action="nightly"]').disabled = Boolean(nightly);
  panel.querySelector('[data-pass-action="summarize"]').disabled = busy.some((p) => p.kind === "summary");
  $("passes-brief").textContent = busy.length ? `· ${busy.length} running` : (summary ? "· summarized" : "");
  panel.dataset.state = busy.length ? "working" : "idle";
  markBusy();
}

// ---- state ------------------------------------------------------------------------------------

async function refresh() {
  clearTimeout(S.timer);
  try {
    S.state = await api(`${base}/passes`);
  } catch (error) {
    showText(panel, "passes-error", `Couldn't load the passes: ${error.message}`);
    return;
  }
  let changed = false;
  for (const pass of S.state.passes) {
    const before = S.seen.get(pass.job_id);
    if (before && before !== pass.status && !ACTIVE.has(pass.status)) {
      $("passes-live").textContent = `${KIND_NAMES[pass.kind]}: ${pass.status}.`;
      if (pass.status === "done" && pass.kind !== "summary") changed = true;
    }
    S.seen.set(pass.job_id, pass.status);
  }
  render();
  if (changed) root.dispatchEvent(new CustomEvent("scene:changed"));
  const active = S.state.passes.some((p) => ACTIVE.has(p.status));
  S.timer = setTimeout(refresh, active ? FAST : SLOW);
}

async function act(work) {
  showText(panel, "passes-error", "");
  try {
    await work();
  } catch (error) {
    showText(panel, "passes-error", error.message);
  }
  await refresh();
}

// ---- reply actions ----------------------------------------------------------------------------

function passButton(text, action, label) {
  const button = el("button", { type: "button", className: "btn-link msg__action", textContent: text });
  button.dataset.passAction = action;
  button.setAttribute("aria-label", label);
  return button;
}

// A reply a pass is working on says so in its header ("polishing…", "regenerating…").
function markBusy() {
  for (const mark of root.querySelectorAll(".passes__busy")) mark.remove();
  for (const pass of S.state?.passes ?? []) {
    if (!ACTIVE.has(pass.status) || !pass.message_id) continue;
    const head = root.querySelector(`[data-message-id="${CSS.escape(pass.message_id)}"] .msg__head`);
    head?.append(el("span", { className: "msg__mark passes__busy", textContent: pass.kind === "polish" ? "polishing…" : "regenerating…" }));
  }
}

function decorate() {
  markBusy();
  for (const item of root.querySelectorAll('[data-role="assistant"][data-message-id]')) {
    const actions = item.querySelector(".msg__actions");
    if (!item.dataset.messageId || !actions || actions.querySelector("[data-pass-action]")) continue;
    actions.append(passButton("Polish", "polish", "Polish this reply"),
      passButton("Regenerate at…", "schedule-regenerate", "Regenerate at… (schedule a new version of this reply)"));
  }
}

function scheduleForm(item) {
  if (item.querySelector(".passes__when")) return;
  const input = el("input", { type: "datetime-local", required: true });
  const soon = new Date(Date.now() + 3600_000);
  soon.setSeconds(0, 0);
  input.value = new Date(soon.getTime() - soon.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const error = el("p", { className: "alert", hidden: true });
  error.setAttribute("role", "alert");
  const cancel = el("button", { type: "button", className: "btn btn-small btn-ghost", textContent: "Cancel" });
  const form = el("form", { className: "passes__when" },
    el("label", { className: "field" }, "Regenerate at (your time)", input),
    el("div", { className: "actions" }, el("button", { type: "submit", className: "btn btn-small", textContent: "Schedule" }), cancel),
    error);
  cancel.addEventListener("click", () => form.remove());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("/api/schedules", { method: "POST", body: {
        kind: "regenerate", scene_id: sceneId, message_id: item.dataset.messageId, run_at: new Date(input.value).toISOString(),
        time_zone: ZONE } });
      form.remove();
      $("passes-live").textContent = "Regeneration scheduled.";
      panel.open = true;
      await refresh();
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    }
  });
  item.querySelector(".msg__bubble").append(form);
  input.focus();
}

function onClick(event) {
  const button = event.target.closest("button[data-pass-action]");
  if (!button) return;
  const action = button.dataset.passAction;
  const item = button.closest("[data-message-id]");
  if (action === "polish") {
    panel.open = true;
    act(() => api(`${base}/messages/${encodeURIComponent(item.dataset.messageId)}/polish`, { method: "POST" }));
  } else if (action === "schedule-regenerate") scheduleForm(item);
  else if (action === "summarize") act(() => api(`${base}/summary`, { method: "POST" }));
  else if (action === "nightly") {
    act(() => api("/api/schedules", { method: "POST", body: { kind: "summary", scene_id: sceneId, daily_at: $("nightly-time").value || "03:00", time_zone: ZONE } }));
  } else if (action === "cancel") act(() => api(`/api/schedules/${encodeURIComponent(button.dataset.scheduleId)}`, { method: "DELETE" }));
}

function start() {
  if (!root || !panel) return;
  root.addEventListener("click", onClick);
  new MutationObserver(decorate).observe(root.querySelector('[data-role="messages"]'), { childList: true });
  decorate();
  for (const button of panel.querySelectorAll("[data-pass-action]")) button.disabled = false;
  refresh();
}

start();
