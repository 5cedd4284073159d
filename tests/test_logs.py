"""The secret filter: a canary key logged any way, at any level, never reaches the output."""

from __future__ import annotations

import io
import logging

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
