// keystore.js: opt-in "remember this device" for the unlocked UDK (docs/security.md,
// "End-to-end key hierarchy").
// ES module, IndexedDB only, no DOM. Stores the CryptoKey object itself: structured clone keeps
// it NON-extractable, so script on this origin can use it but never read its bytes. Only
// non-extractable keys are accepted. Clear it on logout (forgetAll; the server also sends
// Clear-Site-Data: "storage"). ASVS 14.3.3 discourages secrets in browser storage: keep it
// opt-in and say so in the UI.

const STORE = "udk";

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function withStore(dbName, mode, fn) {
  const open = indexedDB.open(dbName, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  const db = await request(open);
  try {
    const tx = db.transaction(STORE, mode);
    // Listen for completion before issuing the request, so a fast commit cannot be missed.
    const done = new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    const [result] = await Promise.all([request(fn(tx.objectStore(STORE))), done]);
    return result;
  } finally {
    db.close();
  }
}

/** Remember the UDK (and its generation) for userId. Refuses extractable keys. */
export async function rememberKey(dbName, userId, key, gen = null) {
  if (!(key instanceof CryptoKey) || key.extractable) {
    throw new TypeError("only a non-extractable CryptoKey may be remembered");
  }
  await withStore(dbName, "readwrite", (s) => s.put({ key, gen }, String(userId)));
}

/** {key, gen} remembered for userId, or null. */
export async function recallKey(dbName, userId) {
  const record = await withStore(dbName, "readonly", (s) => s.get(String(userId)));
  return record ?? null;
}

/** Forget userId's key (lock this device). */
export async function forgetKey(dbName, userId) {
  await withStore(dbName, "readwrite", (s) => s.delete(String(userId)));
}

/** Forget every remembered key (logout): deletes the whole database. */
export function forgetAll(dbName) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(dbName);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
    req.onblocked = () => resolve(); // completes once other tabs close their connections
  });
}
