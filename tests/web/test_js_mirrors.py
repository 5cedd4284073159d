"""Rules the browser must apply itself, kept equal to the server's.

The browser seals an End-to-End config's custom headers before upload, so the server never sees
their values and the Add Provider form has to refuse reserved or malformed headers on its own.
`provider_fields.js` therefore mirrors `providers.options`; these tests fail when the two drift.
"""

from __future__ import annotations

import re
from pathlib import Path

from rolecall.providers import options

JS = (Path(__file__).resolve().parents[2] / "rolecall" / "web" / "static" / "js" / "provider_fields.js").read_text()


def _js_set(name: str) -> set[str]:
    body = re.search(rf"const {name} = new Set\(\[(.*?)\]\);", JS, re.S)
    assert body, name
    return set(re.findall(r'"([^"]+)"', body.group(1)))


def _js_regex(name: str) -> str:
    found = re.search(rf"const {name} = /\^(.*)\$/;", JS)
    assert found, name
    return found.group(1)


def test_reserved_headers_match_the_server() -> None:
    assert _js_set("RESERVED_HEADERS") == set(options.RESERVED_HEADERS)


def test_header_name_and_value_rules_match_the_server() -> None:
    assert _js_regex("HEADER_NAME") == options._TOKEN.pattern
    assert _js_regex("PRINTABLE") == options._PRINTABLE.pattern
