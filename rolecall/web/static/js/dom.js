// dom.js: the small DOM helpers the page modules share. No state, no work on import.

/** A new element with properties assigned (`textContent`, `className`, `onclick`, …) and the
 * non-null children appended (nodes or strings). */
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** Show `text` in the `[data-role=role]` element inside `scope`; no text hides the element. */
export function showText(scope, role, text) {
  const node = scope.querySelector(`[data-role="${role}"]`);
  node.textContent = text ?? "";
  node.hidden = !text;
}
