"""Secret values of the outbound call running in this context, for the log scrubber.

A custom header's secret (a reverse-proxy token) or a key of no recognisable shape cannot be
found by pattern. Adapters register a connection's secrets for the duration of each request with
`hide_secrets()`; `rolecall.logs` reads `current_secrets()` when it scrubs a record, so a library
logging that request (in the same context) cannot print them. Nothing here is stored.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator

MIN_SECRET = 8  # shorter values would scrub ordinary words

_CALL_SECRETS: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "rolecall_call_secrets", default=frozenset()
)


def current_secrets() -> frozenset[str]:
    return _CALL_SECRETS.get()


@contextlib.contextmanager
def hide_secrets(values: Iterable[str]) -> Iterator[None]:
    """Register `values` as secrets in this context until the block ends."""
    extra = frozenset(v for v in values if v and len(v) >= MIN_SECRET)
    if not extra:
        yield
        return
    added = extra - _CALL_SECRETS.get()
    _CALL_SECRETS.set(_CALL_SECRETS.get() | added)
    try:
        yield
    finally:
        # Remove what this block added rather than restoring a snapshot: blocks around a stream
        # (an async generator and its caller) may end out of order, and a snapshot would then
        # leave the secrets registered, or drop another block's.
        _CALL_SECRETS.set(_CALL_SECRETS.get() - added)
