"""Logging set-up and the secret scrubber.

Every log record is scrubbed when it is created (a LogRecord factory), before any handler, ours
or a library's, can write it: values of auth headers and anything shaped like a provider key or
a bearer token become ``[REDACTED]``. Exceptions attached to a record are formatted and scrubbed
too. This is the net under the rule that code never logs a key in the first place.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from typing import IO

REDACTED = "[REDACTED]"

# Header names whose values are credentials. Provider auth schemes add theirs (x-api-key,
# api-key, x-goog-api-key); cookies carry our own session token.
AUTH_HEADER_NAMES = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie", "set-cookie"}
)

_HEADER_NAMES = "|".join(re.escape(name) for name in sorted(AUTH_HEADER_NAMES, key=len, reverse=True))
_HEADER_VALUE = re.compile(
    r"""(?ix)
    (?P<name>\b(?:""" + _HEADER_NAMES + r"""))          # a credential-carrying header name
    (?P<sep>['"]?\s*[:=]\s*(?:b?['"])?) # : or = and an optional opening quote, as in dict reprs
    (?P<value>[^'"\r\n,}]+)     # the value, up to a quote, line end, comma or closing brace
    """
)

_KEY_SHAPES = re.compile(
    r"""(?x)
      \bBearer\s+[A-Za-z0-9._~+/=-]{8,}          # any bearer token
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


def scrub(text: str) -> str:
    """Replace credential-shaped substrings of ``text``."""
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
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
