"""Model facts and display rules for the catalog: curated facts, speed tiers, context labels, Free.

Precedence for every field of a catalog row: the provider's own model list (or, for providers
without one, RoleCall's static list), then the curated facts shipped in ``data/model_facts.json``
(each row with its source URL and the date it was checked), else unknown (None). Nothing is
invented here: a row without a number leaves the number unknown.

Everything is pure and fast (the catalog merges 10,000+ models per request): the indexes are built
once at import, each lookup is a few dict probes, and repeated ids are answered from a cache.

Lookup order for a model id (first hit wins):
1. exact: the id or an alias of a curated row, case-insensitive;
2. clean: lower-cased, OpenRouter ``:free``/``:beta``/``:thinking`` suffix dropped, vendor prefix
   dropped (``anthropic/…``, ``models/…``, ``accounts/x/models/…``), fine-tune wrapper ``ft:`` dropped,
   and ``.`` spelled ``-`` (OpenRouter's ``claude-3.5-sonnet`` is Anthropic's ``claude-3-5-sonnet``);
3. base (fallback): the clean id with dated snapshot suffixes dropped (``-2024-08-06``, ``-20241022``,
   ``-08-2024``, ``-latest``, ``-001``, Vertex ``@20250929``). When several curated rows share a base
   and none of them is named by it, the base matches nothing: unknown beats wrong.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from rolecall.providers.types import CAPABILITIES, ModelInfo

Speed = Literal["Instant", "Fast", "Deep"]
CAPABILITY_NAMES = frozenset(CAPABILITIES)

# --- speed tiers ------------------------------------------------------------------------------
#
# The speed badge is a hint "based on the model family" (docs/user-guide.md,
# "7. Model Picker — What You See After Connecting"), not a measurement: how a host
# serves a model (Groq vs. a busy proxy) is not considered. The rules run, in order, over the
# lower-cased id and display name with every run of non-alphanumerics (except ".") turned into one
# space and a space added at both ends, so " mini " matches "gpt-4o-mini" but not "gemini".
# First match wins; no match is "Fast".
#
# * Deep = the model thinks before it answers, every call: OpenAI o-series *including* o1-mini /
#   o3-mini / o4-mini (a mini still spends seconds on hidden reasoning: small is not instant),
#   anything named reasoning / reasoner / thinking, DeepSeek R1, QwQ/QVQ, Magistral, deep research,
#   Gemini 2.5+ Pro (thinking cannot be switched off), GPT-5 pro, Grok 3 mini and Grok 4 (reasoning
#   only), and the largest Claude tiers (Opus, Fable, Mythos).
# * "non-reasoning" / "non-thinking" variants of hybrid models are checked first and are Fast.
# * Instant = the small, low-latency tiers vendors name as such: mini, nano, micro, tiny, small,
#   lite, flash, haiku, instant, Ministral, Command R7B, and models of at most 9B parameters.
# * Fast = everything else (GPT-4o, GPT-4.1, GPT-5, Sonnet, Gemini 1.5 Pro, Mistral Large, Llama 70B,
#   DeepSeek Chat, GLM, Kimi K2, Command R/A, Jamba Large, Sonar, ...).
SPEED_RULES: tuple[tuple[str, Speed], ...] = (
    (r" non reasoning | non thinking | no think ", "Fast"),
    (r" o[1-9] ", "Deep"),
    (r" (reasoning|reasoner|thinking|think|r1|qwq|qvq|magistral|opus|fable|mythos) ", "Deep"),
    (r" deep research ", "Deep"),
    (r" gemini (2\.5|[3-9](\.\d+)?) pro ", "Deep"),
    (r" gpt 5(\.\d+)? pro ", "Deep"),
    (r" grok 4(\.1)? fast ", "Fast"),
    (r" grok (3 mini|4) ", "Deep"),
    (r" (mini|nano|micro|tiny|small|lite|flash|haiku|instant|ministral|r7b|\d(\.\d+)?b) ", "Instant"),
)
_SPEED = tuple((re.compile(pattern), tier) for pattern, tier in SPEED_RULES)
_WORDS = re.compile(r"[^a-z0-9.]+")

# --- normalization ----------------------------------------------------------------------------

_SNAPSHOT = re.compile(r"(?:@.*|-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{2}-\d{4}|-latest|-\d{3})$")


@dataclass(frozen=True, slots=True)
class Fact:
    """One curated row of ``data/model_facts.json``."""

    id: str
    vendor: str
    name: str | None
    context_window: int | None
    max_output: int | None
    capabilities: frozenset[str]
    source: str
    as_of: str
    family: str | None = None
    aliases: tuple[str, ...] = ()
    note: str | None = None


def clean_id(model_id: str) -> str:
    """The id without case, vendor prefix, ``:suffix`` or fine-tune wrapper; ``.`` spelled ``-``."""
    text = model_id.strip().lower()
    if text.startswith("ft:"):  # OpenAI fine-tunes: ft:gpt-4o-mini-2024-07-18:org:name:id
        text = text[3:]
    text = text.split(":", 1)[0].rsplit("/", 1)[-1]
    return text.replace(".", "-")


def base_id(model_id: str) -> str:
    """The clean id without dated-snapshot suffixes (``-2024-08-06``, ``-latest``, ``-001``, ``@…``)."""
    return _strip_snapshots(clean_id(model_id))


def _strip_snapshots(text: str) -> str:
    while (stripped := _SNAPSHOT.sub("", text)) != text and stripped:
        text = stripped
    return text


def _fact(row: dict[str, Any]) -> Fact:
    return Fact(
        id=row["id"], vendor=row["vendor"], name=row.get("name"), context_window=row.get("context_window"),
        max_output=row.get("max_output"), capabilities=frozenset(row.get("capabilities") or ()),
        source=row["source"], as_of=row["as_of"], family=row.get("family"),
        aliases=tuple(row.get("aliases") or ()), note=row.get("note"),
    )


def load_rows() -> list[dict[str, Any]]:
    """The raw rows of the shipped facts file (for review tools and tests)."""
    text = resources.files("rolecall.providers").joinpath("data/model_facts.json").read_text("utf-8")
    return list(json.loads(text)["models"])


def _build(rows: list[dict[str, Any]]) -> tuple[tuple[Fact, ...], dict[str, Fact], dict[str, Fact], dict[str, Fact]]:
    facts = tuple(_fact(row) for row in rows)
    exact: dict[str, Fact] = {}
    clean: dict[str, Fact] = {}
    by_base: dict[str, list[Fact]] = {}
    for fact in facts:  # file order: the first row to claim a key keeps it (the tests forbid clashes)
        for key in (fact.id, *fact.aliases):
            exact.setdefault(key.lower(), fact)
            clean.setdefault(clean_id(key), fact)
            owners = by_base.setdefault(base_id(key), [])
            if fact not in owners:
                owners.append(fact)
    base: dict[str, Fact] = {}
    for key, owners in by_base.items():
        if key in clean:
            base[key] = clean[key]  # a row named exactly by the base wins ("gpt-4o" for gpt-4o-2024-05-13)
        elif len(owners) == 1:
            base[key] = owners[0]
        # else: several rows share the base and none is named by it: unknown beats wrong
    return facts, exact, clean, base


FACTS, _EXACT, _CLEAN, _BASE = _build(load_rows())


@functools.lru_cache(maxsize=65536)
def lookup(model_id: str) -> Fact | None:
    """The curated row for a model id: exact id or alias, else the clean id, else the base id."""
    if not model_id:
        return None
    found = _EXACT.get(model_id.strip().lower())
    if found is None:
        clean = clean_id(model_id)
        found = _CLEAN.get(clean) or _BASE.get(_strip_snapshots(clean))
    return found


# --- display rules ----------------------------------------------------------------------------

@functools.lru_cache(maxsize=65536)
def speed_tier(model_id: str, name: str | None = None) -> Speed:
    """Instant, Fast or Deep for a model family (rules: ``SPEED_RULES``)."""
    words = _WORDS.sub(" ", f"{model_id} {name or ''}".lower()).strip()
    text = f" {words} "
    for pattern, tier in _SPEED:
        if pattern.search(text):
            return tier
    return "Fast"


def _rounder(tokens: int, decimal_unit: int, binary_unit: int, step: float) -> float:
    """tokens in decimal or binary units, whichever reading lands nearer a multiple of ``step``:
    131072 -> 128 (binary thousands), 128000 -> 128 (decimal), 1048576 -> 1.0 (binary millions)."""
    decimal, binary = tokens / decimal_unit, tokens / binary_unit
    miss_decimal = abs(decimal / step - round(decimal / step))
    miss_binary = abs(binary / step - round(binary / step))
    return binary if miss_binary < miss_decimal else decimal


@functools.lru_cache(maxsize=4096)
def format_context(tokens: int | None) -> str | None:
    """A short label: 8192 -> "8K", 131072 -> "128K", 200000 -> "200K", 1048576 -> "1M", 1.5M -> "1.5M".

    Binary and decimal thousands both map to the familiar label (whichever reading is rounder);
    under 10K one decimal is kept when it matters (1536 -> "1.5K"); None/0/negative -> None.
    """
    if not tokens or tokens <= 0:
        return None
    if tokens < 1000:
        return str(tokens)
    thousands = _rounder(tokens, 1000, 1024, 1)
    if tokens >= 1_000_000 or round(thousands) >= 1000:
        millions = round(_rounder(tokens, 1_000_000, 1024 * 1024, 0.1), 1)
        return f"{millions:g}M"
    if thousands < 10 and abs(thousands - round(thousands)) >= 0.05:
        return f"{round(thousands, 1):g}K"
    return f"{round(thousands)}K"


def is_free(info: ModelInfo) -> bool | None:
    """True when the provider says free, the id ends with ``:free`` or both prices are 0; False when
    a positive price is known (or the provider says not free); None when unknown.

    A negative price (OpenRouter's ``-1`` for "varies", e.g. its auto router) counts as unknown.
    """
    if info.free is not None:
        return info.free
    if info.id.endswith(":free"):
        return True
    prices = [p for p in (info.input_price, info.output_price) if p is not None and p >= 0]
    if any(p > 0 for p in prices):
        return False
    if len(prices) == 2:
        return True
    return None


def merge(info: ModelInfo, provider_id: str, fetched_at: str | None) -> dict[str, Any]:
    """One catalog row: the provider's own list first, then the curated facts, else unknown.

    ``sources`` says where each field came from: "provider" (the provider's list), "static"
    (RoleCall's static list for providers without one: ``info.source == "static"``), "curated"
    (``model_facts.json``) or None (unknown; the name then falls back to the id). ``provider_id``
    names the catalog section's provider; the rules do not depend on it today.
    """
    fact = lookup(info.id)
    listed = "static" if info.source == "static" else "provider"

    own_name = info.name if info.name and info.name != info.id else None
    name, name_from = _pick(own_name, listed, fact.name if fact else None)
    context, context_from = _pick(info.context_window or None, listed, fact.context_window if fact else None)
    max_output, max_output_from = _pick(info.max_output or None, listed, fact.max_output if fact else None)
    own_caps = info.capabilities & CAPABILITY_NAMES
    caps, caps_from = _pick(own_caps or None, listed, (fact.capabilities & CAPABILITY_NAMES) if fact else None)
    return {
        "id": info.id,
        "name": name or info.id,
        "context_window": context,
        "context_label": format_context(context),
        "max_output": max_output,
        "capabilities": sorted(caps or ()),
        "speed": speed_tier(info.id, name),
        "free": is_free(info),
        "input_price": info.input_price,
        "output_price": info.output_price,
        "sources": {"name": name_from, "context_window": context_from, "capabilities": caps_from,
                    "max_output": max_output_from},
        "details": {
            "provider_list_at": fetched_at if listed == "provider" else None,
            "curated_id": fact.id if fact else None,
            "curated_source": fact.source if fact else None,
            "curated_as_of": fact.as_of if fact else None,
        },
    }


def _pick(own: Any, listed: str, curated: Any) -> tuple[Any, str | None]:
    if own:
        return own, listed
    if curated:
        return curated, "curated"
    return None, None
