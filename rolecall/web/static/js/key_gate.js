// The composer's gate for End-to-End keys: before a generation on an E2E config, the key is
// opened in this browser (vault_session.js) and handed over with that one request. A locked vault
// asks for the recovery phrase in the panel above the composer, then runs what was waiting.

import * as session from "./vault_session.js";

export class NeedsUnlock extends Error {}

/**
 * opts: {root: the scene element, userId, configs(): Promise<Map id -> config>,
 *   go(action): run the action that waited for the phrase, cancelled(action)}
 */
export function createKeyGate(opts) {
  const $ = (role) => opts.root.querySelector(`[data-role="${role}"]`);
  let pending = null;

  /** {api_key, headers} for the model's config, undefined when the server holds the key. */
  async function keyFor(model) {
    if (model?.privacy_mode !== "e2e") return undefined;
    if (!session.unlocked()) await session.restore(opts.userId).catch(() => false);
    if (!session.unlocked()) throw new NeedsUnlock();
    const config = (await opts.configs()).get(model.section);
    if (!config) throw new Error("This scene's provider config no longer exists. Pick another model in the AI wing.");
    return session.openCredential(config);
  }

  /** {config id: key} for more End-to-End configs (the preset's fallback slots), only when this
   * browser is unlocked already: a fallback never asks for the phrase, it is skipped instead. */
  async function moreKeys(models) {
    const wanted = models.filter((m) => m?.privacy_mode === "e2e");
    if (!wanted.length) return {};
    if (!session.unlocked()) await session.restore(opts.userId).catch(() => false);
    if (!session.unlocked()) return {};
    const configs = await opts.configs();
    const keys = {};
    for (const model of wanted) {
      const config = configs.get(model.section);
      if (config && !(model.section in keys)) keys[model.section] = await session.openCredential(config).catch(() => undefined);
    }
    return Object.fromEntries(Object.entries(keys).filter(([, key]) => key));
  }

  function ask(action) {
    pending = action;
    $("unlock").hidden = false;
    opts.root.dataset.needsUnlock = "true";
    $("unlock-error").hidden = true;
    $("phrase").focus();
  }

  function close() {
    $("unlock").hidden = true;
    delete opts.root.dataset.needsUnlock;
    const action = pending;
    pending = null;
    return action;
  }

  async function unlock() {
    const error = $("unlock-error");
    error.hidden = true;
    try {
      await session.unlockWithPhrase($("phrase").value, opts.userId, { remember: $("remember").checked });
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
      return;
    }
    $("phrase").value = "";
    const action = close();
    if (action) opts.go(action);
  }

  opts.root.querySelector('[data-action="unlock"]').addEventListener("click", unlock);
  opts.root.querySelector('[data-action="cancel-unlock"]').addEventListener("click", () => {
    const action = close();
    if (action) opts.cancelled(action);
  });
  $("phrase").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); unlock(); }
  });

  return { keyFor, moreKeys, ask, dismiss: () => { if (opts.root.dataset.needsUnlock) close(); } };
}
