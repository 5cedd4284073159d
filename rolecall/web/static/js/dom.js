// dom.js: the one small DOM helper the page modules share. No state, no work on import.

/** A new element with properties assigned (`textContent`, `className`, `onclick`, …) and the
 * non-null children appended (nodes or strings). */
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}
