// How a provider config's status and a key test's answer look, the same on the cards
// (provider_list.js) and in the Add/Edit Provider modal (provider_form.js); and the modal's
// "Discard what you typed?" question.

export const MODE_NAMES = { e2e: "End-to-End Encryption", srv: "Server-Accessible" };
const PILL = {
  valid: ["Valid", "pill--green"], invalid: ["Invalid", "pill--red"],
  unchecked: ["Couldn't check", "pill--grey"], untested: ["Untested", "pill--grey"],
};

/** A status pill: the same look on cards and in the modal. */
export function pill(status) {
  const [text, tone] = PILL[status] ?? PILL.untested;
  return Object.assign(document.createElement("span"), { className: `pill ${tone}`, textContent: text });
}

/** Render a test answer ({status, headline, explanation, ...}) into `box`. */
export function showResult(box, result) {
  const parts = [pill(result.status)];
  let text = result.explanation || "";
  // Some explanations already open with their headline ("Destination not allowed: …"): say it once.
  if (result.headline && result.headline !== PILL[result.status]?.[0] && !text.startsWith(result.headline)) {
    parts.push(Object.assign(document.createElement("strong"), { textContent: result.headline }));
  }
  if (result.status === "valid" && result.models_count) text += ` ${result.models_count} models found.`;
  if (result.status === "unchecked") text += " Your saved status is unchanged.";
  if (result.retry_after) text += ` The provider asks to wait ${Math.ceil(result.retry_after)} s.`;
  parts.push(Object.assign(document.createElement("p"), { textContent: text.trim() }));
  box.className = `test-result test-result--${result.status}`;
  box.replaceChildren(...parts);
  box.hidden = false;
}

/**
 * Esc, the close button and Cancel (`[data-action="close-modal"]`) close `dialog` at once when
 * nothing was typed (`dirty()` false); otherwise `ask` (the "Discard what you typed?" dialog)
 * opens with "Keep editing" focused. Nothing closes while `busy()`.
 */
export function askBeforeClosing(dialog, ask, { busy, dirty }) {
  const requestClose = () => {
    if (busy()) return;
    if (!dirty()) {
      dialog.close();
      return;
    }
    ask.showModal();
    ask.querySelector('[data-action="keep-editing"]').focus();
  };
  for (const b of dialog.querySelectorAll('[data-action="close-modal"]')) b.addEventListener("click", requestClose);
  // The browser would close the dialog on Esc at once.
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    requestClose();
  });
  ask.querySelector('[data-action="keep-editing"]').addEventListener("click", () => ask.close());
  ask.querySelector('[data-action="discard"]').addEventListener("click", () => {
    ask.close();
    dialog.close();
  });
}
