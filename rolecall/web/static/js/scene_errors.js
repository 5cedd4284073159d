// What a failed generation says: the headline and message (the server's, else ours by kind), a
// link to the config in Settings for key problems, and whether Retry makes sense.

import { el } from "./dom.js";

const HEADLINES = {
  auth: "The key was rejected",
  forbidden: "This key isn't allowed to use this model",
  billing: "Billing problem at the provider",
  rate_limited: "Rate limit reached",
  unavailable: "The provider is down or unreachable",
  timeout: "The provider took too long to answer",
  not_found: "This model isn't available to this key",
  context_too_long: "The conversation is too long for this model",
  bad_request: "The provider refused the request",
  bad_response: "The provider sent a reply we couldn't read",
  blocked: "That address is blocked",
  key_needed: "Unlock your end-to-end key",
  no_model: "Pick a model first",
  balance_empty: "Your Premiere Theater balance is empty",
  network: "Connection lost",
};

const ADVICE = {
  auth: "The provider refused this key, so the config is now marked Invalid. Check the key and your billing in the provider's dashboard, then update the config.",
  rate_limited: "Your key's rate limit was hit. Wait a moment and retry, or switch to another model in the AI wing.",
  unavailable: "Not a key problem: wait and retry, or switch to another provider in the AI wing.",
  not_found: "Your account may not have access to this model. Try another model from the same provider.",
  context_too_long: "Delete or shorten earlier messages, or pick a model with a larger context window.",
  timeout: "Retry, or pick a faster model in the AI wing.",
  no_model: "Open the AI wing and click a model: the next message goes through it.",
};

const KEY_KINDS = new Set(["auth", "forbidden", "billing"]);
const NO_RETRY = new Set(["no_model", "key_needed", "blocked", "balance_empty"]);

/** {nodes, retry}: the error box's content and whether to offer Retry. */
export function describeError(error) {
  const kind = error.kind || "";
  const headline = error.headline || HEADLINES[kind] || "The reply failed";
  const nodes = [el("p", { className: "scene-error__headline" }, el("strong", { textContent: headline }))];
  const message = error.message || ADVICE[kind] || "";
  if (message) nodes.push(el("p", { className: "scene-error__message", textContent: message }));
  if (error.retry_after) nodes.push(el("p", { className: "muted", textContent: `The provider asks to wait ${Math.ceil(error.retry_after)} s before the next try.` }));
  if (error.message && ADVICE[kind] && error.message !== ADVICE[kind]) nodes.push(el("p", { className: "muted", textContent: ADVICE[kind] }));
  const actions = el("div", { className: "actions" });
  if (KEY_KINDS.has(kind) && error.config_id) {
    actions.append(el("a", { className: "btn btn-small btn-ghost", href: `/settings?tab=api-keys#provider-${encodeURIComponent(error.config_id)}`, textContent: "Open the config in Settings" }));
  }
  // The hosted models can't answer: the way on is a provider of one's own (guide, "1. What BYOK Is").
  if (kind === "balance_empty") {
    actions.append(el("a", { className: "btn btn-small btn-ghost", href: "/settings?tab=api-keys#token-balance", textContent: "See your Token Balance" }));
  }
  if (kind === "balance_empty" || kind === "premiere_unavailable") {
    actions.append(el("a", { className: "btn btn-small btn-ghost", href: "/settings?tab=api-keys#byok", textContent: "Add a BYOK provider" }));
  }
  if (kind === "no_model") {
    const open = el("button", { type: "button", className: "btn btn-small", textContent: "Open the AI wing" });
    open.dataset.action = "open-wing";
    actions.append(open);
  }
  nodes.push(actions);
  return { nodes, retry: error.retryable !== false && !NO_RETRY.has(kind) };
}
