"""Catalog metadata rules: curated lookups, merge precedence, speed tiers, context labels, Free."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolecall.providers import facts
from rolecall.providers.types import ModelInfo


@pytest.mark.parametrize(("model_id", "expected"), [
    ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("openai/gpt-4o-mini", "gpt-4o-mini"),
    ("models/gemini-2.5-pro", "gemini-2.5-pro"),
    ("google/gemini-2.5-flash:free", "gemini-2.5-flash"),
    ("GPT-4O", "gpt-4o"),
    ("totally-unknown-model", None),
])
def test_lookup_by_alias_and_normalized_id(model_id: str, expected: str | None) -> None:
    fact = facts.lookup(model_id)
    assert (fact.id if fact else None) == expected


def test_provider_list_wins_then_curated_then_unknown() -> None:
    listed = ModelInfo(id="gpt-4o", name="GPT-4o (my proxy)", context_window=64000, capabilities=frozenset({"tools"}))
    row = facts.merge(listed, "openai", "2026-11-27T00:00:00+00:00")
    assert (row["name"], row["context_window"], row["capabilities"]) == ("GPT-4o (my proxy)", 64000, ["tools"])
    assert row["sources"] == {"name": "provider", "context_window": "provider", "capabilities": "provider"}
    assert row["details"]["provider_list_at"] == "2026-11-27T00:00:00+00:00"

    bare = facts.merge(ModelInfo(id="gpt-4o"), "openai", None)
    assert (bare["name"], bare["context_window"], bare["context_label"]) == ("GPT-4o", 128000, "128K")
    assert bare["capabilities"] == ["json", "tools", "vision"]
    assert bare["sources"] == {"name": "curated", "context_window": "curated", "capabilities": "curated"}
    assert bare["details"]["curated_source"].startswith("https://")

    unknown = facts.merge(ModelInfo(id="my-local-finetune"), "custom_openai", None)
    assert (unknown["name"], unknown["context_window"], unknown["context_label"], unknown["capabilities"]) == (
        "my-local-finetune", None, None, [])
    assert unknown["sources"] == {"name": None, "context_window": None, "capabilities": None}
    assert unknown["free"] is None


@pytest.mark.parametrize(("model_id", "tier"), [
    ("o1", "Deep"), ("o3-pro", "Deep"), ("deepseek-reasoner", "Deep"), ("deepseek/deepseek-r1:free", "Deep"),
    ("claude-opus-4-1", "Deep"), ("qwq-32b", "Deep"), ("gemini-2.5-flash-thinking", "Deep"),
    ("gpt-4o-mini", "Instant"), ("o4-mini", "Instant"), ("claude-haiku-4-5", "Instant"), ("gemini-2.5-flash", "Instant"),
    ("llama-3.1-8b-instant", "Instant"), ("mistral-small-latest", "Instant"), ("gemma-2-9b-it", "Instant"),
    ("gpt-4o", "Fast"), ("claude-sonnet-4-5", "Fast"), ("mistral-large-latest", "Fast"), ("command-r-plus", "Fast"),
])
def test_speed_tiers_by_family(model_id: str, tier: str) -> None:
    assert facts.speed_tier(model_id) == tier


@pytest.mark.parametrize(("tokens", "label"), [
    (4096, "4K"), (8192, "8K"), (32768, "32K"), (128000, "128K"), (131072, "128K"), (163840, "160K"),
    (200000, "200K"), (1000000, "1M"), (1048576, "1M"), (2097152, "2M"), (1500000, "1.5M"), (None, None), (0, None),
])
def test_context_labels(tokens: int | None, label: str | None) -> None:
    assert facts.format_context(tokens) == label


@pytest.mark.parametrize(("info", "free"), [
    (ModelInfo(id="a", free=True), True),
    (ModelInfo(id="vendor/model:free"), True),
    (ModelInfo(id="b", input_price=0.0, output_price=0.0), True),
    (ModelInfo(id="c", input_price=0.15, output_price=0.6), False),
    (ModelInfo(id="d"), None),
    (ModelInfo(id="e", free=False, input_price=0.0, output_price=0.0), False),
])
def test_free_detection(info: ModelInfo, free: bool | None) -> None:
    assert facts.is_free(info) is free


def test_every_curated_row_has_a_source_and_known_capabilities() -> None:
    data = json.loads((Path(facts.__file__).parent / "data" / "model_facts.json").read_text())["models"]
    seen: set[str] = set()
    for row in data:
        assert row["source"].startswith("https://") and len(row["as_of"]) == 10, row["id"]
        assert set(row.get("capabilities", [])) <= facts.CAPABILITY_NAMES, row["id"]
        for key in (row["id"], *row.get("aliases", [])):
            assert key.lower() not in seen, key
            seen.add(key.lower())
