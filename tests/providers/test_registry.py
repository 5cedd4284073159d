"""Registry invariants, and the rule that provider ids live in the registry only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import rolecall
from rolecall.providers import AUTH_HEADER_NAMES, CATEGORIES, PROTOCOLS, all_providers, by_category, get
from rolecall.providers.auth import Bearer, HeaderKey, NoAuth, ServiceAccount
from rolecall.providers.modelmap import static_models
from rolecall.providers.options import form_fields
from rolecall.providers.types import AuthEndpoint, ModelsEndpoint, ProbeChat, StaticModels

PROVIDERS = all_providers()

# docs/user-guide.md, "Step 3b — Choose a Provider": display name -> category.
GUIDE_STEP_3B = {
    "OpenAI": "major", "Anthropic": "major", "OpenRouter": "major", "Google AI (Gemini)": "major",
    "Mistral AI": "openai_compatible", "Groq": "openai_compatible", "Perplexity": "openai_compatible",
    "DeepSeek": "openai_compatible", "xAI (Grok)": "openai_compatible", "AI21": "openai_compatible",
    "Fireworks AI": "openai_compatible", "AIML API": "openai_compatible", "NanoGPT": "openai_compatible",
    "ElectronHub": "openai_compatible", "CometAPI": "openai_compatible",
    "Cohere": "specialized", "NovelAI": "specialized",
    "Azure OpenAI": "enterprise", "Vertex AI (Google Cloud)": "enterprise",
    "Moonshot (Kimi)": "regional", "SiliconFlow": "regional", "Z.AI (Zhipu)": "regional",
    "Pollinations": "free",
    "Custom (OpenAI-compatible)": "custom",
}
# docs/user-guide.md, "Step 3d — Paste the API Key": where to get a key, and the key prefixes
# table.
GUIDE_KEY_URLS = {
    "OpenAI": "platform.openai.com/api-keys", "Anthropic": "console.anthropic.com",
    "Google AI (Gemini)": "aistudio.google.com", "OpenRouter": "openrouter.ai/keys", "Groq": "console.groq.com/keys",
}
GUIDE_PREFIXES = {
    "OpenAI": "sk-", "Anthropic": "sk-ant-", "OpenRouter": "sk-or-", "Groq": "gsk_", "Perplexity": "pplx-",
    "Google AI (Gemini)": "AIza",
}
BY_NAME = {p.name: p for p in PROVIDERS}


def test_ids_are_unique_and_slug_shaped() -> None:
    ids = [p.id for p in PROVIDERS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids)


def test_every_step_3b_provider_is_there_in_its_category() -> None:
    assert {name: BY_NAME[name].category for name in GUIDE_STEP_3B if name in BY_NAME} == GUIDE_STEP_3B
    assert len(PROVIDERS) >= 24


def test_every_category_is_present() -> None:
    assert set(CATEGORIES) == {p.category for p in PROVIDERS}
    assert all(by_category()[c] for c in CATEGORIES)


def test_every_protocol_has_an_adapter() -> None:
    for p in PROVIDERS:
        assert p.protocol in PROTOCOLS, p.id


def test_default_base_urls_are_https_except_custom() -> None:
    for p in PROVIDERS:
        for endpoint in p.endpoints:
            if p.category == "custom":
                assert endpoint.url == ""
            else:
                assert endpoint.url.startswith("https://"), p.id
        for url in p.urls.values():
            assert url.startswith("https://"), p.id


def test_endpoint_types_of_the_guide() -> None:
    assert [e.label for e in get("nanogpt").endpoints] == ["Pay-per-use", "Subscription"]
    assert [e.label for e in get("zai").endpoints] == ["Common", "Coding"]


def test_enterprise_providers_have_their_required_fields() -> None:
    for p in by_category()["enterprise"]:
        assert [f for f in p.fields if f.level == "required"], p.id
    assert {f.name for f in BY_NAME["Azure OpenAI"].fields} >= {"resource_name", "deployment_id", "api_version"}
    vertex = BY_NAME["Vertex AI (Google Cloud)"]
    assert "region" in {f.name for f in vertex.fields} and vertex.key_label == "Service Account JSON"


def test_key_urls_for_the_guides_five() -> None:
    for name, url in GUIDE_KEY_URLS.items():
        assert url in (BY_NAME[name].key_url or ""), name


def test_key_prefixes_of_the_guides_table() -> None:
    for name, prefix in GUIDE_PREFIXES.items():
        assert prefix in BY_NAME[name].key_prefixes, name


def test_pollinations_needs_no_key_and_custom_needs_a_base_url() -> None:
    assert not BY_NAME["Pollinations"].needs_key
    assert BY_NAME["Custom (OpenAI-compatible)"].discover_base


def test_auth_header_names_cover_every_scheme() -> None:
    for p in PROVIDERS:
        scheme = p.auth
        assert isinstance(scheme, (Bearer, HeaderKey, NoAuth, ServiceAccount)), p.id
        if scheme.header:
            assert scheme.header in AUTH_HEADER_NAMES, p.id
        check = p.key_check
        if isinstance(check, AuthEndpoint) and check.auth is not None:
            assert check.auth.header in AUTH_HEADER_NAMES


def test_model_sources_and_key_checks_are_consistent() -> None:
    for p in PROVIDERS:
        if isinstance(p.models, StaticModels):
            assert static_models(p.models.key), p.id
            assert not isinstance(p.key_check, AuthEndpoint) or p.key_check.path
        else:
            assert isinstance(p.models, ModelsEndpoint) and p.models.path.startswith("/"), p.id
            if not p.models.validates_key:  # a public list proves nothing about the key
                assert isinstance(p.key_check, (AuthEndpoint, ProbeChat)), p.id
        if isinstance(p.key_check, AuthEndpoint):
            assert p.key_check.path.startswith("/")
            assert p.key_check.base is None or p.key_check.base in p.urls, p.id


def test_form_fields_have_unique_names() -> None:
    for p in PROVIDERS:
        names = [f.name for f in form_fields(p)]
        assert len(names) == len(set(names)), p.id


def test_unknown_id_raises() -> None:
    with pytest.raises(KeyError):
        get("openai-ish")


# --- provider ids appear only in the registry ---------------------------------------------------

ROOT = Path(rolecall.__file__).parent
ALLOWED = (ROOT / "providers" / "registry.py", ROOT / "providers" / "protocols")


def _names() -> set[str]:
    """Every provider id and protocol name: code outside the registry and the adapters must not
    branch on either (docs/architecture.md, "Layers and import rules"). Ids are chosen to be
    distinctive (no "custom", no category word), so an exact-match rule has no false positives."""
    return {p.id for p in PROVIDERS} | set(PROTOCOLS)


def _literals(path: Path) -> set[str]:
    if path.suffix == ".py":
        tree = ast.parse(path.read_text("utf-8"))
        return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    text = path.read_text("utf-8", errors="replace")
    return {m.group(2) for m in re.finditer(r"""(["'`])([A-Za-z0-9_.-]{1,40})\1""", text)}


def offending(root: Path, names: set[str]) -> list[tuple[str, str]]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".py", ".html", ".js") or any(path == a or a in path.parents for a in ALLOWED):
            continue
        found += [(str(path.relative_to(root)), lit) for lit in _literals(path) & names]
    return found


def test_provider_ids_are_string_literals_only_in_the_registry_and_protocols() -> None:
    assert offending(ROOT, _names()) == []


def test_the_id_scan_finds_a_planted_literal(tmp_path: Path) -> None:
    (tmp_path / "svc.py").write_text('"""Talks about groq in prose, which is fine."""\nif p == "groq":\n    pass\n')
    (tmp_path / "page.html").write_text("<option value='anthropic'>")
    (tmp_path / "ok.js").write_text("const label = 'groq cloud';")
    assert sorted(offending(tmp_path, _names())) == [("page.html", "anthropic"), ("svc.py", "groq")]
