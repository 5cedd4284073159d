// bip39.js: BIP39 mnemonic logic for the recovery phrase (docs/security.md,
// "End-to-end key hierarchy").
// ES module, no DOM. The 2048-word English list is NOT in this file: pass it in, or load it with
// loadWordlist(url) from the copy the app serves out of the `mnemonic` package (never a CDN).
// The list is pinned by SHA-256, so a corrupted or substituted list is refused.
//
// Facts used (bitcoin/bips bip-0039): ENT ∈ {128,160,192,224,256} bits; checksum = first ENT/32
// bits of SHA-256(entropy); each word = 11 bits. RoleCall makes 128 bits → 12 words. English
// words are a-z, 3-8 letters, sorted, and unique in their first 4 letters.

export const ENGLISH_SHA256 = "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda";
export const WORDLIST_SIZE = 2048;
export const PHRASE_WORDS = 12;
const VALID_COUNTS = [12, 15, 18, 21, 24];
const WORD = /^[a-z]{3,8}$/;

export class WordlistError extends Error {
  constructor(message) {
    super(message);
    this.name = "WordlistError";
  }
}

/** Thrown by wordsToEntropy; `.problems` is what checkPhrase reports. */
export class PhraseError extends Error {
  constructor(problems) {
    super("The recovery phrase is not valid: " + problems.map((p) => p.kind).join(", "));
    this.name = "PhraseError";
    this.problems = problems;
  }
}

function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

// ---- the word list ----------------------------------------------------------------------------

/** Fetch the served english.txt and check it against its pinned SHA-256 (pass sha256: null to skip). */
export async function loadWordlist(url, { sha256 = ENGLISH_SHA256 } = {}) {
  const res = await fetch(url, { credentials: "same-origin" });
  if (!res.ok) throw new WordlistError(`could not load the word list (HTTP ${res.status})`);
  const buf = await res.arrayBuffer();
  if (sha256 && hex(await crypto.subtle.digest("SHA-256", buf)) !== sha256) {
    throw new WordlistError("the word list does not match its pinned SHA-256");
  }
  return parseWordlist(new TextDecoder().decode(buf));
}

/** english.txt (one word per line) → a frozen, checked array. */
export function parseWordlist(text) {
  const words = text.split("\n");
  if (words[words.length - 1] === "") words.pop();
  const list = Object.freeze(words);
  indexOf(list); // validates
  return list;
}

const indexes = new WeakMap();

// word → index, built once per list; also proves the list has the shape the rest relies on.
function indexOf(wordlist) {
  let index = indexes.get(wordlist);
  if (index) return index;
  if (!Array.isArray(wordlist) || wordlist.length !== WORDLIST_SIZE) {
    throw new WordlistError("a BIP39 word list has 2048 words");
  }
  index = new Map();
  const prefixes = new Set();
  wordlist.forEach((w, i) => {
    if (!WORD.test(w) || (i > 0 && !(wordlist[i - 1] < w)) || prefixes.has(w.slice(0, 4))) {
      throw new WordlistError("the word list is not sorted, unique-by-4-letters, a-z");
    }
    prefixes.add(w.slice(0, 4));
    index.set(w, i);
  });
  indexes.set(wordlist, index);
  return index;
}

// ---- entropy ⇄ words --------------------------------------------------------------------------

async function checksumBits(entropy) {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", entropy));
  return bitString(hash).slice(0, entropy.length / 4); // ENT/32 bits = bytes*8/32
}

function bitString(bytes) {
  return Array.from(bytes, (b) => b.toString(2).padStart(8, "0")).join("");
}

/** Entropy (16, 20, 24, 28 or 32 bytes) → words (12 … 24). */
export async function entropyToWords(entropy, wordlist) {
  const bytes = new Uint8Array(entropy);
  if (![16, 20, 24, 28, 32].includes(bytes.length)) {
    throw new RangeError("entropy must be 16-32 bytes, a multiple of 4");
  }
  indexOf(wordlist);
  const bits = bitString(bytes) + (await checksumBits(bytes));
  const words = [];
  for (let i = 0; i < bits.length; i += 11) words.push(wordlist[parseInt(bits.slice(i, i + 11), 2)]);
  return words;
}

/** A new 12-word phrase from 128 bits of crypto.getRandomValues. Returns the words in order. */
export async function generatePhrase(wordlist) {
  return entropyToWords(crypto.getRandomValues(new Uint8Array(16)), wordlist);
}

/** Words → entropy; throws PhraseError (with .problems) when checkPhrase would not be ok. */
export async function wordsToEntropy(words, wordlist, { count = null } = {}) {
  const result = await checkPhrase(words, wordlist, { count, expand: false });
  if (!result.ok) throw new PhraseError(result.problems);
  return result.entropy;
}

// ---- checking what a person typed ------------------------------------------------------------

function tokens(input) {
  const text = Array.isArray(input) ? input.join(" ") : String(input);
  return text.normalize("NFKD").toLowerCase().split(/\s+/).filter(Boolean);
}

/**
 * Check a typed phrase (string or array). Returns {ok, words, phrase, entropy, problems}:
 *  - words: normalised (NFKD, lower case) and, with expand, 4+ letter prefixes completed;
 *  - problems, in order: {kind: "unknown_word", index, position, word} per unknown word
 *    (index 0-based, position 1-based for messages), {kind: "wrong_count", expected, actual},
 *    {kind: "bad_checksum"} (only checked once every word is known and the count is right).
 * count: 12 by default; null accepts any BIP39 length (12, 15, 18, 21, 24).
 */
export async function checkPhrase(input, wordlist, { count = PHRASE_WORDS, expand = true } = {}) {
  const index = indexOf(wordlist);
  const words = tokens(input).map((w) => {
    if (index.has(w) || !expand || w.length < 4) return w;
    const matches = completeWord(w, wordlist, { limit: 2 });
    return matches.length === 1 ? matches[0] : w;
  });
  const problems = [];
  words.forEach((word, i) => {
    if (!index.has(word)) problems.push({ kind: "unknown_word", index: i, position: i + 1, word });
  });
  const countOk = count === null ? VALID_COUNTS.includes(words.length) : words.length === count;
  if (!countOk) problems.push({ kind: "wrong_count", expected: count ?? VALID_COUNTS, actual: words.length });
  let entropy = null;
  if (problems.length === 0) {
    const bits = words.map((w) => index.get(w).toString(2).padStart(11, "0")).join("");
    const entBits = (bits.length * 32) / 33;
    const bytes = new Uint8Array(entBits / 8);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
    if ((await checksumBits(bytes)) === bits.slice(entBits)) entropy = bytes;
    else problems.push({ kind: "bad_checksum" });
  }
  return { ok: problems.length === 0, words, phrase: words.join(" "), entropy, problems };
}

/** Words starting with prefix, in list order (at most `limit`); a 4+ letter prefix matches ≤ 1. */
export function completeWord(prefix, wordlist, { limit = 10 } = {}) {
  indexOf(wordlist);
  const p = String(prefix).normalize("NFKD").toLowerCase().trim();
  if (!p) return [];
  // Binary search for the first word ≥ p; matches are contiguous because the list is sorted.
  let lo = 0;
  let hi = wordlist.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (wordlist[mid] < p) lo = mid + 1;
    else hi = mid;
  }
  const out = [];
  for (let i = lo; i < wordlist.length && out.length < limit && wordlist[i].startsWith(p); i++) out.push(wordlist[i]);
  return out;
}
