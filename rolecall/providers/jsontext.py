"""JSON typed into a form (custom headers, body params, a service-account JSON), and the chunks of
a provider's stream, read with a depth bound; and the bodies of provider requests, written.

CPython's decoder recurses once per nesting level, so `[[[[...` a few thousand deep raises
`RecursionError` (not `ValueError`) and a request would end in a 500. The text is scanned for its
bracket depth first, outside string literals, which is linear and cannot recurse.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

MAX_DEPTH = 32  # far beyond any real header map, sampler object or service-account JSON
STREAM_DEPTH = 64  # a stream chunk: the deepest real ones (Gemini's) nest well under ten

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class TooDeep(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"nested more than {limit} levels deep")
        self.limit = limit


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting in ``text``, ignoring brackets inside JSON strings."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def deeper_than(text: str, limit: int) -> bool:
    """Whether ``text``'s brackets nest more than ``limit`` deep (outside JSON strings)."""
    # Nothing nests deeper than it has opening brackets: most texts are answered by two counts in C.
    return text.count("[") + text.count("{") > limit and nesting_depth(text) > limit


def loads(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that raises ``TooDeep`` (a ValueError) instead of recursing without bound."""
    if deeper_than(text, max_depth):
        raise TooDeep(max_depth)
    return json.loads(text)


def stream_chunk(text: str) -> Any:
    """One event of a provider's stream, parsed as `json.loads` would parse it.

    Every relayed chunk is parsed once, so it is read with orjson (~0.5 µs against json's ~1.9 µs
    for an OpenAI chunk). What JSON's grammar allows and orjson refuses (NaN and Infinity, integers
    past 64 bits, lone surrogates) is read again with json, under the depth bound: a chunk nested
    too deep is `TooDeep`, a malformed answer like any other, never a `RecursionError`."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return loads(text, STREAM_DEPTH)


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON: what ``json.dumps(value, ensure_ascii=False, separators=(",", ":"),
    allow_nan=False).encode()`` writes, with orjson.

    A provider request carries the whole prompt, hundreds of kilobytes for a long scene on a large
    window, and json took ~0.4 ms for 200 messages where orjson takes ~15 µs (docs/decisions.md,
    "Provider request bodies are written with orjson"). What orjson refuses (integers past 64 bits,
    keys that are not strings, lone surrogates) goes to json, as before. One difference: orjson
    writes NaN and Infinity as null where json refuses them; neither is JSON, and RoleCall refuses
    them where a request's values come in (preset samplers, Custom Body Params, /v1 bodies)."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
