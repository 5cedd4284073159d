"""vault.js / bip39.js / keystore.js in real Chromium, against the shared vectors
(docs/security.md, "Shared test vectors").

The page (tests/crypto/conftest.py) is served from 127.0.0.1, a secure context, and exposes the
modules as ``window.vault``, ``window.bip39`` and ``window.keystore``, the served word list as
``window.wordlist`` and the vectors as ``window.vectors``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mnemonic import Mnemonic

from rolecall.crypto import Binding, DecryptError, b64url_decode, e2e
from rolecall.redact import masked_hint

pytestmark = pytest.mark.browser
ToBinding = Callable[[dict[str, str]], Binding]

# JS helpers prepended to evaluated snippets: hex conversion and error-name capture.
PRELUDE = """
const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
const ctxOf = (c) => ({ userId: c.user_id, configId: c.config_id, providerId: c.provider_id, destOrigin: c.dest_origin });
const errName = async (fn) => { try { await fn(); return "no error"; } catch (e) { return e.name; } };
const { vault, bip39, keystore, wordlist, vectors } = window;
const V = vectors.e2e;
const unlocked = () => vault.unlockVault(V.phrase, { kdfSalt: V.kdf_salt, wrappedUdk: V.wrapped_udk }, V.user_id);
"""


def js(page: Any, body: str, arg: Any = None) -> Any:
    return page.evaluate(f"async (arg) => {{ {PRELUDE}\n{body} }}", arg)


def test_official_bip39_vectors_in_javascript(page: Any) -> None:
    mismatches = js(
        page,
        """
        const out = [];
        for (const [entropy, words, seed] of vectors.bip39.english) {
          const made = (await bip39.entropyToWords(unhex(entropy), wordlist)).join(" ");
          const check = await bip39.checkPhrase(words, wordlist, { count: null });
          const s = hex(await vault.seedFromPhrase(words, "TREZOR"));
          if (made !== words || !check.ok || hex(check.entropy) !== entropy || s !== seed) out.push(words);
        }
        return [vectors.bip39.english.length, out];
        """,
    )
    assert mismatches == [24, []]


def test_same_seed_and_kek_bits_as_python(page: Any, e2e_vectors: dict[str, Any]) -> None:
    seed, kek, messy_kek = js(
        page,
        """
        const messy = "  " + V.phrase.toUpperCase().replaceAll(" ", " \\t ") + "\\n";
        return [hex(await vault.seedFromPhrase(V.phrase)),
                hex(await vault.deriveKekBits(V.phrase, V.kdf_salt)),
                hex(await vault.deriveKekBits(messy, vault.b64urlDecode(V.kdf_salt)))];
        """,
    )
    assert seed == e2e_vectors["seed_hex"]
    assert kek == messy_kek == e2e_vectors["kek_hex"]


def test_js_opens_python_envelopes_and_keeps_the_udk_non_extractable(page: Any, e2e_vectors: dict[str, Any]) -> None:
    result = js(
        page,
        """
        const udk = await unlocked();
        const bundles = [];
        for (const c of V.credentials) bundles.push(await vault.openBundle(udk, c.envelope, { ...ctxOf(c.context), gen: c.gen }));
        const exported = await errName(() => crypto.subtle.exportKey("raw", udk));
        return { bundles, extractable: udk.extractable, exported, usages: udk.usages.sort() };
        """,
    )
    assert result["bundles"] == [c["bundle"] for c in e2e_vectors["credentials"]]
    assert result["extractable"] is False and result["exported"] == "InvalidAccessError"
    assert result["usages"] == ["decrypt", "encrypt"]


def test_js_refuses_every_tampered_envelope(page: Any, e2e_vectors: dict[str, Any]) -> None:
    names = {"envelope": "EnvelopeError", "decrypt": "DecryptError", "wrong_phrase": "WrongPhraseError"}
    got = js(
        page,
        """
        const udk = await unlocked();
        const kek = await vault.kekFromPhrase(V.phrase, V.kdf_salt);
        const out = {};
        for (const t of V.tampered) out[t.why] = await errName(() => vault.openBundle(udk, t.envelope, ctxOf(t.context)));
        for (const t of V.tampered_udk) out["udk: " + t.why] = await errName(() => vault.unlockUdk(kek, t.envelope, t.user_id));
        const ok = V.credentials[0];
        out["10 MB string"] = await errName(() => vault.openBundle(udk, "rc1.e2e.1." + "A".repeat(10_000_000), ctxOf(ok.context)));
        const over = "rc1.e2e.1." + ok.envelope.split(".")[3] + "." + vault.b64urlEncode(new Uint8Array(vault.MAX_CIPHERTEXT_BYTES + 1));
        out["ciphertext over the cap"] = await errName(() => vault.openBundle(udk, over, ctxOf(ok.context)));
        out["generation pinned"] = await errName(() => vault.openBundle(udk, ok.envelope, { ...ctxOf(ok.context), gen: 2 }));
        out["bad context"] = await errName(() => vault.openBundle(udk, ok.envelope, { ...ctxOf(ok.context), destOrigin: "https://API.openai.com" }));
        return out;
        """,
    )
    expected = {t["why"]: names[t["expect"]] for t in e2e_vectors["tampered"]}
    expected |= {"udk: " + t["why"]: names[t["expect"]] for t in e2e_vectors["tampered_udk"]}
    expected |= {"10 MB string": "EnvelopeError", "ciphertext over the cap": "EnvelopeError",
                 "generation pinned": "DecryptError", "bad context": "ContextError"}
    assert got == expected


def test_wrong_phrase_is_a_distinct_error(page: Any) -> None:
    got = js(
        page,
        """
        const record = { kdfSalt: V.kdf_salt, wrappedUdk: V.wrapped_udk };
        let err;
        try { await vault.unlockVault(V.wrong_phrase, record, V.user_id); } catch (e) { err = e; }
        return [err.name, err instanceof vault.DecryptError, err.message,
                await errName(() => vault.unlockVault("abandon ".repeat(11), record, V.user_id))];
        """,
    )
    assert got == ["WrongPhraseError", True, "This phrase doesn't match your account.", "ContextError"]


def test_python_opens_js_envelopes_only_with_the_right_aad(
    page: Any, e2e_vectors: dict[str, Any], binding_from: ToBinding
) -> None:
    sealed = js(
        page,
        """
        const udk = await unlocked();
        const out = [];
        for (const c of V.credentials) out.push(await vault.sealBundle(udk, c.bundle, { ...ctxOf(c.context), gen: 1 }));
        return out;
        """,
    )
    udk = bytes.fromhex(e2e_vectors["udk_hex"])
    for envelope, case in zip(sealed, e2e_vectors["credentials"], strict=True):
        assert envelope != case["envelope"]  # fresh nonce
        binding = binding_from(case["context"])
        assert e2e.open_bundle(udk, envelope, binding, gen=1) == case["bundle"]
        for field, value in {"user_id": "0d61c2b8a9e4f7350c1e2d3a", "config_id": "c0ffee", "provider_id": "groq",
                             "dest_origin": "https://attacker.example"}.items():
            with pytest.raises(DecryptError):
                e2e.open_bundle(udk, envelope, binding_from({**case["context"], field: value}))
        with pytest.raises(DecryptError):
            e2e.open_bundle(udk, envelope.replace("rc1.e2e.1.", "rc1.e2e.2.", 1), binding)


def test_js_setup_and_rotation_interoperate_with_python(page: Any, binding: Binding) -> None:
    m = Mnemonic("english")
    phrase, new_phrase = m.generate(128), m.generate(128)
    ctx = {"userId": binding.user_id, "configId": binding.config_id, "providerId": binding.provider_id,
           "destOrigin": binding.dest_origin}
    got = js(
        page,
        """
        const { phrase, newPhrase, ctx } = arg;
        const v1 = await vault.setupVault(phrase, ctx.userId);
        const env = await vault.sealBundle(v1.udk, { api_key: "sk-from-js" }, { ...ctx, gen: v1.udkGen });
        const v2 = await vault.rotateVault(v1.udk, 1, newPhrase, ctx.userId, [{ ...ctx, envelope: env }]);
        const oldPhraseOnNew = await errName(() => vault.unlockVault(phrase, v2, ctx.userId));
        return { v1: { ...v1, udk: v1.udk.extractable }, env, v2: { ...v2, udk: v2.udk.extractable }, oldPhraseOnNew };
        """,
        {"phrase": phrase, "newPhrase": new_phrase, "ctx": ctx},
    )
    v1, v2 = got["v1"], got["v2"]
    assert v1["udk"] is False and v2["udk"] is False and v1["udkGen"] == 1 and v2["udkGen"] == 2
    udk1 = e2e.unwrap_udk(e2e.kek_from_phrase(phrase, b64url_decode(v1["kdfSalt"])), v1["wrappedUdk"], binding.user_id)
    assert e2e.open_bundle(udk1, got["env"], binding, gen=1) == {"api_key": "sk-from-js"}
    udk2 = e2e.unwrap_udk(e2e.kek_from_phrase(new_phrase, b64url_decode(v2["kdfSalt"])), v2["wrappedUdk"], binding.user_id)
    new_env = v2["envelopes"][binding.config_id]
    assert new_env.startswith("rc1.e2e.2.")
    assert e2e.open_bundle(udk2, new_env, binding, gen=2) == {"api_key": "sk-from-js"}
    assert v1["kdfSalt"] != v2["kdfSalt"] and udk1 != udk2
    assert got["oldPhraseOnNew"] == "WrongPhraseError"


def test_js_nonces_are_fresh(page: Any) -> None:
    distinct = js(
        page,
        """
        const udk = await unlocked();
        const c = V.credentials[0];
        const seen = new Set();
        for (let i = 0; i < 1000; i++) seen.add((await vault.sealBundle(udk, c.bundle, { ...ctxOf(c.context), gen: 1 })).split(".")[3]);
        return seen.size;
        """,
    )
    assert distinct == 1000


def test_check_phrase_points_at_problems(page: Any) -> None:
    got = js(
        page,
        """
        const words = V.phrase.split(" ");
        const bad = [...words]; bad[4] = "wavy"; bad[9] = "xylophone";
        const strip = (r) => ({ ok: r.ok, problems: r.problems });
        return {
          unknown: strip(await bip39.checkPhrase(bad.join(" "), wordlist)),
          checksum: strip(await bip39.checkPhrase("abandon ".repeat(12), wordlist)),
          count: strip(await bip39.checkPhrase(words.slice(0, 11), wordlist)),
          prefixes: await bip39.checkPhrase(" LEGA  winn THAN year wave saus wort usef lega winn than yell ", wordlist),
          swapped: strip(await bip39.checkPhrase([...words.slice(0, 10), words[11], words[10]], wordlist)),
          complete4: bip39.completeWord("aban", wordlist),
          complete2: bip39.completeWord("zo", wordlist),
          completeNone: bip39.completeWord("qz", wordlist),
          generated: await bip39.generatePhrase(wordlist),
          wordsToEntropy: await errName(() => bip39.wordsToEntropy("abandon ".repeat(12), wordlist)),
          badList: await errName(() => bip39.loadWordlist("/vectors/rc1_e2e.json")),
        };
        """,
    )
    assert got["unknown"] == {"ok": False, "problems": [
        {"kind": "unknown_word", "index": 4, "position": 5, "word": "wavy"},
        {"kind": "unknown_word", "index": 9, "position": 10, "word": "xylophone"},
    ]}
    assert got["checksum"] == {"ok": False, "problems": [{"kind": "bad_checksum"}]}
    assert got["count"] == {"ok": False, "problems": [{"kind": "wrong_count", "expected": 12, "actual": 11}]}
    assert got["prefixes"]["ok"] and got["prefixes"]["phrase"] == "legal winner thank year wave sausage worth useful legal winner thank yellow"
    assert got["swapped"] == {"ok": False, "problems": [{"kind": "bad_checksum"}]}
    assert not Mnemonic("english").check(" ".join(["legal", "winner", "thank", "year", "wave", "sausage", "worth", "useful", "legal", "winner", "yellow", "thank"]))
    assert got["complete4"] == ["abandon"]
    assert got["complete2"] == ["zone", "zoo"]
    assert got["completeNone"] == []
    assert len(got["generated"]) == 12 and Mnemonic("english").check(" ".join(got["generated"]))
    assert got["wordsToEntropy"] == "PhraseError"
    assert got["badList"] == "WordlistError"


def test_keystore_remembers_a_non_extractable_udk(page: Any) -> None:
    got = js(
        page,
        """
        const db = "rolecall-test-keys";
        const udk = await unlocked();
        await keystore.rememberKey(db, V.user_id, udk, 1);
        const back = await keystore.recallKey(db, V.user_id);
        const c = V.credentials[0];
        const opened = await vault.openBundle(back.key, c.envelope, ctxOf(c.context));
        const refused = await errName(async () => keystore.rememberKey(db, "u2", await vault.createUdk()));
        const other = await keystore.recallKey(db, "someone-else");
        await keystore.forgetKey(db, V.user_id);
        const afterForget = await keystore.recallKey(db, V.user_id);
        await keystore.rememberKey(db, V.user_id, udk, 1);
        await keystore.forgetAll(db);
        const afterLogout = await keystore.recallKey(db, V.user_id);
        return { gen: back.gen, extractable: back.key.extractable, opened, refused, other, afterForget, afterLogout };
        """,
    )
    assert got == {"gen": 1, "extractable": False, "opened": {"api_key": "sk-rolecall-vector-0001-abcdefghijklmnop"},
                   "refused": "TypeError", "other": None, "afterForget": None, "afterLogout": None}


def test_masked_hint_is_the_servers(page: Any) -> None:
    # An E2E config's hint is computed in the browser; it must read like a Server-Accessible one's.
    keys = ["", "short", "x" * 15, "sk-" + "a" * 12 + "WXYZ", "sk-ant-" + "b" * 40 + "1234"]
    assert js(page, "return arg.map((k) => vault.maskedHint(k));", keys) == [masked_hint(k) for k in keys]
