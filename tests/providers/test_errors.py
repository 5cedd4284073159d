"""Status/body classification, retry-after parsing, redaction and the guide's texts."""

from __future__ import annotations

import json

import httpx
import pytest

from rolecall.net import BlockedAddress
from rolecall.providers.errors import (
    GUIDE_TEXTS,
    KINDS,
    ProviderError,
    explain,
    from_response,
    headline,
    kind_for,
    map_upstream_errors,
    parse_retry_after,
    redact,
)
from rolecall.providers.inband import from_stream_error

KEY = "sk-proj-SECRETSECRETSECRET1234"


def _err(status: int, body: object, headers: dict[str, str] | None = None) -> ProviderError:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return from_response(status, headers or {}, content, secrets=[KEY])


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, {"error": {"message": "bad key"}}, "auth"),
        (403, {"error": {"message": "region not supported"}}, "forbidden"),
        (404, {"error": {"message": "model not found"}}, "not_found"),
        (429, {"error": {"message": "slow down", "type": "rate_limit_exceeded"}}, "rate_limited"),
        (429, {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota"}}, "billing"),
        (402, {"error": {"code": 402, "message": "Insufficient credits"}}, "billing"),
        (412, {"error": {"message": "account suspended"}}, "billing"),
        (400, {"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT",
                         "details": [{"reason": "API_KEY_INVALID"}]}}, "auth"),
        (400, {"error": {"message": "Incorrect API key provided: xai-..."}}, "auth"),
        (400, {"error": {"code": "context_length_exceeded", "message": "too long"}}, "context_too_long"),
        (400, {"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 250000 tokens"}}, "context_too_long"),
        (400, {"error": {"message": "temperature must be <= 2"}}, "bad_request"),
        (422, {"detail": [{"msg": "field required"}]}, "bad_request"),
        (500, {"error": {"message": "invalid api key handling crashed"}}, "unavailable"),
        (502, b"<html>Bad gateway</html>", "unavailable"),
        (503, {"error": {"message": "overloaded"}}, "unavailable"),
        (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "unavailable"),
        (504, {}, "timeout"),
        (408, {}, "timeout"),
        (418, {}, "bad_request"),
    ],
)
def test_status_and_body_give_the_kind(status: int, body: object, kind: str) -> None:
    assert _err(status, body).kind == kind


def test_a_5xx_body_marker_never_turns_an_outage_into_a_key_problem() -> None:
    assert kind_for(503, {"error": {"message": "invalid api key"}}) == "unavailable"


def test_message_is_the_providers_text_with_the_key_redacted() -> None:
    error = _err(401, {"error": {"message": f"Incorrect API key provided: {KEY}."}})
    assert error.message == "Incorrect API key provided: [REDACTED]."
    for text in (str(error), repr(error), error.message, explain(error)):
        assert KEY not in text


def test_basic_auth_form_of_the_key_is_redacted_too() -> None:
    import base64

    encoded = base64.b64encode(f"user:{KEY}".encode()).decode()
    assert KEY not in redact(f"Authorization: Basic {encoded}", [KEY])
    assert encoded not in redact(f"Authorization: Basic {encoded}", [KEY])


def test_html_error_pages_are_not_shown_as_messages() -> None:
    assert _err(502, b"<!doctype html><h1>nginx</h1>").message == "HTTP 502"


def test_plain_text_bodies_are_kept() -> None:
    assert _err(404, b"Not Found").message == "Not Found"


def test_long_messages_are_clipped() -> None:
    assert len(_err(400, {"error": {"message": "x" * 5000}}).message) <= 500


def test_redirects_become_bad_response_naming_the_fix() -> None:
    error = from_response(302, {"location": "http://169.254.169.254/"}, b"")
    assert error.kind == "bad_response" and "Base URL" in error.message


@pytest.mark.parametrize(
    ("headers", "body", "seconds"),
    [
        ({"retry-after": "7"}, None, 7.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, None, 1.5),
        ({"retry-after": "soon"}, None, None),
        ({}, {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}}, 37.0),
        ({"retry-after": "999999999"}, None, 86400.0),
        ({}, None, None),
    ],
)
def test_retry_after(headers: dict[str, str], body: object, seconds: float | None) -> None:
    assert parse_retry_after(headers, body) == seconds


def test_retry_after_http_date() -> None:
    import email.utils
    import time

    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after({"retry-after": date}) or 0) <= 31


def test_429_carries_retry_after() -> None:
    error = _err(429, {"error": {"message": "slow"}}, {"retry-after": "12"})
    assert (error.kind, error.status, error.retry_after) == ("rate_limited", 429, 12.0)


def test_stream_errors_use_the_code_inside_the_body() -> None:
    error = from_stream_error({"error": {"code": 502, "message": f"upstream died {KEY}"}}, secrets=[KEY])
    assert (error.kind, error.status) == ("unavailable", 502) and KEY not in error.message
    anthropic = from_stream_error({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert anthropic.kind == "unavailable"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused"), "unavailable"),
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.RemoteProtocolError("peer closed"), "unavailable"),
        (httpx.ReadError("reset"), "unavailable"),
        (json.JSONDecodeError("x", "doc", 0), "bad_response"),
        (BlockedAddress("example.test", "10.0.0.1", "private"), "blocked"),
    ],
)
def test_map_upstream_errors(exc: Exception, kind: str) -> None:
    with pytest.raises(ProviderError) as caught:
        with map_upstream_errors(secrets=[KEY]):
            raise exc
    assert caught.value.kind == kind
    assert caught.value.__cause__ is exc


def test_blocked_message_is_the_net_errors_message() -> None:
    blocked = BlockedAddress("localhost", "127.0.0.1", "loopback")
    with pytest.raises(ProviderError) as caught:
        with map_upstream_errors():
            raise blocked
    assert caught.value.message == str(blocked)
    assert explain(caught.value) == str(blocked)


def test_every_kind_has_a_text_and_a_headline() -> None:
    for kind in KINDS:
        error = ProviderError(kind, "m")
        assert explain(error) and headline(error)


def test_guide_texts_are_the_guides_words() -> None:
    assert GUIDE_TEXTS["auth"].startswith("The key you pasted is wrong or has been revoked.")
    assert explain(ProviderError("rate_limited")) == (
        "Your key's rate limit was hit during the test. Wait a moment and try again. "
        "This doesn't mean the key is invalid."
    )
    assert explain(ProviderError("unavailable")) == "The provider is down or unreachable. Not a key problem — wait and try again."
    assert explain(ProviderError("not_found", custom_base=True)) == (
        "The Base URL you entered likely points at the wrong path. Try appending /v1 or /api/v1 "
        "explicitly if auto-detection failed."
    )
    assert explain(ProviderError("forbidden")).startswith("The key exists but doesn't have access")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        ProviderError("oops")


@pytest.mark.parametrize("prefix", ["", "u:", "us:", "use:", "user:"])
def test_key_inside_any_base64_alignment_is_redacted(prefix: str) -> None:
    import base64

    encoded = base64.b64encode(f"{prefix}{KEY}".encode()).decode()
    out = redact(f"Basic {encoded}", [KEY])
    assert "[REDACTED]" in out
    assert base64.b64encode(KEY.encode()).decode()[4:-4] not in out
