// One chat message as DOM: avatar, author, text (Markdown for replies, plain text for the
// person's own), alternatives (< 1/3 >), status marks and the action buttons. Pure rendering: the
// buttons carry data-action and the caller (scene.js) handles the clicks.

import { el } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { avatar } from "./people.js";

function button(text, action, label, extra = "") {
  const b = el("button", { type: "button", className: `btn-link msg__action ${extra}`.trim(), textContent: text });
  b.dataset.action = action;
  if (label) b.setAttribute("aria-label", label);
  return b;
}

/** Fill a message body: Markdown (sanitized) for replies, text with line breaks for the person. */
export function fillBody(body, message, text) {
  if (message.role === "assistant") body.replaceChildren(renderMarkdown(text));
  else body.replaceChildren(...text.split("\n").flatMap((line, i) => (i ? [el("br"), line] : [line])));
}

function alternativesNav(message) {
  const count = message.alternatives?.length ?? 0;
  if (count < 2) return null;
  const at = message.active + 1;
  const prev = button("‹", "prev-alt", "Previous reply", "alt-step");
  const next = button("›", "next-alt", "Next reply", "alt-step");
  prev.disabled = at <= 1;
  next.disabled = at >= count;
  const label = el("span", { className: "alt-count", textContent: `${at}/${count}` });
  label.setAttribute("aria-label", `Reply ${at} of ${count}`);
  return el("span", { className: "alts" }, prev, label, next);
}

function statusMark(message) {
  if (message.status === "interrupted") return el("span", { className: "msg__mark msg__mark--interrupted", textContent: "interrupted" });
  if (message.status === "streaming") return el("span", { className: "msg__mark", textContent: "writing…" });
  if (message.status === "error") return el("span", { className: "msg__mark msg__mark--interrupted", textContent: "failed" });
  // Written by a post-production pass (passes.js): a polish, or a scheduled regeneration.
  const origin = message.alternatives?.find((a) => a.index === message.active)?.origin;
  if (origin) return el("span", { className: "msg__mark", textContent: origin === "polish" ? "polished" : "scheduled" });
  return null;
}

/**
 * The <li> for a Message. ctx: {character(id) -> character|null, modelName(model) -> text,
 * last: is it the scene's last message}.
 */
export function messageItem(message, ctx) {
  const mine = message.role === "user";
  const who = mine ? { name: "You", initials: "You" } : (ctx.character(message.character_id) ?? { name: "Character" });
  const body = el("div", { className: "msg__body" });
  fillBody(body, message, message.text ?? "");
  const head = el("div", { className: "msg__head" },
    el("span", { className: "msg__author", textContent: who.name }),
    !mine && message.model ? el("span", { className: "msg__model muted", textContent: ctx.modelName(message.model) }) : null,
    statusMark(message));
  // Hidden by the stylesheet while a reply streams (the page ignores them then too).
  const actions = el("div", { className: "msg__actions" }, alternativesNav(message));
  // Any reply can be regenerated (written from the history before it); only the last one continued.
  // An interrupted reply (the stream broke, or Stop) offers Retry: a new alternative, the partial kept.
  if (!mine && message.id) {
    actions.append(message.status === "interrupted" ? button("Retry", "regenerate", "Retry this reply")
      : button("Regenerate", "regenerate", "Regenerate this reply"));
  }
  if (!mine && message.id && ctx.last) actions.append(button("Continue", "continue", "Continue this reply"));
  // A last line with no answer (a failed reply, or a deleted one): ask for the reply again.
  if (mine && ctx.last && message.id) actions.append(button("Get a reply", "reply", "Get a reply to this message"));
  if (message.id) {
    actions.append(button("Edit", "edit", mine ? "Edit your message" : "Edit this reply"),
      button("Delete", "delete", mine ? "Delete your message" : "Delete this reply", "msg__action--danger"));
  }
  const item = el("li", { className: `msg msg--${message.role}` },
    mine ? null : avatar(who), el("div", { className: "msg__bubble" }, head, body, actions));
  Object.assign(item.dataset, {
    messageId: message.id ?? "", role: message.role, status: message.status ?? "complete",
    active: String(message.active ?? 0), alternatives: String(message.alternatives?.length ?? 1),
  });
  return item;
}

/** Swap a message's body for an edit box; resolves with the new text, or null when cancelled. */
export function editInPlace(item, text) {
  return new Promise((resolve) => {
    const body = item.querySelector(".msg__body");
    const box = el("textarea", { className: "msg__edit", value: text, rows: Math.min(12, text.split("\n").length + 1) });
    box.setAttribute("aria-label", "Edit message");
    const save = el("button", { type: "submit", className: "btn btn-small", textContent: "Save" });
    const cancel = el("button", { type: "button", className: "btn btn-small btn-ghost", textContent: "Cancel" });
    const form = el("form", { className: "msg__editor" }, box, el("div", { className: "actions" }, save, cancel));
    body.hidden = true;
    body.after(form);
    const done = (value) => { form.remove(); body.hidden = false; resolve(value); };
    form.addEventListener("submit", (e) => { e.preventDefault(); done(box.value); });
    cancel.addEventListener("click", () => done(null));
    box.addEventListener("keydown", (e) => { if (e.key === "Escape") done(null); });
    box.focus();
  });
}
