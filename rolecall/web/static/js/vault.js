// vault.js: the browser half of RoleCall's End-to-End key vault. ES module, WebCrypto only,
// no DOM, no fetch, no storage (IndexedDB lives in keystore.js, words in bip39.js).
//
// Design: docs/security.md, "End-to-end key hierarchy" to "Associated data (binding)", suite "rc1":
//   12 words --PBKDF2-HMAC-SHA512("mnemonic", 2048 it.)--> BIP39 seed (64 B)
//   seed --HKDF-SHA256(salt = account kdf_salt [32 B], info "rolecall/v1/e2e/kek")--> KEK
//        (non-extractable, wrapKey/unwrapKey only)
//   KEK --AES-256-GCM, aad "rolecall/v1|e2e|udk|rc1.udk.<gen>|u=<user>"--> wrapped UDK
//   UDK --AES-256-GCM, aad "rolecall/v1|e2e|credential|rc1.e2e.<gen>|u=..|c=..|p=..|o=.."-->
//        credential envelope "rc1.e2e.<gen>.<nonce>.<ct||tag>"
//
// The Python module rolecall/crypto/e2e.py is the reference; tests/vectors/rc1_*.json are shared
// and checked by both (tests/crypto/test_browser_vault.py). Change a byte here and CI fails.
// Every crypto parameter is a constant in this file: the server supplies only a salt, ids and
// ciphertexts (never iterations, algorithms or key sizes), so it cannot downgrade us.

const te = new TextEncoder();
const td = new TextDecoder("utf-8", { fatal: true });

export const VERSION = "rc1";
export const AAD_PREFIX = "rolecall/v1";
export const KEK_INFO = "rolecall/v1/e2e/kek";
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const KDF_SALT_BYTES = 32;
export const MIN_CIPHERTEXT_BYTES = 1 + TAG_BYTES;
export const MAX_CIPHERTEXT_BYTES = 24 * 1024;
export const MAX_PLAINTEXT_BYTES = MAX_CIPHERTEXT_BYTES - TAG_BYTES;
export const WRAPPED_KEY_BYTES = KEY_BYTES + TAG_BYTES;
export const WRAPPED_DEK_BYTES = NONCE_BYTES + WRAPPED_KEY_BYTES;
export const MAX_ENVELOPE_CHARS = 256 + Math.floor((MAX_CIPHERTEXT_BYTES * 4 + 2) / 3);

// Same charsets as rolecall/crypto/aead.py: none admits "|", so AAD strings are unambiguous.
const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const PROVIDER_ID = /^[a-z0-9_-]{1,32}$/;
const ORIGIN = /^https?:\/\/(?:[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]{2,45}\])(?::([1-9][0-9]{0,4}))?$/;
const GEN = /^[1-9][0-9]{0,8}$/;
const KID = /^[A-Za-z0-9_-]{1,32}$/;
const B64URL = /^[A-Za-z0-9_-]*$/;
const PHRASE = /^[a-z]{3,8}(?: [a-z]{3,8}){11}$/;
const PARTS = { e2e: 5, udk: 5, srv: 6 };

// ---- errors: distinct names so the UI can tell "wrong phrase" from "broken data" -------------

export class VaultError extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}
/** The envelope text is malformed; refused before any decryption. */
export class EnvelopeError extends VaultError {}
/** An id, origin, generation or salt is not in its canonical form. */
export class ContextError extends VaultError {}
/** The tag did not verify: wrong key, or bound to another account/config/provider/origin. */
export class DecryptError extends VaultError {}
/** The phrase's KEK does not unwrap this account's UDK. */
export class WrongPhraseError extends DecryptError {
  constructor() {
    super("This phrase doesn't match your account.");
  }
}
/** crypto.subtle is missing: the page is not HTTPS (or localhost). */
export class InsecureContextError extends VaultError {
  constructor() {
    super("End-to-end encryption needs HTTPS or localhost.");
  }
}

/** True when WebCrypto is usable here (secure context); the UI shows why not otherwise. */
export function isAvailable() {
  return Boolean(globalThis.isSecureContext && globalThis.crypto && globalThis.crypto.subtle);
}

function subtle() {
  if (!isAvailable()) throw new InsecureContextError();
  return globalThis.crypto.subtle;
}

function gcm(iv, aad) {
  return { name: "AES-GCM", iv, additionalData: te.encode(aad), tagLength: 128 };
}

// ---- base64url (RFC 4648 §5, no padding, canonical only) ------------------------------------

export function b64urlEncode(bytes) {
  let bin = "";
  for (const b of new Uint8Array(bytes)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64urlDecode(text) {
  if (typeof text !== "string" || !B64URL.test(text) || text.length % 4 === 1) {
    throw new EnvelopeError("envelope part is not unpadded base64url");
  }
  const std = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  const bin = atob(std);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  // Non-zero trailing bits decode to the same bytes; one ciphertext must have one spelling.
  if (b64urlEncode(out) !== text) throw new EnvelopeError("envelope part is not canonical base64url");
  return out;
}

// ---- associated data ------------------------------------------------------------------------

function genText(gen) {
  if (!Number.isSafeInteger(gen) || !GEN.test(String(gen))) {
    throw new ContextError("udk_gen must be a positive integer");
  }
  return String(gen);
}

function checkId(name, value) {
  if (typeof value !== "string" || !ID.test(value)) throw new ContextError(`${name} is not in its canonical form`);
}

/** Validate {userId, configId, providerId, destOrigin} (destOrigin exactly as the server stored it). */
export function checkBinding(ctx) {
  if (!ctx || typeof ctx !== "object") throw new ContextError("a binding context is required");
  checkId("userId", ctx.userId);
  checkId("configId", ctx.configId);
  if (typeof ctx.providerId !== "string" || !PROVIDER_ID.test(ctx.providerId)) {
    throw new ContextError("providerId is not in its canonical form");
  }
  const m = typeof ctx.destOrigin === "string" ? ORIGIN.exec(ctx.destOrigin) : null;
  if (!m || (m[1] !== undefined && Number(m[1]) > 65535)) {
    throw new ContextError("destOrigin is not in its canonical form");
  }
  return ctx;
}

/** "rolecall/v1|e2e|udk|rc1.udk.<gen>|u=<user>" */
export function udkAad(gen, userId) {
  checkId("userId", userId);
  return `${AAD_PREFIX}|e2e|udk|${VERSION}.udk.${genText(gen)}|u=${userId}`;
}

/** "rolecall/v1|<mode>|credential|<header>|u=..|c=..|p=..|o=.." with header rc1.e2e.<gen> or rc1.srv */
export function credentialAad(mode, header, ctx) {
  const ok = mode === "e2e" ? /^rc1\.e2e\.[1-9][0-9]{0,8}$/.test(header) : mode === "srv" && header === "rc1.srv";
  if (!ok) throw new ContextError("header does not match the mode");
  const { userId, configId, providerId, destOrigin } = checkBinding(ctx);
  return `${AAD_PREFIX}|${mode}|credential|${header}|u=${userId}|c=${configId}|p=${providerId}|o=${destOrigin}`;
}

// ---- envelopes -------------------------------------------------------------------------------

/**
 * Strictly parse an rc1 envelope. Returns {version, mode, header, gen|kid, nonce, ciphertext,
 * wrappedDek?}. Pass expectedMode ("e2e" | "udk" | "srv") to refuse the other kinds.
 */
export function parseEnvelope(text, expectedMode) {
  if (typeof text !== "string") throw new EnvelopeError("envelope must be text");
  if (text.length > MAX_ENVELOPE_CHARS) throw new EnvelopeError("envelope is too long");
  if (!/^[\x00-\x7f]*$/.test(text)) throw new EnvelopeError("envelope must be ASCII");
  const parts = text.split(".");
  if (parts.length < 3) throw new EnvelopeError("not an envelope: expected rc1.<mode>.…");
  const [version, mode] = parts;
  if (version !== VERSION) throw new EnvelopeError("unsupported envelope version");
  if (!Object.hasOwn(PARTS, mode)) throw new EnvelopeError("unknown envelope mode");
  if (parts.length !== PARTS[mode]) {
    throw new EnvelopeError(`an ${mode} envelope has ${PARTS[mode]} parts, this one has ${parts.length}`);
  }
  if (expectedMode !== undefined && mode !== expectedMode) {
    throw new EnvelopeError(`expected an rc1.${expectedMode} envelope`);
  }
  if (mode === "srv") {
    const [, , kid, wrapped, nonce, ct] = parts;
    if (!KID.test(kid)) throw new EnvelopeError("key id must match [A-Za-z0-9_-]{1,32}");
    const env = { version, mode, kid, header: `${version}.srv.${kid}`, wrappedDek: b64urlDecode(wrapped) };
    if (env.wrappedDek.length !== WRAPPED_DEK_BYTES) throw new EnvelopeError("wrapped data key must be 60 bytes");
    return checkBody(env, nonce, ct);
  }
  const [, , gen, nonce, ct] = parts;
  if (!GEN.test(gen)) throw new EnvelopeError("generation must be a positive decimal without leading zeros");
  const env = checkBody({ version, mode, gen: Number(gen), header: `${version}.${mode}.${gen}` }, nonce, ct);
  if (mode === "udk" && env.ciphertext.length !== WRAPPED_KEY_BYTES) {
    throw new EnvelopeError("wrapped key must be 48 bytes");
  }
  return env;
}

function checkBody(env, nonceText, ctText) {
  env.nonce = b64urlDecode(nonceText);
  env.ciphertext = b64urlDecode(ctText);
  if (env.nonce.length !== NONCE_BYTES) throw new EnvelopeError("nonce must be 12 bytes");
  const n = env.ciphertext.length;
  if (n < MIN_CIPHERTEXT_BYTES || n > MAX_CIPHERTEXT_BYTES) {
    throw new EnvelopeError(`ciphertext must be ${MIN_CIPHERTEXT_BYTES}-${MAX_CIPHERTEXT_BYTES} bytes`);
  }
  return env;
}

function formatEnvelope(header, nonce, ct) {
  return `${header}.${b64urlEncode(nonce)}.${b64urlEncode(ct)}`;
}

function randomBytes(n) {
  subtle();
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

function saltBytes(kdfSalt) {
  const salt = typeof kdfSalt === "string" ? b64urlDecode(kdfSalt) : new Uint8Array(kdfSalt);
  if (salt.length !== KDF_SALT_BYTES) throw new ContextError("kdfSalt must be 32 bytes");
  return salt;
}

// ---- phrase → seed → KEK ---------------------------------------------------------------------

/** NFKD, lower case, trimmed, single spaces: what a person typed → what we derive from. */
export function normalizePhrase(text) {
  return String(text).normalize("NFKD").toLowerCase().split(/\s+/).filter(Boolean).join(" ");
}

/** The standard BIP39 seed (64 bytes). RoleCall uses passphrase ""; the official vectors use "TREZOR". */
export async function seedFromPhrase(phrase, passphrase = "") {
  const S = subtle();
  const pw = await S.importKey("raw", te.encode(String(phrase).normalize("NFKD")), "PBKDF2", false, ["deriveBits"]);
  const salt = te.encode("mnemonic" + String(passphrase).normalize("NFKD"));
  const bits = await S.deriveBits({ name: "PBKDF2", hash: "SHA-512", salt, iterations: 2048 }, pw, 512);
  return new Uint8Array(bits);
}

async function hkdfInput(phrase) {
  const words = normalizePhrase(phrase);
  // Words and checksum are checked earlier (bip39.js checkPhrase); here only the shape, so that
  // nothing but a 12-word phrase is ever fed into the derivation.
  if (!PHRASE.test(words)) throw new ContextError("a recovery phrase is 12 words of letters a-z");
  const seed = await seedFromPhrase(words);
  return subtle().importKey("raw", seed, "HKDF", false, ["deriveKey", "deriveBits"]);
}

function hkdfParams(kdfSalt) {
  return { name: "HKDF", hash: "SHA-256", salt: saltBytes(kdfSalt), info: te.encode(KEK_INFO) };
}

/** The KEK as a non-extractable AES-GCM key that can only wrap/unwrap. */
export async function kekFromPhrase(phrase, kdfSalt) {
  const params = hkdfParams(kdfSalt);
  const ikm = await hkdfInput(phrase);
  return subtle().deriveKey(params, ikm, { name: "AES-GCM", length: 256 }, false, ["wrapKey", "unwrapKey"]);
}

/** Test/vector helper: the KEK bytes. The app itself only ever uses kekFromPhrase. */
export async function deriveKekBits(phrase, kdfSalt) {
  const params = hkdfParams(kdfSalt);
  const ikm = await hkdfInput(phrase);
  return new Uint8Array(await subtle().deriveBits(params, ikm, 256));
}

// ---- the user data key (UDK) ------------------------------------------------------------------

/** A fresh UDK. Extractable only so it can be wrapped once; keep the handle from unlockUdk. */
export function createUdk() {
  return subtle().generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
}

/** Wrap the UDK under the KEK → "rc1.udk.<gen>.<nonce>.<ct>". */
export async function wrapUdk(kek, udk, gen, userId) {
  const aad = udkAad(gen, userId);
  const iv = randomBytes(NONCE_BYTES);
  const ct = await subtle().wrapKey("raw", udk, kek, gcm(iv, aad));
  return formatEnvelope(`${VERSION}.udk.${genText(gen)}`, iv, new Uint8Array(ct));
}

/** Unwrap as a NON-extractable key. A failed tag is a WrongPhraseError (the only verifier). */
export async function unlockUdk(kek, wrappedEnvelope, userId) {
  const env = parseEnvelope(wrappedEnvelope, "udk");
  const aad = udkAad(env.gen, userId);
  try {
    return await subtle().unwrapKey("raw", env.ciphertext, kek, gcm(env.nonce, aad), { name: "AES-GCM" }, false, [
      "encrypt",
      "decrypt",
    ]);
  } catch (err) {
    // OperationError = tag mismatch. Anything else (a KEK without unwrapKey, ...) is a bug: rethrow.
    if (err && err.name === "OperationError") throw new WrongPhraseError();
    throw err;
  }
}

/**
 * First-time setup after the type-back check: new salt, KEK, UDK; wrap it; keep only a
 * non-extractable handle. Upload {kdfSalt, udkGen, wrappedUdk}; keep `udk` in memory.
 */
export async function setupVault(phrase, userId, gen = 1) {
  const kdfSalt = randomBytes(KDF_SALT_BYTES);
  const kek = await kekFromPhrase(phrase, kdfSalt);
  const wrappedUdk = await wrapUdk(kek, await createUdk(), gen, userId);
  const udk = await unlockUdk(kek, wrappedUdk, userId);
  return { kdfSalt: b64urlEncode(kdfSalt), udkGen: gen, wrappedUdk, udk };
}

/** New device: the account's key record {kdfSalt, wrappedUdk} + the phrase → the UDK. */
export async function unlockVault(phrase, record, userId) {
  const kek = await kekFromPhrase(phrase, record.kdfSalt);
  return unlockUdk(kek, record.wrappedUdk, userId);
}

/**
 * Phrase rotation: new salt, KEK and UDK (gen + 1), every E2E bundle re-sealed.
 * `configs` = [{configId, providerId, destOrigin, envelope}] sealed under `oldUdk`/`oldGen`.
 * Returns {kdfSalt, udkGen, wrappedUdk, udk, envelopes: {configId: envelope}} for one upload.
 */
export async function rotateVault(oldUdk, oldGen, newPhrase, userId, configs) {
  const vault = await setupVault(newPhrase, userId, Number(genText(oldGen)) + 1);
  const envelopes = {};
  for (const c of configs) {
    const ctx = { userId, configId: c.configId, providerId: c.providerId, destOrigin: c.destOrigin };
    const bundle = await openBundle(oldUdk, c.envelope, { ...ctx, gen: oldGen });
    envelopes[c.configId] = await sealBundle(vault.udk, bundle, { ...ctx, gen: vault.udkGen });
  }
  return { ...vault, envelopes };
}

// ---- credential bundles ----------------------------------------------------------------------

/** Seal {api_key, headers?, service_account?} → "rc1.e2e.<gen>.<nonce>.<ct>". */
export async function sealBundle(udk, bundle, ctx) {
  if (!bundle || typeof bundle !== "object" || Array.isArray(bundle)) {
    throw new TypeError("a credential bundle must be a JSON object");
  }
  const header = `${VERSION}.e2e.${genText(ctx && ctx.gen)}`;
  const aad = credentialAad("e2e", header, ctx);
  const plaintext = te.encode(JSON.stringify(bundle));
  if (plaintext.length > MAX_PLAINTEXT_BYTES) {
    throw new RangeError(`a credential bundle must be at most ${MAX_PLAINTEXT_BYTES} bytes`);
  }
  const iv = randomBytes(NONCE_BYTES);
  const ct = await subtle().encrypt(gcm(iv, aad), udk, plaintext);
  return formatEnvelope(header, iv, new Uint8Array(ct));
}

/**
 * Open a credential envelope for ctx {userId, configId, providerId, destOrigin, gen?}. The
 * generation is read from the authenticated header; pass ctx.gen to insist on the current one.
 * DecryptError means: re-enter the key (it was copied, or the config's destination changed).
 */
export async function openBundle(udk, envelope, ctx) {
  const env = parseEnvelope(envelope, "e2e");
  if (ctx && ctx.gen !== undefined && ctx.gen !== env.gen) {
    throw new DecryptError(`This key was sealed under encryption generation ${env.gen}, not ${ctx.gen}: re-enter it.`);
  }
  const aad = credentialAad("e2e", env.header, ctx);
  let plaintext;
  try {
    plaintext = await subtle().decrypt(gcm(env.nonce, aad), udk, env.ciphertext);
  } catch (err) {
    if (err && err.name === "OperationError") {
      throw new DecryptError(
        "Could not decrypt: wrong key, or the data belongs to another account, config, provider or destination.",
      );
    }
    throw err;
  }
  let value;
  try {
    value = JSON.parse(td.decode(plaintext));
  } catch {
    throw new VaultError("decrypted bundle is not UTF-8 JSON");
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new VaultError("decrypted bundle is not a JSON object");
  }
  return value;
}

/** "…last4" for keys of ≥ 16 characters, else "••••" (computed in the browser for E2E). */
export function maskedHint(key) {
  return key.length >= 16 ? "…" + key.slice(-4) : "••••";
}
