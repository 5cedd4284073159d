"""Model-list rows -> `ModelInfo`, driven by the registry's `ModelFields`, plus static lists.

Only what the provider actually returned is filled in; an absent context window stays None
(the catalog may add curated facts later and must be able to tell the two apart).
"""

from __future__ import annotations

import functools
import json
import re
from collections import OrderedDict
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


_LOWER_WORDS = re.compile(r"[a-z0-9|-]+")


@functools.cache
def _drop_patterns(pattern: str) -> tuple[re.Pattern[str], re.Pattern[str] | None]:
    """The pattern case-blind, and for a plain list of lowercase words also case-sensitive:
    searching a lowercased ASCII id with it finds the same and takes a fifth of the time."""
    plain = re.compile(pattern) if _LOWER_WORDS.fullmatch(pattern) else None
    return re.compile(pattern, re.IGNORECASE), plain


def _dropped(pattern: str, model_id: str) -> bool:
    blind, plain = _drop_patterns(pattern)
    if plain is not None and model_id.isascii():
        return plain.search(model_id.lower()) is not None
    return blind.search(model_id) is not None


@dataclass(frozen=True)
class _Roots:
    """The first key of every path in each group: an item holding none of them skips the group."""

    caps: frozenset[str]
    name: frozenset[str]
    context: frozenset[str]
    max_output: frozenset[str]


def _of(paths: Iterable[str | None]) -> frozenset[str]:
    return frozenset(path.split(".", 1)[0] for path in paths if path is not None)


@functools.cache
def _roots(fields: ModelFields) -> _Roots:
    return _Roots(_of(rule.path for rule in fields.caps), _of(fields.name), _of(fields.context), _of(fields.max_output))


@functools.cache
def _detail_roots(fields: ModelFields) -> frozenset[str]:
    """The first key of every path that can add more than the id: an item holding none of them
    (`{"id", "object", "created", "owned_by"}`, most OpenAI-compatible lists) is a bare id."""
    roots = _roots(fields)
    return (roots.caps | roots.name | roots.context | roots.max_output
            | _of(rule.path for rule in fields.keep) | _of((fields.price_in, fields.price_out)))


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
    if fields.drop_ids and _dropped(fields.drop_ids, model_id):
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


def _bare_model(item: dict[str, Any], fields: ModelFields) -> ModelInfo | None:
    """An item none of whose keys but the id's can fill a field: no name, numbers, prices or capabilities."""
    model_id = _first(item, fields.id)
    if not isinstance(model_id, str):
        return None
    if fields.drop_ids and _dropped(fields.drop_ids, model_id):
        return None
    return _id_only(model_id, True if fields.all_free or model_id.endswith(":free") else None)


_ID_ONLY = vars(ModelInfo(""))


def _id_only(model_id: str, free: bool | None) -> ModelInfo:
    """`ModelInfo(model_id, free=free)` without the frozen dataclass's nine guarded
    `__setattr__` calls, which cost more than everything else in a bare row."""
    info: ModelInfo = object.__new__(ModelInfo)
    vars(info).update(_ID_ONLY, id=model_id, free=free)
    return info


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
    return None if items is None else _mapped(items, fields)


def models_from_json(content: bytes, fields: ModelFields) -> list[ModelInfo] | None:
    """`models_from_list` of a list's raw JSON answer (ValueError if it is not JSON).

    Lists rarely change between two Tests or refreshes, and mapping is a pure function of (bytes,
    layout): the same bytes as last time under a layout skip decoding (~0.3 ms for 250 models)
    and mapping. The models are shared between calls and never changed (`ModelInfo` is frozen).
    """
    last = _LAST_LISTS.get(fields)
    if last is not None and last[0] == content:
        _LAST_LISTS.move_to_end(fields)
        return list(last[1])
    models = models_from_list(json.loads(content), fields)
    if models is not None:
        _LAST_LISTS[fields] = (content, tuple(models))
        if len(_LAST_LISTS) > _LAST_LISTS_LIMIT:
            _LAST_LISTS.popitem(last=False)
    return models


# The last list answer mapped under each field layout, with its models. A few layouts only
# (memory per list: the answer's bytes).
_LAST_LISTS: OrderedDict[ModelFields, tuple[bytes, tuple[ModelInfo, ...]]] = OrderedDict()
_LAST_LISTS_LIMIT = 8


def _mapped(items: list[Any], fields: ModelFields) -> list[ModelInfo]:
    seen: set[str] = set()
    result = []
    roots, details = _roots(fields), _detail_roots(fields)
    for item in items:
        # A bare item gets what model_from_item would give it, in a fifth of the time.
        bare = isinstance(item, dict) and details.isdisjoint(item)
        info = _bare_model(item, fields) if bare else model_from_item(item, fields, roots)
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
