"""Strict envelope parsing (docs/security.md, "Envelope formats")."""

from __future__ import annotations

import os
from typing import Any

import pytest

from rolecall.crypto import (
    E2EEnvelope,
    EnvelopeError,
    SrvEnvelope,
    UdkEnvelope,
    b64url_decode,
    b64url_encode,
    parse_e2e,
    parse_envelope,
    parse_srv,
    parse_udk,
)
from rolecall.crypto.envelope import MAX_CIPHERTEXT_BYTES, MAX_PLAINTEXT_BYTES, decode_bundle, encode_bundle


def test_round_trips_of_all_three_kinds() -> None:
    e = E2EEnvelope(7, os.urandom(12), os.urandom(40))
    u = UdkEnvelope(1, os.urandom(12), os.urandom(48))
    s = SrvEnvelope("2026-11", os.urandom(60), os.urandom(12), os.urandom(17))
    assert str(e).startswith("rc1.e2e.7.") and str(e).count(".") == 4
    assert str(s).startswith("rc1.srv.2026-11.") and str(s).count(".") == 5
    assert parse_e2e(str(e)) == e
    assert parse_udk(str(u)) == u
    assert parse_srv(str(s)) == s
    assert parse_envelope(str(s)) == s


def test_kind_specific_parsers_refuse_the_other_kinds() -> None:
    e = str(E2EEnvelope(1, os.urandom(12), os.urandom(48)))
    u = str(UdkEnvelope(1, os.urandom(12), os.urandom(48)))
    with pytest.raises(EnvelopeError):
        parse_udk(e)
    with pytest.raises(EnvelopeError):
        parse_e2e(u)
    with pytest.raises(EnvelopeError):
        parse_srv(e)


@pytest.mark.parametrize(
    "text",
    ["", "AA", "AAA", "AAAA", "_-8", "AQ", "AQI"],
)
def test_b64url_round_trip(text: str) -> None:
    assert b64url_encode(b64url_decode(text)) == text


@pytest.mark.parametrize("text", ["A", "AA==", "A+", "A/", "A=", "AB", "AAB", " AA", "AA\n", "é"])
def test_b64url_is_strict(text: str) -> None:
    # "AB" and "AAB" carry non-zero unused bits: same bytes as "AA"/"AAA", so not canonical.
    with pytest.raises(EnvelopeError):
        b64url_decode(text)


def test_tampered_e2e_vectors_are_refused_structurally(e2e_vectors: dict[str, Any]) -> None:
    cases = [t for t in e2e_vectors["tampered"] if t["expect"] == "envelope"]
    assert len(cases) >= 20
    for case in cases:
        with pytest.raises(EnvelopeError) as info:
            parse_e2e(case["envelope"])
        message = str(info.value)
        # The message describes the problem; it never echoes the blob or its parts.
        assert all(len(part) < 8 or part not in message for part in case["envelope"].split(".")), case["why"]


def test_ten_megabyte_envelope_costs_one_length_check() -> None:
    with pytest.raises(EnvelopeError, match="too long"):
        parse_envelope("rc1.e2e.1." + "A" * 10_000_000)


def test_ciphertext_over_the_cap_refused_even_within_the_text_cap() -> None:
    text = "rc1.e2e.1." + b64url_encode(os.urandom(12)) + "." + b64url_encode(bytes(MAX_CIPHERTEXT_BYTES + 1))
    with pytest.raises(EnvelopeError, match="ciphertext must be"):
        parse_e2e(text)
    at_cap = "rc1.e2e.1." + b64url_encode(os.urandom(12)) + "." + b64url_encode(bytes(MAX_CIPHERTEXT_BYTES))
    assert len(parse_e2e(at_cap).ciphertext) == MAX_CIPHERTEXT_BYTES


@pytest.mark.parametrize("value", [None, b"rc1.e2e.1.AAAA.AAAA", 5])
def test_non_text_refused(value: object) -> None:
    with pytest.raises(EnvelopeError):
        parse_envelope(value)  # type: ignore[arg-type]


def test_dataclasses_validate_on_construction() -> None:
    with pytest.raises(EnvelopeError):
        E2EEnvelope(0, os.urandom(12), os.urandom(20))
    with pytest.raises(EnvelopeError):
        E2EEnvelope(1, os.urandom(11), os.urandom(20))
    with pytest.raises(EnvelopeError):
        UdkEnvelope(1, os.urandom(12), os.urandom(47))
    with pytest.raises(EnvelopeError):
        SrvEnvelope("bad.kid", os.urandom(60), os.urandom(12), os.urandom(20))
    with pytest.raises(EnvelopeError):
        SrvEnvelope("k", os.urandom(59), os.urandom(12), os.urandom(20))


def test_bundle_encoding_is_compact_utf8_json() -> None:
    assert encode_bundle({"api_key": "k", "headers": {"X": "ä"}}) == '{"api_key":"k","headers":{"X":"ä"}}'.encode()
    assert decode_bundle(encode_bundle({"a": [1, None]})) == {"a": [1, None]}


@pytest.mark.parametrize("bundle", [[1], "sk-x", {"k": float("nan")}, {"k": object()}, {"k": "x" * MAX_PLAINTEXT_BYTES}])
def test_bad_bundles_refused_without_echo(bundle: object) -> None:
    with pytest.raises(ValueError) as info:
        encode_bundle(bundle)  # type: ignore[arg-type]
    assert "sk-x" not in str(info.value) and "xxxx" not in str(info.value)
