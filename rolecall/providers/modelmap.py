"""Model-list rows -> `ModelInfo`, driven by the registry's `ModelFields`, plus static lists.

Only what the provider actually returned is filled in; an absent context window stays None
(the catalog may add curated facts later and must be able to tell the two apart).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from rolecall.providers.types import Keep, ModelFields, ModelInfo

_MISSING = object()


def get_path(obj: Any, path: str) -> Any:
    """`obj["a"]["b"]` for "a.b"; `_MISSING` when any step is absent."""
    if "." not in path:  # the common case, without splitting
        return obj.get(path, _MISSING) if isinstance(obj, dict) else _MISSING
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj


def _first(obj: Any, paths: Iterable[str]) -> Any:
    for path in paths:
        value = get_path(obj, path)
        if value is not _MISSING and value is not None and value != "":
            return value
    return None


def _int(value: Any) -> int | None:
    if value is None:  # most lists leave it out; raising and catching would cost more than the rest
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _price(item: dict[str, Any], path: str | None, per: int) -> float | None:
    if path is None:
        return None
    try:
        value = float(get_path(item, path))  # OpenRouter sends strings
    except (TypeError, ValueError):
        return None
    return round(value * 1_000_000 / per, 6) if value >= 0 else None


def _holds(value: Any, wanted: str) -> bool:
    return isinstance(value, (list, tuple, str)) and wanted in value


def _kept(item: dict[str, Any], rules: tuple[Keep, ...]) -> bool:
    for rule in rules:
        value = get_path(item, rule.path)
        if value is _MISSING or value is None:
            continue  # a list that does not say is not a reason to hide a model
        if rule.equals is not None:
            if value != rule.equals:
                return False
        elif rule.contains is not None:
            if not _holds(value, rule.contains):
                return False
        elif not value:
            return False
    return True


@functools.cache
def _drop_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True)
class _Roots:
    """The first key of every path in each group: an item holding none of them skips the group."""

    caps: frozenset[str]
    name: frozenset[str]
    context: frozenset[str]
    max_output: frozenset[str]


def _roots(fields: ModelFields) -> _Roots:
    def of(paths: Iterable[str]) -> frozenset[str]:
        return frozenset(path.split(".", 1)[0] for path in paths)

    return _Roots(of(rule.path for rule in fields.caps), of(fields.name), of(fields.context), of(fields.max_output))


def _first_in(item: dict[str, Any], paths: tuple[str, ...], roots: frozenset[str]) -> Any:
    return None if roots.isdisjoint(item) else _first(item, paths)


def model_from_item(item: Any, fields: ModelFields, roots: _Roots | None = None) -> ModelInfo | None:
    """One list item as a ModelInfo, or None when it has no id or the field map filters it out.

    ``roots`` lets a caller converting a whole list work them out once: most items carry only a
    few of the dozens of paths, and checking the first keys is what makes a long list cheap.
    """
    if roots is None:
        roots = _roots(fields)
    if isinstance(item, str):
        item = {"id": item}
    if not isinstance(item, dict):
        return None
    model_id = _first(item, fields.id)
    if not isinstance(model_id, str) or not _kept(item, fields.keep):
        return None
    if fields.drop_ids and _drop_pattern(fields.drop_ids).search(model_id):
        return None
    caps = frozenset(
        rule.cap for rule in fields.caps
        if (value := get_path(item, rule.path)) is not _MISSING
        and (_holds(value, rule.contains) if rule.contains else value is True)
    ) if not roots.caps.isdisjoint(item) else frozenset()
    price_in = _price(item, fields.price_in, fields.price_per)
    price_out = _price(item, fields.price_out, fields.price_per)
    free: bool | None = None
    if fields.all_free or model_id.endswith(":free"):
        free = True
    elif price_in is not None and price_out is not None:
        free = price_in == 0 and price_out == 0
    name = _first_in(item, fields.name, roots.name)
    return ModelInfo(
        id=model_id,
        name=name if isinstance(name, str) and name != model_id else None,
        context_window=_int(_first_in(item, fields.context, roots.context)),
        max_output=_int(_first_in(item, fields.max_output, roots.max_output)),
        capabilities=caps,
        input_price=price_in,
        output_price=price_out,
        free=free,
    )


def list_items(payload: Any) -> list[Any] | None:
    """The rows of a models list: `{"data": [...]}`, `{"models": [...]}` or a bare array."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for key in ("data", "models"):
            rows = payload.get(key)
            if isinstance(rows, list):
                return rows
    return None


def models_from_list(payload: Any, fields: ModelFields) -> list[ModelInfo] | None:
    """Every usable model in a list payload, de-duplicated by id; None if it isn't a list."""
    items = list_items(payload)
    if items is None:
        return None
    seen: set[str] = set()
    result = []
    roots = _roots(fields)
    for item in items:
        info = model_from_item(item, fields, roots)
        if info is not None and info.id not in seen:
            seen.add(info.id)
            result.append(info)
    return result


@functools.cache
def _static_table() -> dict[str, Any]:
    text = resources.files("rolecall.providers").joinpath("data/static_models.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def static_models(key: str) -> list[ModelInfo]:
    """Our curated list for a provider without a models endpoint (`StaticModels(key)`)."""
    return [
        ModelInfo(
            id=row["id"], name=row.get("name"), context_window=row.get("context_window"),
            max_output=row.get("max_output"), capabilities=frozenset(row.get("capabilities", ())),
            free=row.get("free"), source="static",
        )
        for row in _static_table()[key]
    ]
