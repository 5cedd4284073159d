"""One error type for every provider failure, translated once at the boundary.

```
ProviderError(kind, status, message, retry_after)
  kind:
  ├── auth              401; Gemini 400 API_KEY_INVALID; Anthropic 404 on /models (disabled key)
  ├── forbidden         403: the key exists but may not use this endpoint
  ├── billing           402; 429 insufficient_quota; Fireworks 412; Anthropic billing_error
  ├── not_found         404: wrong base URL path (custom, model list only) or unknown model
  ├── rate_limited      429 (+ retry_after seconds from Retry-After / retry-after-ms / RetryInfo)
  ├── unavailable       5xx, 529 overloaded, connection refused, connection reset mid-stream
  ├── timeout           connect/read timeouts, 408, 504
  ├── bad_request       other 4xx: the provider rejected what we sent
  ├── context_too_long  context_length_exceeded and friends (a 400 refined by its body)
  ├── bad_response      malformed JSON or stream, a redirect, a response past the size cap
  ├── refused           the provider's content filter refused the request or the answer
  └── blocked           the network policy refused the destination (SSRF guard); message says why
```

The shape follows httpx's `_exceptions.py` and `map_httpcore_exceptions()`: lower-level
failures are caught in one context manager, `map_upstream_errors()`, which raises the most
specific kind `from` the original. Status codes map through `STATUS_KINDS` (data), then body
markers refine them (aisuite's `friendly_model_error()` idea, e.g. `insufficient_quota`).

`message` is the provider's own text, with every known secret replaced: an upstream that echoes
the key ("Incorrect API key provided: sk-...") must not carry it into our logs or responses.
`explain(error)` gives the text the product guide shows for that kind (docs/user-guide.md,
"Common test errors and what they mean").
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx

from rolecall.net import BlockedAddress, NetError, PlainHttpError, ResponseTooLarge
from rolecall.providers.guide_texts import GUIDE_TEXTS, HEADLINES
from rolecall.providers.jsontext import TooDeep
from rolecall.providers.sse import SSEError

KINDS = (
    "auth", "forbidden", "billing", "not_found", "rate_limited", "unavailable", "timeout",
    "bad_request", "context_too_long", "bad_response", "refused", "blocked",
)

# Status -> kind. Anything else: 4xx -> bad_request, 5xx -> unavailable, else bad_response.
STATUS_KINDS: Mapping[int, str] = {
    400: "bad_request",
    401: "auth",
    402: "billing",
    403: "forbidden",
    404: "not_found",
    408: "timeout",
    412: "billing",  # Fireworks: account blocked (reported by users, not documented)
    413: "context_too_long",
    429: "rate_limited",
    500: "unavailable",
    502: "unavailable",
    503: "unavailable",
    504: "timeout",
    529: "unavailable",  # Anthropic: overloaded
}

# Body markers (matched in the lower-cased code/type/status/reason/message words of an error
# body) that refine a kind: (marker, new kind, kinds it may refine). First match wins. A marker
# never moves a 5xx, so an outage is never reported as a bad key.
_ANY_4XX = frozenset({"bad_request", "forbidden", "not_found", "rate_limited", "billing"})
BODY_MARKERS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("api_key_invalid", "auth", _ANY_4XX),  # Gemini's 400 for a bad key
    ("incorrect api key", "auth", _ANY_4XX),  # xAI may answer 400 for a bad key
    ("invalid api key", "auth", _ANY_4XX),
    ("insufficient_quota", "billing", _ANY_4XX),  # OpenAI 429 meaning "no credit", not "slow down"
    ("billing_error", "billing", _ANY_4XX),
    ("credit balance is too low", "billing", _ANY_4XX),
    ("insufficient balance", "billing", _ANY_4XX),
    ("context_length_exceeded", "context_too_long", frozenset({"bad_request"})),
    ("maximum context length", "context_too_long", frozenset({"bad_request"})),
    ("prompt is too long", "context_too_long", frozenset({"bad_request"})),
    ("too many tokens", "context_too_long", frozenset({"bad_request"})),
    # Azure answers a filtered prompt with 400 code "content_filter"; OpenAI with content_policy_violation.
    ("content_filter", "refused", frozenset({"bad_request", "forbidden"})),
    ("content_policy_violation", "refused", frozenset({"bad_request", "forbidden"})),
    ("responsibleaipolicyviolation", "refused", frozenset({"bad_request", "forbidden"})),
)

# How "Test key" treats each kind: does the config work or not? (docs/architecture.md, "Testing a key": only a
# problem with the config itself turns the pill Invalid; transient trouble leaves it as it was.)
INVALID_KINDS = frozenset({"auth", "forbidden", "billing", "not_found", "blocked"})

MAX_MESSAGE = 500
MAX_RETRY_AFTER = 24 * 3600.0
REDACTED = "[REDACTED]"


class ProviderError(Exception):
    """A provider call failed. `kind` drives fallback and the status pill; `message` is the
    provider's own text (secrets removed); `retry_after` is seconds, when the provider said."""

    def __init__(
        self,
        kind: str,
        message: str = "",
        *,
        status: int | None = None,
        retry_after: float | None = None,
        custom_base: bool = False,
        advice: str | None = None,
        title: str | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown ProviderError kind {kind!r}")
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.message = message
        # Set only for the model-list / base probe: a 404 there means "wrong base URL path";
        # a 404 on chat means the model (or Azure deployment) is not available to the key.
        self.custom_base = custom_base
        self.advice = advice  # what actually happened, when the kind's general text would mislead
        self.title = title
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f" {self.status}" if self.status else ""
        return f"{self.kind}{where}: {self.message}" if self.message else f"{self.kind}{where}"

    def __repr__(self) -> str:
        return (
            f"ProviderError(kind={self.kind!r}, status={self.status!r}, "
            f"retry_after={self.retry_after!r}, message={self.message!r})"
        )

    @property
    def invalidates(self) -> bool:
        """True when a key test failing this way means the config does not work."""
        return self.kind in INVALID_KINDS


# --- guide texts ------------------------------------------------------------------------------

def explain(error: ProviderError) -> str:
    """What the guide tells a person about this error (no provider text, no secrets)."""
    if error.advice:
        return error.advice
    if error.kind == "blocked":
        return error.message  # the network policy's own explanation names the fix
    if error.kind == "not_found" and error.custom_base:
        return GUIDE_TEXTS["not_found_custom"]
    return GUIDE_TEXTS[error.kind]


def headline(error: ProviderError) -> str:
    if error.title:
        return error.title
    if error.kind == "not_found" and error.custom_base:
        return HEADLINES["not_found_custom"]
    return HEADLINES[error.kind]


# --- building errors from responses -----------------------------------------------------------

def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced, also inside base64 (a Basic-auth header echoed back).

    In base64 a secret's encoding depends on its offset modulo 3 in the encoded bytes, so each
    of the three alignments is computed and only the characters fully determined by the
    secret are matched.
    """
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, REDACTED)
        raw = secret.encode()
        for offset, skip in ((0, 0), (1, 2), (2, 3)):
            encoded = base64.b64encode(b"\0" * offset + raw).decode()
            core = encoded[skip : (offset + len(raw)) // 3 * 4]
            if len(core) >= 8:
                text = text.replace(core, REDACTED)
    return text


def clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def body_message(body: Any) -> str:
    """The human part of a provider's error body, whatever its shape."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err.get("msg") or err.get("type") or err.get("code") or "")
        if isinstance(err, str):  # OAuth: {"error": "invalid_grant", "error_description": "..."}
            description = body.get("error_description")
            return f"{err}: {description}" if isinstance(description, str) else err
        for key in ("message", "detail", "msg", "error_description"):
            value = body.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, list) and value:  # FastAPI-style validation errors
                return "; ".join(str(v.get("msg", v)) if isinstance(v, dict) else str(v) for v in value)
    if isinstance(body, list) and body:  # Gemini streams errors as a one-element array
        return body_message(body[0])
    return ""


def _markers(body: Any) -> str:
    """Every machine-readable word of an error body, lower-cased, for marker matching."""
    parts: list[str] = []

    def walk(value: Any, depth: int = 0) -> None:
        if depth > 4:
            return
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("code", "type", "status", "reason", "message", "msg", "detail") and not isinstance(
                    item, (dict, list)
                ):
                    parts.append(str(item))
                else:
                    walk(item, depth + 1)
        elif isinstance(value, list):
            for item in value[:10]:
                walk(item, depth + 1)

    walk(body)
    return " ".join(parts).lower()


def parse_retry_after(headers: Mapping[str, str] | httpx.Headers, body: Any = None) -> float | None:
    """Seconds to wait: `retry-after-ms`, `retry-after` (seconds or HTTP date), or Gemini's
    `google.rpc.RetryInfo.retryDelay` ("37s") in the body."""
    value: float | None = None
    raw_ms = headers.get("retry-after-ms")
    raw = headers.get("retry-after")
    try:
        if raw_ms:
            value = float(raw_ms) / 1000
        elif raw:
            value = float(raw)
    except ValueError:
        value = _seconds_until(raw) if raw else None
    if value is None:
        value = _retry_delay(body)
    if value is None:
        return None
    return min(max(value, 0.0), MAX_RETRY_AFTER)


def _seconds_until(http_date: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(http_date).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def _retry_delay(body: Any) -> float | None:
    err = body.get("error") if isinstance(body, dict) else None
    details = err.get("details") if isinstance(err, dict) else None
    for detail in details if isinstance(details, list) else ():
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and re.fullmatch(r"\d+(\.\d+)?s", delay):
            return float(delay[:-1])
    return None


def kind_for(status: int, body: Any = None) -> str:
    """The kind for an HTTP status, refined by markers in the parsed error body."""
    kind = STATUS_KINDS.get(status) or ("bad_request" if 400 <= status < 500 else "unavailable" if status >= 500 else "bad_response")
    if kind in _ANY_4XX and body is not None:
        words = _markers(body)
        for marker, refined, refinable in BODY_MARKERS:
            if kind in refinable and marker in words:
                return refined
    return kind


def parse_body(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        return None


def from_response(
    status: int,
    headers: Mapping[str, str] | httpx.Headers,
    content: bytes,
    *,
    secrets: Iterable[str] = (),
    custom_base: bool = False,
    kind: str | None = None,
) -> ProviderError:
    """A ProviderError for a non-2xx response. `kind` overrides the table (adapter knowledge)."""
    body = parse_body(content)
    if 300 <= status < 400:
        return redirected(status, headers.get("location"), secrets)
    message = body_message(body) if body is not None else ""
    if not message and content and not content.lstrip().startswith(b"<"):
        message = content[:MAX_MESSAGE].decode("utf-8", "replace")  # plain-text error, not an HTML page
    return ProviderError(
        kind or kind_for(status, body),
        clip(redact(message, secrets)) or f"HTTP {status}",
        status=status,
        retry_after=parse_retry_after(headers, body) if status in (429, 503, 529) else None,
        custom_base=custom_base,
    )


def redirected(status: int, location: str | None, secrets: Iterable[str] = ()) -> ProviderError:
    """A 3xx answer: RoleCall never follows redirects (a key could be carried to another host)."""
    where = clip(redact(location, secrets)) if location else ""
    target = f" to {where}" if where else ""
    advice = (f"The server answered with a redirect (HTTP {status}){target} instead of answering. RoleCall doesn't "
              "follow redirects, so your key is never sent to an address you didn't enter. Put the address it "
              "points to into Base URL (often https:// instead of http://, or a different path).")
    message = (f"The server redirected the request (HTTP {status}){target}; update the Base URL to the address "
               "it points to.")
    return ProviderError("bad_response", message, status=status,
                         advice=advice, title=f"Redirected (HTTP {status})")


def too_large(exc: ResponseTooLarge) -> ProviderError:
    advice = (f"The answer from {exc.host} was larger than the {exc.limit:,}-byte limit, so RoleCall stopped "
              "reading it. That is not what an AI API sends: check that the Base URL points at the API "
              "(e.g. …/v1), not at a web page or a file.")
    return ProviderError("bad_response", str(exc), advice=advice, title="Answer too large")


# --- transport failures -----------------------------------------------------------------------

@contextlib.contextmanager
def map_upstream_errors(*, secrets: Iterable[str] = (), custom_base: bool = False) -> Iterator[None]:
    """Turn transport and parsing failures inside the block into ProviderError.

    ```python
    with map_upstream_errors(secrets=conn.secrets()):
        response = await http.get(url, headers=headers)
    ```
    """
    try:
        yield
    except ProviderError:
        raise
    except (SSEError, json.JSONDecodeError, TooDeep) as exc:
        raise ProviderError("bad_response", f"Malformed response from the provider ({exc}).") from exc
    except (BlockedAddress, PlainHttpError) as exc:
        raise ProviderError("blocked", str(exc)) from exc
    except ResponseTooLarge as exc:
        raise too_large(exc) from exc
    except NetError as exc:  # InvalidURL and future guard errors: the message is written for people
        raise ProviderError("bad_request", redact(str(exc), secrets)) from exc
    except httpx.TimeoutException as exc:
        raise ProviderError("timeout", _TIMEOUT_TEXT.get(type(exc), "The provider took too long to answer.")) from exc
    except httpx.ConnectError as exc:
        raise ProviderError("unavailable", "Couldn't connect (connection refused or host unreachable).") from exc
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise ProviderError("unavailable", "The connection to the provider broke off mid-response.") from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise ProviderError("bad_request", "The Base URL is not a valid http(s) address.") from exc
    except httpx.TransportError as exc:
        raise ProviderError("unavailable", type(exc).__name__) from exc


_TIMEOUT_TEXT = {
    httpx.ConnectTimeout: "Timed out connecting to the provider.",
    httpx.ReadTimeout: "The provider stopped sending data (read timeout).",
    httpx.PoolTimeout: "Too many requests in flight to this provider (pool timeout).",
}
