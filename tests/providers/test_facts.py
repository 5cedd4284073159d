"""Catalog metadata rules: curated lookups, merge precedence, speed tiers, context labels, Free."""

from __future__ import annotations

import re
import time
from collections import defaultdict

import pytest

from rolecall.providers import facts
from rolecall.providers.types import CAPABILITIES, ModelInfo

ROWS = facts.load_rows()


# --- lookup -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("model_id", "expected"), [
    # exact id and alias, case-insensitive
    ("gpt-4o", "gpt-4o"),
    ("GPT-4O", "gpt-4o"),
    ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),  # Vertex id, listed alias
    # OpenRouter vendor/model, with dots and :suffixes
    ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
    ("anthropic/claude-3.5-sonnet:beta", "claude-3-5-sonnet-20241022"),
    ("anthropic/claude-3.7-sonnet:thinking", "claude-3-7-sonnet-20250219"),
    ("openai/gpt-4o-mini", "gpt-4o-mini"),
    ("openai/gpt-4.1", "gpt-4.1"),
    ("google/gemini-2.5-flash:free", "gemini-2.5-flash"),
    ("deepseek/deepseek-r1:free", "deepseek-r1"),
    ("x-ai/grok-4", "grok-4-0709"),
    # Gemini's models/ prefix and version suffix
    ("models/gemini-2.5-pro", "gemini-2.5-pro"),
    ("models/gemini-1.5-pro-002", "gemini-1.5-pro"),
    # dated snapshots as a fallback
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4o-2099-01-01", "gpt-4o"),
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("claude-3-5-sonnet-latest", "claude-3-5-sonnet-20241022"),
    ("claude-3-7-sonnet-20990101", "claude-3-7-sonnet-20250219"),
    ("claude-opus-4-1-20250805", "claude-opus-4-1"),
    ("command-r-plus-04-2024", "command-r-plus-08-2024"),
    ("gemini-2.0-flash-001", "gemini-2.0-flash"),
    # a snapshot with its own limits keeps its own row
    ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
    # OpenAI fine-tunes inherit their base model
    ("ft:gpt-4o-mini-2024-07-18:acme:support:abc123", "gpt-4o-mini"),
    # Hugging Face style ids (SiliconFlow) and Groq's vendor-prefixed ids
    ("Qwen/QwQ-32B", "Qwen/QwQ-32B"),
    ("qwen/qwq-32b", "Qwen/QwQ-32B"),
    ("openai/gpt-oss-120b", "openai/gpt-oss-120b"),
    # unknown stays unknown
    ("totally-unknown-model", None),
    ("", None),
    ("mistral-large-latest", None),  # a moving alias: several dated rows, none named by it
])
def test_lookup_by_id_alias_and_normalized_id(model_id: str, expected: str | None) -> None:
    fact = facts.lookup(model_id)
    assert (fact.id if fact else None) == expected


def test_normalization_helpers() -> None:
    assert facts.clean_id("anthropic/claude-3.5-sonnet:beta") == "claude-3-5-sonnet"
    assert facts.clean_id("models/gemini-1.5-pro") == "gemini-1-5-pro"
    assert facts.clean_id("accounts/fireworks/models/llama-v3p1-8b-instruct") == "llama-v3p1-8b-instruct"
    assert facts.base_id("gpt-4o-2024-08-06") == "gpt-4o"
    assert facts.base_id("claude-3-5-sonnet-20241022") == "claude-3-5-sonnet"
    assert facts.base_id("claude-sonnet-4-5@20250929") == "claude-sonnet-4-5"
    assert facts.base_id("gemini-1.5-pro-latest") == "gemini-1-5-pro"
    assert facts.base_id("gemini-2.0-flash-001") == "gemini-2-0-flash"
    assert facts.base_id("command-r-08-2024") == "command-r"
    assert facts.base_id("llama-3.1-8b-instant") == "llama-3-1-8b-instant"  # nothing dated to strip


def test_fact_is_a_frozen_record_of_the_row() -> None:
    fact = facts.lookup("claude-sonnet-4-5")
    assert fact is not None
    assert (fact.name, fact.context_window, fact.max_output) == ("Claude Sonnet 4.5", 200000, 64000)
    assert fact.capabilities == frozenset({"vision", "tools", "reasoning"})
    assert fact.vendor == "anthropic" and fact.source.startswith("https://") and fact.as_of
    with pytest.raises(AttributeError):
        fact.name = "x"  # type: ignore[misc]


# --- merge precedence -------------------------------------------------------------------------

def test_provider_list_wins() -> None:
    listed = ModelInfo(id="gpt-4o", name="GPT-4o (my proxy)", context_window=64000, max_output=4000,
                       capabilities=frozenset({"tools"}))
    row = facts.merge(listed, "openai", "2026-11-27T00:00:00+00:00")
    assert (row["name"], row["context_window"], row["context_label"], row["capabilities"]) == (
        "GPT-4o (my proxy)", 64000, "64K", ["tools"])
    assert row["max_output"] == 4000
    assert row["sources"] == {"name": "provider", "context_window": "provider", "capabilities": "provider",
                              "max_output": "provider"}
    assert row["details"]["provider_list_at"] == "2026-11-27T00:00:00+00:00"
    assert row["details"]["curated_id"] == "gpt-4o"  # still linked, for the "details" popover


def test_curated_facts_fill_only_the_gaps() -> None:
    bare = facts.merge(ModelInfo(id="gpt-4o-2024-08-06"), "openai", "2026-11-27T00:00:00+00:00")
    assert (bare["name"], bare["context_window"], bare["context_label"]) == ("GPT-4o", 128000, "128K")
    assert bare["capabilities"] == ["json", "tools", "vision"]
    assert bare["sources"] == {"name": "curated", "context_window": "curated", "capabilities": "curated",
                               "max_output": "curated"}
    assert bare["details"]["curated_source"] == "https://platform.openai.com/docs/models/gpt-4o"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", bare["details"]["curated_as_of"])

    # a provider that names the model but reports no window or capabilities: name stays theirs
    mixed = facts.merge(ModelInfo(id="anthropic/claude-sonnet-4.5", name="Anthropic: Claude Sonnet 4.5"),
                        "openrouter", None)
    assert mixed["name"] == "Anthropic: Claude Sonnet 4.5"
    assert mixed["context_window"] == 200000
    assert mixed["sources"] == {"name": "provider", "context_window": "curated", "capabilities": "curated",
                                "max_output": "curated"}


def test_unknown_stays_unknown() -> None:
    unknown = facts.merge(ModelInfo(id="my-local-finetune"), "custom_openai", None)
    assert (unknown["name"], unknown["context_window"], unknown["context_label"], unknown["capabilities"]) == (
        "my-local-finetune", None, None, [])
    assert unknown["sources"] == {"name": None, "context_window": None, "capabilities": None, "max_output": None}
    assert unknown["details"] == {"provider_list_at": None, "curated_id": None, "curated_source": None,
                                  "curated_as_of": None}
    assert unknown["free"] is None and unknown["speed"] == "Fast"
    # a curated row with a null number does not invent one
    r1 = facts.merge(ModelInfo(id="deepseek/deepseek-r1"), "openrouter", None)
    assert r1["context_window"] is None and r1["sources"]["context_window"] is None
    assert r1["capabilities"] == ["reasoning"] and r1["speed"] == "Deep"


def test_static_rows_say_static() -> None:
    static = ModelInfo(id="sonar", name="Sonar", context_window=127072, capabilities=frozenset({"web_search"}),
                       source="static")
    row = facts.merge(static, "perplexity", "2026-11-27T00:00:00+00:00")
    assert row["sources"] == {"name": "static", "context_window": "static", "capabilities": "static",
                              "max_output": None}
    assert row["context_window"] == 127072  # our static list outranks the curated 128000
    assert row["details"]["provider_list_at"] is None  # there is no provider list to date
    premiere = facts.merge(ModelInfo(id="claude-sonnet-4-5", source="static"), "premiere", None)
    assert premiere["name"] == "Claude Sonnet 4.5" and premiere["sources"]["name"] == "curated"


def test_name_equal_to_id_is_not_a_display_name() -> None:
    row = facts.merge(ModelInfo(id="gpt-4o", name="gpt-4o"), "openai", None)
    assert row["name"] == "GPT-4o" and row["sources"]["name"] == "curated"


def test_unknown_capability_names_are_dropped() -> None:
    row = facts.merge(ModelInfo(id="x", capabilities=frozenset({"tools", "telepathy"})), "custom_openai", None)
    assert row["capabilities"] == ["tools"]


def test_merge_row_has_the_catalog_fields() -> None:
    row = facts.merge(ModelInfo(id="deepseek/deepseek-r1:free", input_price=0.0, output_price=0.0), "openrouter", None)
    assert {"id", "name", "context_window", "context_label", "capabilities", "speed", "free", "input_price",
            "output_price", "sources", "details"} <= set(row)
    assert row["free"] is True and row["speed"] == "Deep"


# --- speed tiers -------------------------------------------------------------------------------

@pytest.mark.parametrize(("model_id", "name", "tier"), [
    # Deep: thinks before answering
    ("o1", None, "Deep"), ("o3", None, "Deep"), ("o3-pro", None, "Deep"),
    ("o1-mini", None, "Deep"), ("o3-mini", None, "Deep"), ("o4-mini", None, "Deep"),  # o-series minis still reason
    ("openai/o4-mini-high", None, "Deep"), ("gpt-5-pro", None, "Deep"),
    ("deepseek-reasoner", None, "Deep"), ("deepseek/deepseek-r1:free", None, "Deep"),
    ("deepseek-r1-distill-llama-70b", None, "Deep"),
    ("anthropic/claude-3.7-sonnet:thinking", None, "Deep"), ("gemini-2.0-flash-thinking-exp", None, "Deep"),
    ("claude-opus-4-1", None, "Deep"), ("claude-3-opus-20240229", None, "Deep"),
    ("qwq-32b", None, "Deep"), ("Qwen/Qwen3-235B-A22B-Thinking-2507", None, "Deep"),
    ("gemini-2.5-pro", None, "Deep"), ("gemini-3-pro-preview", None, "Deep"), ("models/gemini-3.1-pro-preview", None, "Deep"),
    ("grok-3-mini", None, "Deep"), ("grok-4-0709", None, "Deep"), ("grok-4-fast-reasoning", None, "Deep"),
    ("magistral-small-2506", None, "Deep"), ("sonar-reasoning-pro", None, "Deep"), ("sonar-deep-research", None, "Deep"),
    ("command-a-reasoning-08-2025", None, "Deep"), ("kimi-k2-thinking", None, "Deep"),
    # Fast: thinking switched off, or the non-small default
    ("grok-4-fast-non-reasoning", None, "Fast"), ("x-ai/grok-4.1-fast", None, "Fast"),
    ("gpt-4o", None, "Fast"), ("gpt-4.1", None, "Fast"), ("gpt-5", None, "Fast"), ("gpt-5.1", None, "Fast"),
    ("claude-sonnet-4-5", None, "Fast"), ("gemini-1.5-pro", None, "Fast"),
    ("mistral-large-2411", None, "Fast"), ("codestral-2508", None, "Fast"), ("command-r-plus", None, "Fast"),
    ("deepseek-chat", None, "Fast"), ("llama-3.3-70b-versatile", None, "Fast"), ("sonar-pro", None, "Fast"),
    ("glm-4.6", None, "Fast"), ("kimi-k2-0905-preview", None, "Fast"), ("jamba-large", None, "Fast"),
    ("my-local-finetune", None, "Fast"),
    # Instant: the small tiers
    ("gpt-4o-mini", None, "Instant"), ("gpt-4.1-nano", None, "Instant"), ("gpt-5-mini", None, "Instant"),
    ("claude-haiku-4-5", None, "Instant"), ("claude-3-5-haiku-20241022", None, "Instant"),
    ("gemini-2.5-flash", None, "Instant"), ("gemini-2.0-flash-lite", None, "Instant"), ("gemini-1.5-flash-8b", None, "Instant"),
    ("llama-3.1-8b-instant", None, "Instant"), ("mistral-small-2506", None, "Instant"), ("ministral-8b-2410", None, "Instant"),
    ("gemma2-9b-it", None, "Instant"), ("meta-llama/llama-3.2-1b-instruct", None, "Instant"), ("qwen/qwen3-0.6b", None, "Instant"),
    ("jamba-mini", None, "Instant"), ("command-r7b-12-2024", None, "Instant"), ("glm-4.5-flash", None, "Instant"),
    # word boundaries: "gemini" is not "mini", "4o" is not "o4"
    ("gemini-1.5-pro", "Gemini 1.5 Pro", "Fast"), ("gpt-4o", "GPT-4o", "Fast"),
    # the display name counts too
    ("acme/model-x", "Acme X Reasoning", "Deep"), ("acme/model-y", "Acme Y Mini", "Instant"),
])
def test_speed_tiers_by_family(model_id: str, name: str | None, tier: str) -> None:
    assert facts.speed_tier(model_id, name) == tier


def test_speed_rules_are_data_with_known_tiers() -> None:
    assert facts.SPEED_RULES and all(tier in {"Instant", "Fast", "Deep"} for _, tier in facts.SPEED_RULES)
    for pattern, _ in facts.SPEED_RULES:
        re.compile(pattern)


# --- context labels -----------------------------------------------------------------------------

@pytest.mark.parametrize(("tokens", "label"), [
    (4096, "4K"), (8192, "8K"), (16385, "16K"), (32000, "32K"), (32768, "32K"), (65536, "64K"),
    (128000, "128K"), (131072, "128K"), (163840, "160K"), (200000, "200K"), (204800, "200K"),
    (256000, "256K"), (262144, "256K"), (400000, "400K"),
    (1000000, "1M"), (1047576, "1M"), (1048576, "1M"), (1500000, "1.5M"), (2000000, "2M"), (2097152, "2M"),
    (1536, "1.5K"), (999999, "1M"), (512, "512"), (None, None), (0, None), (-5, None),
])
def test_context_labels(tokens: int | None, label: str | None) -> None:
    assert facts.format_context(tokens) == label


# --- Free -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("info", "free"), [
    (ModelInfo(id="a", free=True), True),
    (ModelInfo(id="vendor/model:free"), True),
    (ModelInfo(id="b", input_price=0.0, output_price=0.0), True),
    (ModelInfo(id="c", input_price=0.15, output_price=0.6), False),
    (ModelInfo(id="c2", input_price=0.0, output_price=0.6), False),
    (ModelInfo(id="c3", input_price=None, output_price=2.0), False),
    (ModelInfo(id="d"), None),
    (ModelInfo(id="d2", input_price=0.0), None),  # half known: not enough to say free
    (ModelInfo(id="openrouter/auto", input_price=-1.0, output_price=-1.0), None),  # "varies"
    (ModelInfo(id="e", free=False, input_price=0.0, output_price=0.0), False),  # the provider's word wins
])
def test_free_detection(info: ModelInfo, free: bool | None) -> None:
    assert facts.is_free(info) is free


# --- the curated file ------------------------------------------------------------------------------

def test_every_row_has_a_source_date_and_known_fields() -> None:
    allowed = {"vendor", "id", "aliases", "name", "context_window", "max_output", "capabilities", "family",
               "source", "as_of", "note"}
    for row in ROWS:
        assert set(row) <= allowed, row["id"]
        assert {"vendor", "id", "name", "source", "as_of"} <= set(row), row["id"]
        assert re.fullmatch(r"https://[^\s]+", row["source"]), row["id"]
        assert re.fullmatch(r"20\d{2}-\d{2}-\d{2}", row["as_of"]), row["id"]
        assert set(row.get("capabilities", [])) <= set(CAPABILITIES), row["id"]
        assert row.get("capabilities", []) == sorted(row.get("capabilities", [])), row["id"]
        for number in ("context_window", "max_output"):
            value = row.get(number)
            assert value is None or (isinstance(value, int) and value > 0), (row["id"], number)


def test_ids_and_aliases_are_unique_even_after_normalization() -> None:
    exact: dict[str, set[str]] = defaultdict(set)
    clean: dict[str, set[str]] = defaultdict(set)
    for row in ROWS:
        for key in (row["id"], *row.get("aliases", [])):
            exact[key.lower()].add(row["id"])
            clean[facts.clean_id(key)].add(row["id"])
    assert {k: v for k, v in exact.items() if len(v) > 1} == {}
    assert {k: v for k, v in clean.items() if len(v) > 1} == {}


def test_every_row_and_alias_looks_up_to_itself() -> None:
    for row in ROWS:
        for key in (row["id"], *row.get("aliases", [])):
            fact = facts.lookup(key)
            assert fact is not None and fact.id == row["id"], key


def test_file_is_sorted_by_vendor_then_id() -> None:
    keys = [(row["vendor"], row["id"].lower()) for row in ROWS]
    assert keys == sorted(keys)


def test_covers_the_major_models_of_the_guide() -> None:
    for model_id in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "o1", "o3", "o4-mini", "gpt-5",
                     "claude-3-5-sonnet-20241022", "claude-3-7-sonnet-20250219", "claude-sonnet-4-0",
                     "claude-opus-4-1", "claude-haiku-4-5", "claude-sonnet-4-5",
                     "gemini-1.5-pro", "gemini-2.0-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite",
                     "mistral-large-2411", "mistral-medium-2505", "mistral-small-2503", "codestral-2501",
                     "open-mistral-nemo", "llama-3.3-70b-versatile", "mixtral-8x7b-32768", "gemma2-9b-it",
                     "sonar", "sonar-pro", "deepseek-chat", "deepseek-reasoner", "grok-2-1212", "grok-3",
                     "grok-4-0709", "jamba-large", "command-r-08-2024", "command-r-plus-08-2024",
                     "command-a-03-2025", "llama-3-erato-v1", "kimi-k2-0905-preview", "glm-4.6",
                     "Qwen/Qwen3-235B-A22B-Instruct-2507", "openai"):
        assert facts.lookup(model_id) is not None, model_id


# --- speed of the whole thing -----------------------------------------------------------------------

def test_ten_thousand_lookups_and_merges_are_fast(capsys: pytest.CaptureFixture[str]) -> None:
    ids = [row["id"] for row in ROWS] + [a for row in ROWS for a in row.get("aliases", [])]
    ids = [f"vendor{i % 50}/{ids[i % len(ids)]}-2025-0{1 + i % 9}-1{i % 10}:free" if i % 3 else f"unknown-model-{i}"
           for i in range(10_000)]
    facts.lookup.cache_clear()
    facts.speed_tier.cache_clear()
    start = time.perf_counter()
    found = sum(facts.lookup(model_id) is not None for model_id in ids)
    lookups = time.perf_counter() - start
    start = time.perf_counter()
    rows = [facts.merge(ModelInfo(id=model_id, input_price=0.0, output_price=0.0), "openrouter", None) for model_id in ids]
    merges = time.perf_counter() - start
    assert found > 0 and len(rows) == 10_000
    with capsys.disabled():
        print(f"\n10,000 cold lookups: {lookups * 1000:.1f} ms ({found} found); 10,000 merges: {merges * 1000:.1f} ms")
