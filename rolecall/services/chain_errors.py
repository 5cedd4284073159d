"""Why a chain walk gave no reply: each entry's miss, and the one error the person reads.

A walk where any call went out ends with the last upstream error; a walk where nothing was called
with the most telling skip (`RELEVANCE`); with more than one entry, what happened to each of the
others follows in the message (docs/decisions.md, "Issue 12: the fallback chain in generation").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from rolecall.services import connections
from rolecall.services.fallback import Planned
from rolecall.services.generation_errors import GenerationError, headline_for, refusal

# Which skip best explains a walk where nothing was called (first: most telling).
RELEVANCE = {kind: rank for rank, kind in enumerate((
    "key_unavailable", "balance_empty", "context_too_long", "no_vision", "rate_limited", "circuit_open", "busy",
    "deadline", "auth", "premiere_unavailable", "config_broken", "broken"))}


@dataclass
class Miss:
    """Why an entry gave no reply (for the final error): ``reason`` is the provider's own text
    (already cleared of secrets) when a call went out, else the skip reason."""

    entry: Planned
    kind: str
    reason: str
    error: GenerationError
    tried: bool  # an upstream call went out
    status: int | None = None  # the upstream's HTTP status, when it answered one


def skip_error(entry: Planned, background: bool) -> GenerationError:
    """The page's error for a planned skip (when it is the reason nothing answered)."""
    kind, reason = entry.skip_kind, entry.skip
    if kind == "broken":
        return refusal("config_gone")
    if kind == "key_unavailable":
        return refusal("key_needed", entry.section or None, reason if background else None)
    if kind == "balance_empty":
        return GenerationError("balance_empty", headline_for("balance_empty"), reason)
    if kind == "premiere_unavailable":
        return refusal("premiere_unavailable", message=reason)
    if kind == "rate_limited":
        until = entry.verdict.until if entry.verdict else None
        wait = max(1.0, until - time.time()) if until else None
        return GenerationError("rate_limited", "Rate limited", reason, entry.section or None, wait)
    return GenerationError("unavailable", "Provider unavailable", reason, entry.section or None)


def final_error(misses: Sequence[Miss], background: bool) -> GenerationError:
    """The most telling reason nothing answered: the last upstream error, else the most telling
    skip; with more than one entry, what happened to each of the others is added."""
    if not misses:
        return refusal("no_model")
    if background and all(m.kind == "key_unavailable" and not m.tried for m in misses):
        return GenerationError("key_needed", "End-to-end keys can't be used here", connections.E2E_IN_BACKGROUND,
                               misses[0].entry.section or None)
    tried = [m for m in misses if m.tried]
    main = tried[-1] if tried else min(misses, key=lambda m: RELEVANCE.get(m.kind, len(RELEVANCE)))
    if len(misses) == 1:
        return main.error
    others = "; ".join(f"{_name(m.entry)}: {m.reason.rstrip('.')}" for m in misses if m is not main)
    message = f"{main.error.message} (Also tried: {others}.)"
    return GenerationError(main.error.kind, main.error.headline, message, main.error.config_id,
                           main.error.retry_after)


def _name(entry: Planned) -> str:
    return f"{entry.label or 'a deleted config'} ({entry.model_id})"
