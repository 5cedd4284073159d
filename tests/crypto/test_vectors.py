"""Permanent vectors and package rules (docs/security.md, "Shared test vectors")."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import mnemonic
import pytest
from mnemonic import Mnemonic

import rolecall.crypto

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
CRYPTO = ROOT / "rolecall" / "crypto"
JS = ROOT / "rolecall" / "web" / "static" / "js"
ENGLISH_SHA256 = "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS / "make_vectors.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["rc1_e2e.json", "rc1_srv.json"])
def test_committed_vectors_are_exactly_what_the_generator_builds(name: str) -> None:
    gen = load_generator()
    expected = gen.render(gen.FILES[name]())
    assert (VECTORS / name).read_text(encoding="utf-8") == expected, (
        f"{name} differs from make_vectors.py output: the rc1 wire format changed. "
        "That breaks every stored envelope; add rc2 instead of editing rc1."
    )


def test_official_bip39_vectors_hold_for_the_mnemonic_package(bip39_vectors: list[list[str]]) -> None:
    m = Mnemonic("english")
    assert len(bip39_vectors) == 24
    for entropy, words, seed in bip39_vectors:
        assert m.to_mnemonic(bytes.fromhex(entropy)) == words
        assert Mnemonic.to_seed(words, passphrase="TREZOR").hex() == seed
        assert m.check(words)


def test_rolecall_seed_is_the_bip39_seed(bip39_vectors: list[list[str]]) -> None:
    for _, words, seed in bip39_vectors:
        assert rolecall.crypto.e2e.seed_from_phrase(words, "TREZOR").hex() == seed


def test_shipped_wordlist_is_pinned_on_both_sides() -> None:
    path = Path(mnemonic.__file__).resolve().parent / "wordlist" / "english.txt"
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == ENGLISH_SHA256
    words = data.decode().split("\n")[:-1]
    assert len(words) == 2048 == len({w[:4] for w in words}) and words == sorted(words)
    assert f'ENGLISH_SHA256 = "{ENGLISH_SHA256}"' in (JS / "bip39.js").read_text()


def test_js_and_python_share_constants() -> None:
    vault = (JS / "vault.js").read_text()
    from rolecall.crypto import aead, e2e, envelope

    for name, value in {
        "AAD_PREFIX": f'"{aead.AAD_PREFIX}"',
        "KEK_INFO": f'"{e2e.KEK_INFO.decode()}"',
        "MAX_CIPHERTEXT_BYTES": "24 * 1024",
    }.items():
        assert f"export const {name} = {value};" in vault
    assert envelope.MAX_CIPHERTEXT_BYTES == 24 * 1024


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(CRYPTO.glob("*.py")), ids=lambda p: p.name)
def test_crypto_is_pure(path: Path) -> None:
    # docs/architecture.md, "Layers and import rules": crypto/ imports nothing of ours but the leaf
    # rolecall.redact, and does no I/O, logging or settings.
    allowed = {"__future__", "base64", "binascii", "collections.abc", "dataclasses", "hashlib", "hmac", "json",
               "os", "re", "typing", "unicodedata", "rolecall.redact"}
    imports = _imports(path)
    assert {i for i in imports if not i.startswith("cryptography.")} <= allowed, imports
    source = path.read_text()
    assert not re.search(r"\bopen\(|\bprint\(|os\.environ|getenv", source)  # imports cover logging


def test_public_api_is_sorted_and_complete() -> None:
    names = rolecall.crypto.__all__
    assert names == sorted(names)
    assert all(hasattr(rolecall.crypto, n) for n in names)


def test_modules_stay_small() -> None:
    for path in [*CRYPTO.glob("*.py"), *JS.glob("*.js")]:
        assert len(path.read_text().splitlines()) < 400, path.name


def _vector_names(data: Any) -> list[str]:
    return [case["why"] for case in data]


def test_tampered_vector_descriptions_are_unique(e2e_vectors: dict[str, Any], srv_vectors: dict[str, Any]) -> None:
    for cases in (e2e_vectors["tampered"], e2e_vectors["tampered_udk"], srv_vectors["tampered"]):
        names = _vector_names(cases)
        assert len(names) == len(set(names))
