// The provider-specific part of the Add/Edit Provider form: inputs rendered from the `fields`
// array of GET /api/providers, read back into the API's shape, the gentle key-prefix hint and
// the "where to get a key" link. No fetches and no crypto here (provider_form.js does those).
// Nothing special-cases a provider id: what a provider needs is data from the server.

import { el } from "./dom.js";

// Fields the API takes at the top level; every other field travels in `values`.
const TOP_LEVEL = new Set(["api_key", "base_url", "headers", "body", "endpoint_type", "model"]);
const RESERVED_HEADERS = new Set([
  "authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key", "cookie", "set-cookie", "host",
  "content-length", "transfer-encoding", "connection", "upgrade", "te", "expect", "keep-alive", "proxy-connection",
  "openai-organization",
]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PRINTABLE = /^[\x20-\x7e\t]*$/;

let uid = 0;
const nextId = (name) => `pf-${name}-${++uid}`;

/** The registry's base URL with {placeholders} filled from the form's values (or left as they are). */
export function filledBaseUrl(provider, values = {}, url = provider.default_base_url) {
  return (url || "").replace(/\{(\w+)\}/g, (whole, name) => values[name] || whole);
}

/**
 * Where requests would go with the form as it is now: the Custom Base URL if one is typed, else
 * the chosen endpoint's URL (Endpoint Type) with {placeholders} filled; an unfilled placeholder
 * shows the field's label in angle brackets ("https://<Resource Name>.openai.azure.com/openai").
 */
export function liveBaseUrl(form, provider) {
  const value = (name) => form.querySelector(`.field-row [name="${name}"]`)?.value.trim() ?? "";
  const typed = value("base_url");
  if (typed) return typed;
  const endpoints = provider.endpoints || [];
  const chosen = endpoints.find((e) => e.id === value("endpoint_type")) ?? endpoints[0];
  const url = chosen?.url ?? provider.default_base_url;
  return (url || "").replace(/\{(\w+)\}/g, (whole, name) => {
    const label = provider.fields.find((f) => f.name === name)?.label ?? name;
    return value(name) || `<${label}>`;
  });
}

/** The line under the Provider choice: where requests will go. */
export function baseHint(base) {
  return base ? `Base URL: ${base}` : "This provider has no default address: enter your server's Base URL below.";
}

// ---- rendering ---------------------------------------------------------------------------------

function control(field, id) {
  const common = { id, name: field.name, autocomplete: "off", spellcheck: false };
  if (field.kind === "select") {
    const select = el("select", common);
    for (const [value, label] of field.choices) select.append(el("option", { value, textContent: label }));
    return select;
  }
  if (field.kind === "textarea" || field.kind === "lines") {
    return el("textarea", { ...common, rows: field.kind === "textarea" ? 6 : 3, placeholder: field.placeholder || "" });
  }
  const type = { password: "password", url: "url" }[field.kind] ?? "text";
  return el("input", { ...common, type, placeholder: field.placeholder || "" });
}

/** "Where to get a key" line: key_url may be "https://… (Account Settings → …)". */
function keySource(provider) {
  const text = provider.key_url || "";
  const match = /^(https:\/\/\S+)(.*)$/.exec(text);
  if (!match) return null;
  const link = el("a", { href: match[1], target: "_blank", rel: "noopener noreferrer", textContent: match[1].replace(/^https:\/\//, "") });
  return el("small", { className: "key-source" }, "Where to get a key: ", link, match[2]);
}

function helpFor(field, provider, edit) {
  if (field.name === "api_key") {
    return edit ? "Leave empty to keep the current key. Paste a new one to replace it." : null;
  }
  if (field.name === "base_url" && provider.default_base_url) {
    return `${field.help} Leave blank to use ${filledBaseUrl(provider)}.`.trim();
  }
  return field.help || null;
}

function fieldRow(field, provider, edit) {
  const id = nextId(field.name);
  const input = control(field, id);
  const optional = field.level === "optional" && !(field.name === "api_key" && edit);  // edit: the help says it
  const label = el("label", { htmlFor: id }, field.label, optional ? el("span", { className: "muted optional", textContent: " (optional)" }) : null);
  if (field.level === "required" && !(field.name === "api_key" && edit)) input.setAttribute("aria-required", "true");
  const helpText = helpFor(field, provider, edit);
  const help = helpText ? el("small", { id: `${id}-help`, textContent: helpText }) : null;
  const error = el("p", { id: `${id}-error`, className: "field-error", hidden: true });
  error.setAttribute("role", "alert");
  input.setAttribute("aria-describedby", [help?.id, error.id].filter(Boolean).join(" "));
  const row = el("div", { className: "field-row" }, label, input, help);
  row.dataset.field = field.name;
  if (field.name === "api_key") {
    if (edit) input.placeholder = "Leave empty to keep the current key";
    const warning = el("p", { className: "key-warning", hidden: true });
    warning.dataset.role = "key-warning";
    warning.setAttribute("role", "status");
    row.append(warning, keySource(provider) ?? "");
  }
  if (field.name === "base_url" && provider.default_base_url) input.placeholder = filledBaseUrl(provider);
  row.append(error);
  return row;
}

/**
 * Render `provider`'s fields into the two boxes (advanced ones behind the Advanced toggle).
 * Returns the number of advanced fields, so the caller can hide an empty toggle.
 */
export function renderFields(provider, { main, advanced }, { edit = false } = {}) {
  main.replaceChildren();
  advanced.replaceChildren();
  let advancedCount = 0;
  for (const field of provider.fields) {
    const row = fieldRow(field, provider, edit);
    if (field.level === "advanced") {
      advanced.append(row);
      advancedCount += 1;
    } else {
      main.append(row);
    }
    const input = row.querySelector(`[name="${field.name}"]`);
    if (field.default && !edit) input.value = field.default;
  }
  return advancedCount;
}

/** Put a saved config's values back into the rendered inputs (the key and header values stay empty). */
export function fillFields(form, provider, config, customBase) {
  const set = (name, value) => {
    const input = form.querySelector(`.field-row [name="${name}"]`);
    if (input && value !== null && value !== undefined) input.value = value;
  };
  for (const field of provider.fields) {
    if (!TOP_LEVEL.has(field.name)) set(field.name, config.values?.[field.name] ?? field.default);
  }
  set("base_url", customBase ? config.base_url : "");
  set("endpoint_type", config.endpoint_type);
  set("body", config.body);
  set("model", config.model ?? "");
}

/** The form's provider fields in the API's shape: {api_key, base_url, endpoint_type, values, headers, body, model}. */
export function readFields(form, provider) {
  const out = { values: {} };
  for (const field of provider.fields) {
    const input = form.querySelector(`.field-row [name="${field.name}"]`);
    if (!input) continue;
    const raw = input.value;
    if (field.name === "api_key") out.api_key = raw.trim();  // no leading or trailing spaces (user guide, "4. Test the Key")
    else if (TOP_LEVEL.has(field.name)) out[field.name] = raw.trim() === "" ? null : raw;
    else if (raw.trim() !== "") out.values[field.name] = raw.trim();
  }
  out.headers ??= "";
  out.body ??= "";
  return out;
}

/**
 * For E2E the server never sees the key on save, so the browser checks what the server would:
 * a required key is there, and (except a JSON textarea) it has no spaces or odd characters.
 */
export function keyShapeProblem(provider, key) {
  if (!key) return provider.key_policy === "required" ? `${provider.name} needs an ${provider.key_label}.` : null;
  const keyField = provider.fields.find((f) => f.name === "api_key");
  if (keyField?.kind !== "textarea" && !/^[\x21-\x7e]+$/.test(key)) {
    return `The ${provider.key_label} contains spaces, line breaks or characters a key can't have. Double-check the copy-paste.`;
  }
  return null;
}

// ---- the label's length ---------------------------------------------------------------------

export const LABEL_MAX = 80;

/** The message for a label over LABEL_MAX characters, else null. */
export function labelTooLong(length) {
  return length > LABEL_MAX ? `Labels can be at most ${LABEL_MAX} characters; this one has ${length}. Shorten it to save.` : null;
}

/** The Label field's "n/80" counter and, past 80, the message that blocks Save. */
export function updateLabelCount(form) {
  const length = form.elements.label.value.length;
  const count = form.querySelector('[data-role="label-count"]');
  count.textContent = `${length}/${LABEL_MAX}`;
  count.classList.toggle("over", length > LABEL_MAX);
  const error = form.querySelector("#provider-label-error");
  const tooLong = length > LABEL_MAX;
  if (tooLong) {
    error.textContent = labelTooLong(length);
    form.elements.label.setAttribute("aria-invalid", "true");
  } else if (error.dataset.kind === "length") {
    error.textContent = "";
    form.elements.label.removeAttribute("aria-invalid");
  }
  error.dataset.kind = tooLong ? "length" : "";
  error.hidden = !error.textContent;
}

// ---- the gentle key-prefix hint (user guide, "Step 3d — Paste the API Key") ------------------

// Prefixes that are not themselves extended by another of the same list: sk-proj- is an sk- key.
function shortestPrefixes(prefixes) {
  return prefixes.filter((p) => !prefixes.some((q) => q !== p && p.startsWith(q)));
}

/**
 * A warning sentence when `key` looks like another provider's key, else null. It never blocks:
 * prefixes change, and some providers issue several kinds of keys.
 */
export function keyPrefixWarning(provider, key, allProviders) {
  const prefixes = provider.key_prefixes || [];
  if (!key || prefixes.length === 0) return null;
  const own = Math.max(-1, ...prefixes.filter((p) => key.startsWith(p)).map((p) => p.length));
  // An sk-ant- key starts with OpenAI's sk- too; the longer match elsewhere tells them apart.
  const elsewhere = Math.max(-1, ...allProviders.filter((p) => p.id !== provider.id)
    .flatMap((p) => p.key_prefixes || []).filter((p) => key.startsWith(p)).map((p) => p.length));
  if (own >= 0 && own >= elsewhere) return null;
  const shown = shortestPrefixes(prefixes).map((p) => `${p}…`).join(" or ");
  const article = /^[AEIOUaeioux]/.test(provider.name) ? "an" : "a";  // "an OpenAI", "an xAI", "a Groq"
  return `This doesn't look like ${article} ${provider.name} key (they start with ${shown}). Check you copied the right one.`;
}

// ---- custom headers for E2E bundles ------------------------------------------------------------

/**
 * Parse Custom Headers (`key: value` lines or a JSON object) into {name: value}, with the
 * server's wording. E2E saves need this: the header values are sealed in the browser and only
 * their names reach the server. Throws Error with .field = "headers".
 */
export function parseHeaders(text) {
  const fail = (message) => Object.assign(new Error(message), { field: "headers" });
  const trimmed = (text || "").trim();
  if (!trimmed) return {};
  let entries;
  if (trimmed.startsWith("{")) {
    let obj;
    try {
      obj = JSON.parse(trimmed);
    } catch (error) {
      throw fail(`Custom Headers: the JSON object is not valid JSON (${error.message}).`);
    }
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw fail("Custom Headers: expected a JSON object.");
    entries = Object.entries(obj).map(([k, v]) => [null, k, v]);
  } else {
    entries = [];
    trimmed.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith("#")) return;
      const at = line.indexOf(":");
      if (at <= 0) throw fail(`Custom Headers, line ${i + 1}: expected \`key: value\`.`);
      entries.push([i + 1, line.slice(0, at).trim(), line.slice(at + 1).trim()]);
    });
  }
  return checkHeaderEntries(entries, fail);
}

// The same words as the server's providers/options.py reserved_header_advice.
const AUTH_HEADERS = new Set(["authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key", "cookie"]);
function reservedAdvice(lower) {
  if (lower === "host") return "requests go to the Base URL's host; to reach another server, change the Base URL instead";
  if (lower === "openai-organization") return "use the Organization ID field under Advanced instead";
  if (AUTH_HEADERS.has(lower)) return "put the key in the API Key field instead";
  return "the HTTP client sets it for every request";
}

function checkHeaderEntries(entries, fail) {
  const result = {};
  const seen = new Set();
  for (const [line, name, value] of entries) {
    const where = line ? `Custom Headers, line ${line} (${name})` : `Custom Headers, '${name}'`;
    if (!HEADER_NAME.test(name)) throw fail(`${where}: not a valid header name.`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw fail(`${where}: ${name} is set by RoleCall and can't be overridden (${reservedAdvice(name.toLowerCase())}).`);
    }
    if (seen.has(name.toLowerCase())) throw fail(`${where}: this header appears twice.`);
    if (typeof value !== "string" && typeof value !== "number") throw fail(`${where}: the value must be text.`);
    const text = String(value).trim();
    if (!PRINTABLE.test(text)) throw fail(`${where}: the value contains a line break, control or non-ASCII character.`);
    seen.add(name.toLowerCase());
    result[name] = text;
  }
  return result;
}

/** {name: value} back to the `key: value` lines the API's `headers` text takes. */
export function headerLines(headers) {
  return Object.entries(headers || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
}
