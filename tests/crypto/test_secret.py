"""The Secret wrapper and masked hints (docs/security.md, "Plaintext keys in the server")."""

from __future__ import annotations

import copy
import json
import logging
import pickle

import pytest

from rolecall.crypto import Secret, masked_hint

KEY = "sk-canary-0123456789abcdef"


def test_reveal_returns_the_value() -> None:
    assert Secret(KEY).reveal() == KEY


def test_every_printing_route_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    s = Secret(KEY)
    shown = [repr(s), str(s), f"{s}", f"{s!r}", f"{s:>30}", "%s" % s, f"{s}", repr([s]), repr({"k": s})]  # noqa: UP031 - %-formatting is a route under test
    assert all(KEY not in text and "cdef" not in text for text in shown), shown
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("key=%s %r", s, s)
    assert KEY not in caplog.text and "[secret]" in caplog.text


def test_serialisation_refused() -> None:
    s = Secret(KEY)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError) as info:
            pickle.dumps(s, protocol=protocol)
        assert KEY not in str(info.value)
    with pytest.raises(TypeError) as info:
        json.dumps({"api_key": s})
    assert KEY not in str(info.value)
    with pytest.raises(TypeError):
        list(s)
    with pytest.raises(TypeError):
        dict(s)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        vars(s)


def test_copy_is_safe_and_immutable() -> None:
    s = Secret(KEY)
    assert copy.copy(s) is s and copy.deepcopy({"k": s})["k"] is s
    with pytest.raises(AttributeError):
        s._value = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del s._value


def test_equality_without_hashing() -> None:
    assert Secret(KEY) == Secret(KEY)
    assert Secret(KEY) != Secret(KEY + "x")
    assert Secret(KEY) != KEY  # a Secret is not its string
    with pytest.raises(TypeError):
        hash(Secret(KEY))
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]
    assert not Secret("") and Secret("x")


@pytest.mark.parametrize(
    "key,hint",
    [
        ("sk-1234567890abcdef", "…cdef"),
        ("AIzaSyA-0123456789", "…6789"),
        ("x" * 15 + "ABCD", "…ABCD"),
        ("0123456789abcde", "••••"),  # 15 chars: too short to show any of it
        ("short", "••••"),
        ("", "••••"),
    ],
)
def test_masked_hint(key: str, hint: str) -> None:
    assert masked_hint(key) == hint
    assert Secret(key).hint == hint
