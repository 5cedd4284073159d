// Settings → API Keys → End-to-End Encryption: set-up (show the words once, type them back),
// unlock on a new device, remember/forget this device, change the recovery phrase.
// The phrase and everything derived from it stay in this page: only the salt, the wrapped user
// data key and re-encrypted credentials are sent (docs/security.md,
// "End-to-end key hierarchy" and "Phrase change and reset").

// The unlocked key itself lives in vault_session.js (shared with the scene page); this module is
// the card's DOM.

import { api } from "./app.js";
import * as bip39 from "./bip39.js";
import * as vault from "./vault.js";
import * as session from "./vault_session.js";

const card = document.getElementById("encryption");
const state = { userId: card?.dataset.accountId, words: null, mode: "setup", step: null, notice: null };
const wordlist = session.wordlist;

const $ = (selector) => card.querySelector(selector);

// `data-state` on the card says which step shows, or "working" while a slow step runs: pages and
// tests wait on it instead of guessing how long key derivation takes on a busy machine.
function showStep(name) {
  state.step = name;
  for (const step of card.querySelectorAll("[data-step]")) step.hidden = step.dataset.step !== name;
  if (card.dataset.state !== "working") card.dataset.state = name;
}

const busy = () => card.dataset.state === "working";

/** Run a slow step: other actions wait (busy()), a status line says what is happening. */
async function working(message, task) {
  card.dataset.state = "working";
  card.setAttribute("aria-busy", "true");
  const progress = (text) => say("progress", text);
  progress(message);
  try {
    return await task(progress);
  } finally {
    progress(null);
    card.removeAttribute("aria-busy");
    card.dataset.state = state.step ?? "idle";
  }
}

function say(role, message) {
  const el = $(`[data-role="${role}"]`);
  el.textContent = message ?? "";
  el.hidden = !message;
  if (role === "notice") state.notice = null;
}

function setActive(active) {
  card.dataset.status = active ? "active" : "not_set_up";
  const pill = card.querySelector('[data-testid="encryption-status"]');
  pill.textContent = active ? "Active" : "Not set up";
  pill.className = `pill ${active ? "pill--green" : "pill--grey"}`;
  document.querySelector('[data-byok="setup-first"]').hidden = active;
  document.querySelector('[data-byok="ready"]').hidden = !active;
}

function showUnlocked() {
  $('[data-role="remembered"]').hidden = !session.unlocked()?.remembered;
  showStep("unlocked");
}

function setUnlocked(udk, gen, remembered) {
  session.hold(udk, gen, state.userId, remembered);
  showUnlocked();
}

/** The unlocked vault for other modules on this page ({udk, gen, userId}), or null. */
export function unlockedVault() {
  return session.unlocked();
}

// ---- set-up and phrase change: show the words, then type them back ----------------------------

function showNewWords(mode) {
  return working("Making your 12 words…", () => makeNewWords(mode));
}

async function makeNewWords(mode) {
  state.mode = mode;
  state.words = await bip39.generatePhrase(await wordlist());
  const list = $('[data-role="words"]');
  list.replaceChildren(...state.words.map((word) => Object.assign(document.createElement("li"), { textContent: word })));
  $('[data-role="written"]').checked = false;
  $('[data-action="to-confirm"]').disabled = true;
  say("notice", null);
  showStep("show");
}

function showTypeBack() {
  const inputs = $('[data-role="inputs"]');
  inputs.replaceChildren(...state.words.map((_, i) => {
    const item = document.createElement("li");
    const input = Object.assign(document.createElement("input"), {
      autocomplete: "off", autocapitalize: "off", spellcheck: false, required: true,
    });
    input.setAttribute("aria-label", `Word ${i + 1}`);
    input.setAttribute("list", "bip39-suggestions");
    item.append(input);
    return item;
  }));
  say("confirm-error", null);
  showStep("confirm");
  inputs.querySelector("input").focus();
}

// Pasting (or typing) several words into one box spreads them over that box and the ones after it.
function spreadWords(input) {
  const words = input.value.trim().split(/\s+/).filter(Boolean);
  if (words.length < 2) return false;
  const boxes = [...$('[data-role="inputs"]').querySelectorAll("input")];
  const start = boxes.indexOf(input);
  words.slice(0, boxes.length - start).forEach((word, i) => { boxes[start + i].value = word.toLowerCase(); });
  const last = boxes[Math.min(start + words.length, boxes.length) - 1];
  const next = boxes[start + words.length];
  (next && !next.value ? next : last).focus();
  return true;
}

async function suggest(input) {
  const matches = bip39.completeWord(input.value, await wordlist(), { limit: 8 });
  $("#bip39-suggestions").replaceChildren(...matches.map((w) => Object.assign(document.createElement("option"), { value: w })));
}

async function complete(input) {
  const value = input.value.trim().toLowerCase();
  if (value.length < 4) return;
  const matches = bip39.completeWord(value, await wordlist(), { limit: 2 });
  if (matches.length === 1) input.value = matches[0];
}

function wrongWordsMessage(positions) {
  if (positions.length === 1) return `Word ${positions[0]} doesn't match what was shown. Check it and try again.`;
  const list = positions.slice(0, -1).join(", ") + " and " + positions.at(-1);
  return `Words ${list} don't match what was shown. Check them and try again.`;
}

function confirmTypedWords(event) {
  event.preventDefault();
  if (busy()) return null;
  return working("Checking your words…", checkTypedWords);
}

async function checkTypedWords(progress) {
  const inputs = [...$('[data-role="inputs"]').querySelectorAll("input")];
  await Promise.all(inputs.map(complete));
  const wrong = [];
  inputs.forEach((input, i) => {
    const ok = input.value.trim().toLowerCase() === state.words[i];
    input.setAttribute("aria-invalid", String(!ok));
    if (!ok) wrong.push(i + 1);
  });
  if (wrong.length) {
    say("confirm-error", wrongWordsMessage(wrong));
    inputs[wrong[0] - 1].focus();
    return;
  }
  const phrase = state.words.join(" ");
  try {
    if (state.mode === "setup") await finishSetup(phrase, progress);
    else await finishPhraseChange(phrase, progress);
  } catch (error) {
    say("confirm-error", error.message);
  }
}

async function finishSetup(phrase, progress) {
  progress("Deriving your encryption key from the phrase…");
  const made = await vault.setupVault(phrase, state.userId);
  progress("Saving the encrypted key record…");
  await api("/api/encryption/setup", {
    method: "POST", body: { kdf_salt: made.kdfSalt, udk_gen: made.udkGen, wrapped_udk: made.wrappedUdk },
  });
  state.words = null;
  setActive(true);
  setUnlocked(made.udk, made.udkGen, false);
  say("notice", "Encryption is active. You can now add provider keys below.");
  state.notice = "setup";  // hidden again once a provider exists
}

async function finishPhraseChange(phrase, progress) {
  progress("Reading your stored keys…");
  const stored = await api("/api/encryption/credentials");
  const configs = stored.map((c) => ({
    configId: c.config_id, providerId: c.provider_id, destOrigin: c.dest_origin, envelope: c.credential,
  }));
  const held = session.unlocked();
  progress(`Re-encrypting ${configs.length} stored key${configs.length === 1 ? "" : "s"} with the new phrase…`);
  const made = await vault.rotateVault(held.udk, held.gen, phrase, state.userId, configs);
  progress("Saving…");
  await api("/api/encryption/change-phrase", {
    method: "POST",
    body: { previous_gen: held.gen, kdf_salt: made.kdfSalt, udk_gen: made.udkGen, wrapped_udk: made.wrappedUdk, credentials: made.envelopes },
  });
  state.words = null;
  if (held.remembered) await session.rememberAgain(made.udk, made.udkGen, state.userId);
  setUnlocked(made.udk, made.udkGen, held.remembered);
  say("notice", "Your recovery phrase was changed. Use the new words from now on; the old ones no longer unlock anything.");
}

// ---- unlock on this device --------------------------------------------------------------------

function unlock(event) {
  event.preventDefault();
  if (busy()) return null;
  return working("Deriving your key from the phrase…", unlockWith).catch((err) => say("unlock-error", err.message));
}

async function unlockWith() {
  say("unlock-error", null);
  try {
    await session.unlockWithPhrase($('[data-role="phrase"]').value, state.userId, { remember: $('[data-role="remember"]').checked });
  } catch (error) {
    if (error instanceof session.UnlockError) {
      say("unlock-error", error.message);
      return;
    }
    throw error;
  }
  $('[data-role="phrase"]').value = "";
  showUnlocked();
}

async function forgetDevice() {
  await session.forget();
  showStep("locked");
  say("notice", "This browser no longer holds your key.");
}

async function restoreRemembered() {
  if (card.dataset.status !== "active") return;
  await working("Looking for a key this browser remembers…", async () => {
    if (await session.restore(state.userId)) showUnlocked();
  });
}

function wire() {
  if (!card) return;
  if (!vault.isAvailable()) {
    card.dataset.state = "unavailable";
    say("notice", "This browser cannot run the encryption (it needs a secure https:// page and WebCrypto).");
    return;
  }
  card.addEventListener("click", (event) => {
    if (busy()) return;
    const action = event.target.closest("[data-action]")?.dataset.action;
    const handlers = {
      "start-setup": () => showNewWords("setup"),
      "change-phrase": () => showNewWords("change"),
      "to-confirm": showTypeBack,
      "back-to-words": () => showStep("show"),
      cancel: () => showStep(state.mode === "setup" ? "intro" : "unlocked"),
      forget: forgetDevice,
    };
    handlers[action]?.();
  });
  $('[data-role="written"]').addEventListener("change", (e) => { $('[data-action="to-confirm"]').disabled = !e.target.checked; });
  $('[data-role="inputs"]').addEventListener("input", (e) => { if (!spreadWords(e.target)) suggest(e.target); });
  $('[data-role="inputs"]').addEventListener("focusout", (e) => complete(e.target));
  $('[data-step="confirm"]').addEventListener("submit", confirmTypedWords);
  $('[data-step="locked"]').addEventListener("submit", unlock);
  // The setup notice has done its job once a provider exists (provider_list.js says how many).
  document.addEventListener("providers:loaded", (e) => { if (e.detail.count && state.notice === "setup") say("notice", null); });
  showStep([...card.querySelectorAll("[data-step]")].find((step) => !step.hidden)?.dataset.step ?? "intro");
  restoreRemembered();
}

wire();
