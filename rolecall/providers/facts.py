"""Model facts and display rules for the catalog: curated facts, speed tiers, context labels, Free.

Precedence for every field of a catalog row: the provider's own model list, then the curated
facts shipped in ``data/model_facts.json`` (each row with its source and date), else unknown
(None). Nothing is invented. Lookups are O(1): the indexes are built once at import.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rolecall.providers.types import ModelInfo

CAPABILITY_NAMES = frozenset({"vision", "tools", "json", "web_search", "reasoning"})

# Speed by model family, first match wins (searched in the lower-cased id and name). Deep: models
# that think before answering; Instant: the small/fast tiers vendors name as such; Fast: the rest.
SPEED_RULES: tuple[tuple[str, str], ...] = (
    (r"\b(o1|o3|o4)\b(?!-mini)|reason|think|\br1\b|-r1|qwq|opus|deep-?research|magistral", "Deep"),
    (r"mini|nano|flash|haiku|instant|lite|tiny|small|\b[0-9](\.[0-9])?b\b|-[0-9]b\b|\b8b\b|gemma", "Instant"),
)
_SPEED = tuple((re.compile(pattern), tier) for pattern, tier in SPEED_RULES)
_SNAPSHOT = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-latest|-\d{3})$")


@dataclass(frozen=True)
class Fact:
    id: str
    name: str | None
    context_window: int | None
    max_output: int | None
    capabilities: frozenset[str]
    source: str
    as_of: str


def _load() -> tuple[dict[str, Fact], dict[str, Fact]]:
    rows = json.loads((Path(__file__).parent / "data" / "model_facts.json").read_text(encoding="utf-8"))["models"]
    exact: dict[str, Fact] = {}
    for row in rows:
        fact = Fact(row["id"], row.get("name"), row.get("context_window"), row.get("max_output"),
                    frozenset(row.get("capabilities", ())), row["source"], row["as_of"])
        for key in (row["id"], *row.get("aliases", ())):
            exact[key.lower()] = fact
    normalized = {_normalize(key): fact for key, fact in exact.items()}
    return exact, normalized


def _normalize(model_id: str) -> str:
    text = model_id.lower().split(":", 1)[0]  # OpenRouter ":free" / ":beta"
    text = text.rsplit("/", 1)[-1]  # "anthropic/claude-…", "models/gemini-…"
    text = text.replace(".", "-")
    return _SNAPSHOT.sub("", text)


_EXACT, _NORMALIZED = _load()


def lookup(model_id: str) -> Fact | None:
    """The curated row for a model id: exact id or alias, else the normalized id."""
    return _EXACT.get(model_id.lower()) or _NORMALIZED.get(_normalize(model_id))


def speed_tier(model_id: str, name: str | None = None) -> str:
    text = f"{model_id} {name or ''}".lower()
    for pattern, tier in _SPEED:
        if pattern.search(text):
            return tier
    return "Fast"


def format_context(tokens: int | None) -> str | None:
    """8192 → "8K", 131072 → "128K", 1048576 → "1M" (binary and decimal thousands alike)."""
    if not tokens:
        return None
    if tokens >= 1_000_000:
        millions = tokens / 1_000_000 if tokens % 1_000_000 == 0 or tokens % 1_048_576 else tokens / 1_048_576
        return f"{millions:g}M" if millions == int(millions) else f"{millions:.1f}M"
    thousands = tokens / 1000 if tokens % 1000 == 0 or tokens % 1024 else tokens / 1024
    return f"{round(thousands)}K"


def is_free(info: ModelInfo) -> bool | None:
    if info.free is not None:
        return info.free
    if info.id.endswith(":free"):
        return True
    prices = (info.input_price, info.output_price)
    if all(p is not None for p in prices):
        return all(p == 0 for p in prices)
    return False if any(p for p in prices if p) else None


def merge(info: ModelInfo, provider_id: str, fetched_at: str | None) -> dict[str, Any]:
    """One catalog row. ``provider_id`` names the section's provider (unused by the rules today)."""
    fact = lookup(info.id)
    listed = "provider" if info.source == "provider" else "static"
    name, name_from = (info.name, listed) if info.name else ((fact.name, "curated") if fact and fact.name else (None, None))
    context, context_from = (info.context_window, listed) if info.context_window else (
        (fact.context_window, "curated") if fact and fact.context_window else (None, None))
    caps, caps_from = (info.capabilities, listed) if info.capabilities else (
        (fact.capabilities, "curated") if fact and fact.capabilities else (frozenset(), None))
    return {
        "id": info.id, "name": name or info.id, "context_window": context, "context_label": format_context(context),
        "capabilities": sorted(caps & CAPABILITY_NAMES), "speed": speed_tier(info.id, name),
        "free": is_free(info), "input_price": info.input_price, "output_price": info.output_price,
        "sources": {"name": name_from, "context_window": context_from, "capabilities": caps_from},
        "details": {"provider_list_at": fetched_at if listed == "provider" else None,
                    "curated_source": fact.source if fact else None, "curated_as_of": fact.as_of if fact else None},
    }
