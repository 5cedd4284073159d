// The unlocked vault of this page: the user data key (UDK) in memory, "remember on this device",
// unlock by recovery phrase, and opening an End-to-End credential for one foreground request.
// No DOM on import: Settings (encryption.js, provider_list.js) and the scene page share this one
// instance (module scripts load without a version query, so the URL, and the state, is the same).
// The phrase and everything derived from it stay in this page (docs/security.md).

import * as bip39 from "./bip39.js";
import * as vault from "./vault.js";
import * as keystore from "./keystore.js";

export const KEYSTORE_DB = "rolecall-vault";
const WORDLIST_URL = "/assets/bip39-english.txt";

const state = { udk: null, gen: null, userId: null, remembered: false };
let wordlistPromise = null;

/** The BIP39 English word list (fetched once, checked against its pinned SHA-256). */
export function wordlist() {
  wordlistPromise ??= bip39.loadWordlist(WORDLIST_URL);
  return wordlistPromise;
}

function announce(name) {
  // Listeners (cards, the AI wing, the composer) re-read the state; the event carries nothing.
  document.dispatchEvent(new CustomEvent(name));
}

/** {udk, gen, userId, remembered} while unlocked on this page, else null. */
export function unlocked() {
  return state.udk ? { udk: state.udk, gen: state.gen, userId: state.userId, remembered: state.remembered } : null;
}

/** Hold an unlocked key (after set-up, unlock or a phrase change) and tell the page. */
export function hold(udk, gen, userId, remembered) {
  Object.assign(state, { udk, gen, userId, remembered });
  announce("vault:unlocked");
}

/** The account's key record: {status, account_id, kdf_salt, udk_gen, wrapped_udk}. */
export async function keyRecord() {
  // A plain GET (no CSRF header needed), so this module imports nothing that touches the page.
  const response = await fetch("/api/encryption", { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`Couldn't read your encryption record (${response.status}).`);
  return response.json();
}

/** Restore a key this browser remembers, if it still matches the account's generation. */
export async function restore(userId) {
  if (state.udk) return true;
  const remembered = await keystore.recallKey(KEYSTORE_DB, userId).catch(() => null);
  if (!remembered) return false;
  const record = await keyRecord();
  if (record.status === "active" && remembered.gen === record.udk_gen) {
    hold(remembered.key, remembered.gen, userId, true);
    return true;
  }
  await keystore.forgetKey(KEYSTORE_DB, userId);  // the phrase changed elsewhere
  return false;
}

/** Why a typed phrase is not a phrase, in words a person can act on. */
export function phraseProblem(problems) {
  const unknown = problems.filter((p) => p.kind === "unknown_word");
  if (unknown.length) {
    const p = unknown[0];
    return `Word ${p.position}, “${p.word}”, is not in the recovery word list. Check its spelling.`;
  }
  const count = problems.find((p) => p.kind === "wrong_count");
  if (count) return `A recovery phrase has 12 words; you entered ${count.actual}.`;
  return "These 12 words don't form a valid recovery phrase. Check for a typo or two words swapped.";
}

export class UnlockError extends Error {}

/** Unlock with the recovery phrase; throws UnlockError with the message to show. */
export async function unlockWithPhrase(text, userId, { remember = false } = {}) {
  const checked = await bip39.checkPhrase(text, await wordlist());
  if (!checked.ok) throw new UnlockError(phraseProblem(checked.problems));
  const record = await keyRecord();
  if (record.status !== "active") throw new UnlockError("End-to-end encryption is not set up on this account.");
  let udk;
  try {
    udk = await vault.unlockVault(checked.phrase, { kdfSalt: record.kdf_salt, wrappedUdk: record.wrapped_udk }, userId);
  } catch (error) {
    if (error instanceof vault.WrongPhraseError) {
      throw new UnlockError("This phrase doesn't match your account. Check that it is the latest one you wrote down.");
    }
    throw error;
  }
  if (remember) await keystore.rememberKey(KEYSTORE_DB, userId, udk, record.udk_gen);
  hold(udk, record.udk_gen, userId, remember);
  return unlocked();
}

/** Keep the current key remembered after a phrase change (new generation). */
export async function rememberAgain(udk, gen, userId) {
  await keystore.rememberKey(KEYSTORE_DB, userId, udk, gen);
}

/** Lock this page and forget the key this browser remembers. */
export async function forget() {
  if (state.userId) await keystore.forgetKey(KEYSTORE_DB, state.userId);
  Object.assign(state, { udk: null, gen: null, remembered: false });
  announce("vault:locked");
}

export class KeyUnavailable extends Error {}

/**
 * Open an E2E config's sealed credential ({id, provider_id, dest_origin, credential}) with the
 * unlocked key: {api_key, headers} as the server's one-request `key` body expects. Throws
 * KeyUnavailable when the vault is locked, vault.DecryptError when the envelope is not ours.
 */
export async function openCredential(config) {
  const held = unlocked();
  if (!held) throw new KeyUnavailable("Unlock end-to-end encryption to use this key.");
  if (!config.credential) return { api_key: null, headers: {} };
  const bundle = await vault.openBundle(held.udk, config.credential, {
    userId: held.userId, configId: config.id, providerId: config.provider_id, destOrigin: config.dest_origin,
  });
  return { api_key: bundle.api_key ?? null, headers: bundle.headers ?? {} };
}
