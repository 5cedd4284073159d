// Settings → API Keys → End-to-End Encryption: set-up (show the words once, type them back),
// unlock on a new device, remember/forget this device, change the recovery phrase.
// The phrase and everything derived from it stay in this page: only the salt, the wrapped user
// data key and re-encrypted credentials are sent (docs/security.md,
// "End-to-end key hierarchy" and "Phrase change and reset").

import { api } from "./app.js";
import * as bip39 from "./bip39.js";
import * as vault from "./vault.js";
import * as keystore from "./keystore.js";
import { showText } from "./dom.js";

export const KEYSTORE_DB = "rolecall-vault";
const WORDLIST_URL = "/assets/bip39-english.txt";

const card = document.getElementById("encryption");
const state = { userId: card?.dataset.accountId, udk: null, gen: null, words: null, mode: "setup", remembered: false };
let wordlistPromise = null;

function wordlist() {
  wordlistPromise ??= bip39.loadWordlist(WORDLIST_URL);
  return wordlistPromise;
}

const $ = (selector) => card.querySelector(selector);

function showStep(name) {
  for (const step of card.querySelectorAll("[data-step]")) step.hidden = step.dataset.step !== name;
}

const say = (role, message) => showText(card, role, message);

function setActive(active) {
  card.dataset.status = active ? "active" : "not_set_up";
  const pill = card.querySelector('[data-testid="encryption-status"]');
  pill.textContent = active ? "Active" : "Not set up";
  pill.className = `pill ${active ? "pill--green" : "pill--grey"}`;
  document.querySelector('[data-byok="setup-first"]').hidden = active;
  document.querySelector('[data-byok="ready"]').hidden = !active;
}

function setUnlocked(udk, gen, remembered) {
  Object.assign(state, { udk, gen, remembered });
  $('[data-role="remembered"]').hidden = !remembered;
  showStep("unlocked");
  document.dispatchEvent(new CustomEvent("vault:unlocked"));
}

/** The unlocked vault for other modules on this page ({udk, gen, userId}), or null. */
export function unlockedVault() {
  return state.udk ? { udk: state.udk, gen: state.gen, userId: state.userId } : null;
}

// ---- set-up and phrase change: show the words, then type them back ----------------------------

async function showNewWords(mode) {
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

async function confirmTypedWords(event) {
  event.preventDefault();
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
    if (state.mode === "setup") await finishSetup(phrase);
    else await finishPhraseChange(phrase);
  } catch (error) {
    say("confirm-error", error.message);
  }
}

async function finishSetup(phrase) {
  const made = await vault.setupVault(phrase, state.userId);
  await api("/api/encryption/setup", {
    method: "POST", body: { kdf_salt: made.kdfSalt, udk_gen: made.udkGen, wrapped_udk: made.wrappedUdk },
  });
  state.words = null;
  setActive(true);
  setUnlocked(made.udk, made.udkGen, false);
  say("notice", "Encryption is active. You can now add provider keys below.");
}

async function finishPhraseChange(phrase) {
  const stored = await api("/api/encryption/credentials");
  const configs = stored.map((c) => ({
    configId: c.config_id, providerId: c.provider_id, destOrigin: c.dest_origin, envelope: c.credential,
  }));
  const made = await vault.rotateVault(state.udk, state.gen, phrase, state.userId, configs);
  await api("/api/encryption/change-phrase", {
    method: "POST",
    body: { previous_gen: state.gen, kdf_salt: made.kdfSalt, udk_gen: made.udkGen, wrapped_udk: made.wrappedUdk, credentials: made.envelopes },
  });
  state.words = null;
  if (state.remembered) await keystore.rememberKey(KEYSTORE_DB, state.userId, made.udk, made.udkGen);
  setUnlocked(made.udk, made.udkGen, state.remembered);
  say("notice", "Your recovery phrase was changed. Use the new words from now on; the old ones no longer unlock anything.");
}

// ---- unlock on this device --------------------------------------------------------------------

function phraseProblem(problems) {
  const unknown = problems.filter((p) => p.kind === "unknown_word");
  if (unknown.length) {
    const p = unknown[0];
    return `Word ${p.position}, “${p.word}”, is not in the recovery word list. Check its spelling.`;
  }
  const count = problems.find((p) => p.kind === "wrong_count");
  if (count) return `A recovery phrase has 12 words; you entered ${count.actual}.`;
  return "These 12 words don't form a valid recovery phrase. Check for a typo or two words swapped.";
}

async function unlock(event) {
  event.preventDefault();
  say("unlock-error", null);
  const checked = await bip39.checkPhrase($('[data-role="phrase"]').value, await wordlist());
  if (!checked.ok) {
    say("unlock-error", phraseProblem(checked.problems));
    return;
  }
  const record = await api("/api/encryption");
  let udk;
  try {
    udk = await vault.unlockVault(checked.phrase, { kdfSalt: record.kdf_salt, wrappedUdk: record.wrapped_udk }, state.userId);
  } catch (error) {
    if (error instanceof vault.WrongPhraseError) {
      say("unlock-error", "This phrase doesn't match your account. Check that it is the latest one you wrote down.");
      return;
    }
    throw error;
  }
  const remember = $('[data-role="remember"]').checked;
  if (remember) await keystore.rememberKey(KEYSTORE_DB, state.userId, udk, record.udk_gen);
  $('[data-role="phrase"]').value = "";
  setUnlocked(udk, record.udk_gen, remember);
}

async function forgetDevice() {
  await keystore.forgetKey(KEYSTORE_DB, state.userId);
  Object.assign(state, { udk: null, gen: null, remembered: false });
  document.dispatchEvent(new CustomEvent("vault:locked"));
  showStep("locked");
  say("notice", "This browser no longer holds your key.");
}

async function restoreRemembered() {
  if (card.dataset.status !== "active") return;
  const remembered = await keystore.recallKey(KEYSTORE_DB, state.userId).catch(() => null);
  if (!remembered) return;
  const record = await api("/api/encryption");
  if (remembered.gen === record.udk_gen) setUnlocked(remembered.key, remembered.gen, true);
  else await keystore.forgetKey(KEYSTORE_DB, state.userId);  // the phrase changed elsewhere
}

function wire() {
  if (!card) return;
  if (!vault.isAvailable()) {
    say("notice", "This browser cannot run the encryption (it needs a secure https:// page and WebCrypto).");
    return;
  }
  card.addEventListener("click", (event) => {
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
  $('[data-role="inputs"]').addEventListener("input", (e) => suggest(e.target));
  $('[data-role="inputs"]').addEventListener("focusout", (e) => complete(e.target));
  $('[data-step="confirm"]').addEventListener("submit", confirmTypedWords);
  $('[data-step="locked"]').addEventListener("submit", (e) => unlock(e).catch((err) => say("unlock-error", err.message)));
  restoreRemembered();
}

wire();
