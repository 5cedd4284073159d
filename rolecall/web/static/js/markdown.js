// Markdown in character replies, rendered safely: marked parses it with raw HTML turned into
// plain text, then DOMPurify (allow-list, no <img>, no forms, no styles) cleans what marked
// produced, as a second wall. Both are vendored from npm with their version in the file name
// (docs/decisions.md, "Issue 11"). No DOM on import.

import { Marked } from "./vendor/marked-18.2.1.esm.js";
import DOMPurify from "./vendor/purify-3.5.0.es.js";

const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

const marked = new Marked({
  gfm: true,
  breaks: true,  // a chat reply's single newlines are meant as line breaks
  renderer: {
    // Raw HTML in a reply is shown as the text it is, never parsed.
    html({ text }) { return escapeHtml(text); },
    // Remote images would be tracking pixels (and the CSP refuses them): show the link instead.
    image({ href, text }) { return `<a href="${escapeHtml(href || "")}">${escapeHtml(text || href || "image")}</a>`; },
    // A "# Title" in a reply must not become a page heading (the page's outline stays ours).
    heading({ tokens }) { return `<p><strong>${this.parser.parseInline(tokens)}</strong></p>\n`; },
  },
});

const PURIFY = {
  ALLOWED_TAGS: ["p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr", "table", "thead", "tbody", "tr", "th", "td", "span"],
  ALLOWED_ATTR: ["href", "title", "start", "align"],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
  RETURN_DOM_FRAGMENT: true,
};

let hooked = false;

/** Markdown text -> a sanitized DocumentFragment (links open in a new tab, no referrer). */
export function renderMarkdown(text) {
  if (!hooked) {
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    });
    hooked = true;
  }
  const html = marked.parse(text || "", { async: false });
  return DOMPurify.sanitize(html, { ...PURIFY, ADD_ATTR: ["target", "rel"] });
}
