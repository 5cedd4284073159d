"""A plaintext provider key inside the server process (docs/security.md, "Plaintext keys in the server").

``Secret`` wraps the string the moment it arrives (an E2E key handed over for one request, or a
server-mode bundle just opened) so that the usual accidents print ``[secret]`` instead of the key:
``repr``/``str``/f-strings/``%`` formatting, logging, tracebacks showing locals, debug toolbars.
It refuses to be pickled, copied into a queue payload, or JSON-encoded, so it cannot ride into
Redis, a job, or a response body. ``.reveal()`` is called only where the auth header is built.

``Secret.hint`` is :func:`rolecall.redact.masked_hint` of the value, the only form of a key an API
response may show (docs/security.md, "What is shown, logged and scrubbed").
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

from rolecall.redact import masked_hint

__all__ = ["Secret", "masked_hint"]


class Secret:
    """A string that does not show itself.

    ```python
    key = Secret(bundle["api_key"])
    log.info("calling with %s", key)            # calling with [secret]
    headers = {"Authorization": f"Bearer {key.reveal()}"}
    ```
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The plaintext. Call it at the last moment, where the value leaves for its provider."""
        return self._value

    @property
    def hint(self) -> str:
        """:func:`masked_hint` of the value."""
        return masked_hint(self._value)

    def __repr__(self) -> str:
        return "Secret('[secret]')"

    def __str__(self) -> str:
        return "[secret]"

    def __format__(self, spec: str) -> str:
        return format("[secret]", spec)

    def __eq__(self, other: object) -> bool:
        # Constant-time, so comparing a submitted value with a stored one leaks no prefix length.
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # hashing would make a value-derived number

    def __bool__(self) -> bool:
        return bool(self._value)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Secret is immutable")

    # Refuse every serialisation route: pickle/copy (queue payloads, caches), and the
    # iterate-or-vars fallbacks generic encoders such as FastAPI's jsonable_encoder try.
    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("a Secret cannot be pickled or copied into a payload")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled or copied into a payload")

    def __getstate__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled or copied into a payload")

    def __copy__(self) -> Secret:
        return self  # immutable: a copy may be the same object

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __iter__(self) -> NoReturn:
        raise TypeError("a Secret cannot be iterated or encoded")
