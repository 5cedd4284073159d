"""Errors a provider sends *inside* an answer: an `error` object in a 200 stream or JSON body.

OpenAI-style streams (OpenRouter, Azure, DeepSeek, ...) put `{"error": {"type", "code", "message"}}`
in a chunk; Anthropic sends an `error` event with its own types; Cohere ends with a message-end
whose `error` is only text. Each keeps its kind here: a status-like code (also Azure's string
`"429"`), then the code and type words, then Anthropic's types, then phrases of the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rolecall.providers.errors import ProviderError, body_message, clip, kind_for, redact


def from_stream_error(body: Any, *, secrets: Iterable[str] = (), status: int | None = None) -> ProviderError:
    """An error the provider sent *inside* a 200 stream (OpenRouter, Azure, Anthropic `error` events).

    The kind comes from a status-like code (`429`, also as a string), else from the code and type
    words (`rate_limit_exceeded`, `insufficient_quota`, `content_filter`, Anthropic's types), else
    from the message; only an error that says nothing we recognise is `unavailable`.
    """
    err = body.get("error") if isinstance(body, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    status = status or _status_code(code)
    message = body_message(body)
    kind = (kind_for(status, body) if status
            else _kind_from_words(err) or _kind_from_type(body) or kind_from_text(message) or "unavailable")
    return ProviderError(kind, clip(redact(message, secrets)) or "error in stream", status=status)


def _status_code(code: Any) -> int | None:
    if isinstance(code, str) and code.strip().isdigit():
        code = int(code)  # Azure sends "429"
    return code if isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600 else None


# Machine words in an in-band error's `code` or `type` (OpenAI, Azure, OpenRouter, DeepSeek, Groq).
ERROR_WORDS: Mapping[str, str] = {
    "rate_limit_exceeded": "rate_limited", "rate_limit_error": "rate_limited", "requests": "rate_limited",
    "tokens": "rate_limited", "too_many_requests": "rate_limited", "resource_exhausted": "rate_limited",
    "insufficient_quota": "billing", "billing_error": "billing", "billing_hard_limit_reached": "billing",
    "payment_required": "billing", "insufficient_balance": "billing",
    "content_filter": "refused", "content_policy_violation": "refused", "responsibleaipolicyviolation": "refused",
    "safety": "refused",
    "context_length_exceeded": "context_too_long", "string_above_max_length": "context_too_long",
    "invalid_api_key": "auth", "authentication_error": "auth", "unauthenticated": "auth",
    "permission_denied": "forbidden", "model_not_found": "not_found", "deploymentnotfound": "not_found",
    "server_error": "unavailable", "overloaded": "unavailable", "unavailable": "unavailable",
    "timeout": "timeout", "deadline_exceeded": "timeout",
}


def _kind_from_words(err: Any) -> str | None:
    if not isinstance(err, dict):
        return None
    for key in ("code", "type", "status"):  # the code is the most specific (Azure's type is "requests")
        value = err.get(key)
        if isinstance(value, str) and (kind := ERROR_WORDS.get(value.strip().lower())):
            return kind
    return None


# Phrases in an error message, for providers that send only text (Cohere's message-end error).
KIND_PHRASES: tuple[tuple[str, str], ...] = (
    ("rate limit", "rate_limited"), ("too many requests", "rate_limited"),
    ("quota", "billing"), ("billing", "billing"), ("credit", "billing"), ("payment", "billing"),
    ("content filter", "refused"), ("safety", "refused"), ("blocked", "refused"), ("toxic", "refused"),
    ("policy", "refused"),
    ("context length", "context_too_long"), ("too many tokens", "context_too_long"), ("too long", "context_too_long"),
    ("api key", "auth"), ("invalid token", "auth"), ("unauthorized", "auth"),
    ("timed out", "timeout"), ("timeout", "timeout"),
)


def kind_from_text(text: str) -> str | None:
    words = text.lower()
    return next((kind for phrase, kind in KIND_PHRASES if phrase in words), None)


# Anthropic-style error types (also used by Vertex rawPredict) -> kind.
ERROR_TYPES: Mapping[str, str] = {
    "authentication_error": "auth",
    "permission_error": "forbidden",
    "billing_error": "billing",
    "not_found_error": "not_found",
    "rate_limit_error": "rate_limited",
    "overloaded_error": "unavailable",
    "api_error": "unavailable",
    "timeout_error": "timeout",
    "request_too_large": "context_too_long",
    "invalid_request_error": "bad_request",
}


def _kind_from_type(body: Any) -> str | None:
    err = body.get("error") if isinstance(body, dict) else None
    kind = ERROR_TYPES.get(err.get("type", "")) if isinstance(err, dict) else None
    if kind == "bad_request":
        return kind_for(400, body)
    return kind
