"""Logging set-up and the secret scrubber.

Every log record is scrubbed when it is created (a LogRecord factory), before any handler, ours
or a library's, can write it: values of auth headers and anything shaped like a provider key or
a bearer token become ``[REDACTED]``, also URL-encoded. Exceptions attached to a record are
formatted and scrubbed too. Values that have no recognisable shape (a custom header's secret, a
key of an unusual format) are registered for the duration of a provider call with
``rolecall.net.secrets.hide_secrets()``; records created inside the call, in that context, are scrubbed of them.
This is the net under the rule that code never logs a key in the first place.

Library loggers that may print request/response headers (httpcore, hpack, aiohttp) or SQL parameters
(sqlalchemy.engine, aiosqlite: password and session hashes, the wrapped vault key) are held at
INFO / WARNING even when the app logs at DEBUG.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from typing import IO
from urllib.parse import quote, quote_plus

from rolecall.net.secrets import current_secrets, hide_secrets

__all__ = ["REDACTED", "hide_secrets", "install_scrubber", "scrub", "setup_logging"]

from rolecall.redact import CREDENTIAL_HEADER_NAMES

REDACTED = "[REDACTED]"

_HEADER_NAMES = "|".join(re.escape(name) for name in sorted(CREDENTIAL_HEADER_NAMES, key=len, reverse=True))
_HEADER_VALUE = re.compile(
    r"""(?ix)
    (?P<name>\b(?:""" + _HEADER_NAMES + r"""))          # a credential-carrying header name
    (?P<sep>(?:['"]|%22)?(?:\s|%20|\+)*(?:[:=]|%3A|%3D)(?:\s|%20|\+)*(?:b?['"]|%22)?) # : or =, also URL-encoded
    (?P<value>[^'"\r\n,}&]+)    # the value, up to a quote, line end, comma, closing brace or &
    """
)

_KEY_SHAPES = re.compile(
    r"""(?x)
      \bBearer(?:\s+|%20|\+)[A-Za-z0-9._~+/=%-]{8,}  # any bearer token, also URL-encoded
    | \bsk-[A-Za-z0-9_-]{8,}                     # OpenAI, Anthropic (sk-ant-), OpenRouter (sk-or-), DeepSeek
    | \bAIza[0-9A-Za-z_-]{20,}                   # Google API keys
    | \bgsk_[A-Za-z0-9]{8,}                      # Groq
    | \bpplx-[A-Za-z0-9]{8,}                     # Perplexity
    | \bxai-[A-Za-z0-9]{8,}                      # xAI
    | \bpst-[A-Za-z0-9]{8,}                      # NovelAI persistent tokens
    | \bnano_[A-Za-z0-9]{8,}                     # NanoGPT
    | \bya29\.[A-Za-z0-9._-]{8,}                 # Google OAuth access tokens
    | -----BEGIN[A-Z ]*PRIVATE\ KEY-----[\s\S]*?-----END[A-Z ]*PRIVATE\ KEY-----
    """
)


def _forms(secret: str) -> set[str]:
    """A secret as it may appear in text: raw and URL-encoded (path/query and form styles)."""
    return {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}


def scrub(text: str) -> str:
    """Replace credential-shaped substrings of ``text`` and the secrets of the current call."""
    for secret in sorted(current_secrets(), key=len, reverse=True):
        for form in sorted(_forms(secret), key=len, reverse=True):
            text = text.replace(form, REDACTED)
    text = _HEADER_VALUE.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)
    return _KEY_SHAPES.sub(REDACTED, text)


_base_factory = logging.getLogRecordFactory()


def _scrubbing_factory(*args, **kwargs) -> logging.LogRecord:  # type: ignore[no-untyped-def]
    record = _base_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not lose the record
        message = f"{record.msg!r} {record.args!r}"
    record.msg, record.args = scrub(message), None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)).rstrip())
        record.exc_info = None
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
    return record


def install_scrubber() -> None:
    """Scrub every log record in this process. Safe to call more than once."""
    logging.setLogRecordFactory(_scrubbing_factory)


# Loggers that print headers or SQL parameters at DEBUG (and SQL with parameters at INFO).
QUIET_LIBRARIES: dict[str, int] = {
    "httpcore": logging.INFO, "httpx": logging.INFO, "hpack": logging.INFO, "h11": logging.INFO, "aiohttp": logging.INFO,
    "h2": logging.INFO, "sqlalchemy.engine": logging.WARNING, "sqlalchemy.pool": logging.WARNING,
    "aiosqlite": logging.INFO, "asyncpg": logging.INFO, "multipart": logging.INFO,
}


def quiet_libraries(level: int | str) -> None:
    """Hold header- and parameter-printing library loggers at their floor, whatever `level` is."""
    wanted = logging.getLevelName(level) if isinstance(level, str) else level
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(floor, wanted if isinstance(wanted, int) else floor))


def setup_logging(level: str = "INFO", stream: IO[str] | None = None) -> None:
    """One handler on the root logger; uvicorn's loggers propagate to it."""
    install_scrubber()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet_libraries(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
