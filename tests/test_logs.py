"""The secret filter: a canary key logged any way, at any level, never reaches the output."""

from __future__ import annotations

import io
import logging
from urllib.parse import quote, quote_plus

import pytest

from rolecall.logs import REDACTED, install_scrubber, scrub, setup_logging

CANARIES = [
    "sk-proj-CANARYcanary1234567890abcdef",
    "sk-ant-api03-CANARYcanary1234567890abcdef",
    "sk-or-v1-CANARYcanary1234567890abcdef",
    "AIzaSyCANARYcanary1234567890abcdefghi",
    "gsk_CANARYcanary1234567890abcdef",
    "pplx-CANARYcanary1234567890abcdef",
    "xai-CANARYcanary1234567890abcdef",
]


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    setup_logging("DEBUG", stream=stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.mark.parametrize("canary", CANARIES)
def test_canary_never_reaches_the_log(captured: io.StringIO, canary: str) -> None:
    log = logging.getLogger("rolecall.test")
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL):
        log.log(level, "key is %s", canary)
        log.log(level, f"f-string {canary}")
        log.log(level, "headers %s", {"Authorization": f"Bearer {canary}", "x-api-key": canary})
        log.log(level, "dict %r", {"api-key": canary})
    try:
        raise ValueError(f"provider said no to {canary}")
    except ValueError:
        log.exception("failed")
    log.warning("stack", stack_info=True, extra={"detail": canary})
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /x?key=%s HTTP/1.1" 200', canary)
    output = captured.getvalue()
    assert canary not in output
    assert canary[4:] not in output  # not even the tail without its prefix
    assert output.count(REDACTED) >= 25


def test_header_values_are_scrubbed_whatever_their_shape(captured: io.StringIO) -> None:
    log = logging.getLogger("rolecall.test")
    log.info("x-api-key: hunter2-not-a-known-shape")
    log.info("Authorization: Basic dXNlcjpodW50ZXIy")
    log.info("{'api-key': 'abc123def456'}")
    output = captured.getvalue()
    for secret in ("hunter2-not-a-known-shape", "dXNlcjpodW50ZXIy", "abc123def456"):
        assert secret not in output


def test_ordinary_text_is_left_alone() -> None:
    text = "GET /models 200 in 12 ms for account 3f2a; sk is short for sketch"
    assert scrub(text) == text


def test_scrubber_also_covers_other_handlers(caplog: pytest.LogCaptureFixture) -> None:
    install_scrubber()
    with caplog.at_level(logging.INFO):
        logging.getLogger("library").info("token %s", CANARIES[0])
    assert CANARIES[0] not in caplog.text


def test_url_encoded_credentials_are_scrubbed(captured: io.StringIO) -> None:
    log = logging.getLogger("rolecall.test")
    log.debug("GET /v1/models?api-key=abc%2Bdef%2F123456&page=2")
    log.debug("sent authorization%3A%20Bearer%20odd%2Bshaped%2Ftoken99")
    log.debug("form body: x-api-key=plain+text+secret+42")
    output = captured.getvalue()
    for secret in ("abc%2Bdef%2F123456", "odd%2Bshaped%2Ftoken99", "plain+text+secret+42"):
        assert secret not in output, output
    assert "page=2" in output


def test_secrets_of_a_call_are_scrubbed_in_every_form_while_it_runs(captured: io.StringIO) -> None:
    from rolecall.logs import hide_secrets

    header_secret = "proxy Secret/Value+1=="  # no known key shape, unlike a provider key
    log = logging.getLogger("httpcore.http11")
    with hide_secrets([header_secret, "short"]):
        log.warning("response headers: [(b'x-echo', b'%s')]", header_secret)
        log.warning("url: https://proxy.example/v1?token=%s", quote(header_secret, safe=""))
        log.warning("form: token=%s", quote_plus(header_secret))
        log.warning("a short value stays: short")
    log.warning("after the call: %s", "proxy Secret")
    output = captured.getvalue()
    assert header_secret not in output and quote(header_secret, safe="") not in output
    assert quote_plus(header_secret) not in output and output.count(REDACTED) >= 3
    assert "a short value stays: short" in output and "after the call: proxy Secret" in output


def test_header_and_sql_parameter_loggers_stay_quiet_at_debug(captured: io.StringIO) -> None:
    assert logging.getLogger("rolecall").isEnabledFor(logging.DEBUG)
    for name in ("httpcore", "httpcore.http11", "hpack", "aiohttp.client", "aiosqlite"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
    assert not logging.getLogger("sqlalchemy.engine.Engine").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx").isEnabledFor(logging.INFO)  # the one-line request log stays


def test_secrets_are_unregistered_even_when_blocks_end_out_of_order() -> None:
    from rolecall.net.secrets import current_secrets, hide_secrets

    outer, inner = hide_secrets(["outer-secret-1"]), hide_secrets(["outer-secret-1", "inner-secret-2"])
    outer.__enter__()
    inner.__enter__()
    assert current_secrets() == {"outer-secret-1", "inner-secret-2"}
    outer.__exit__(None, None, None)  # a caller's block ends before the stream generator's
    inner.__exit__(None, None, None)
    assert current_secrets() == frozenset()
