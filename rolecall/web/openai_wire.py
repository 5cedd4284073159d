"""OpenAI's chat-completions wire format, both ways: the request body in, chunks and errors out.

Requests are parsed by hand (one `json.loads`, no model layer) into a `providers.ChatRequest`.
Chunks are bytes built from a per-stream prefix and suffix around the one `json.dumps` of each
text piece, so relaying a chunk costs one small encode. Errors are OpenAI's shape,
``{"error": {"message", "type", "param", "code"}}``, with the status the SDK maps to its own
exception classes (401 AuthenticationError, 404 NotFoundError, 429 RateLimitError, ...).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException

from rolecall.providers import ChatMessage, ChatRequest, ChatResult, Usage
from rolecall.services.access_tokens import TokenRefused
from rolecall.services.errors import RateLimited, ServiceError
from rolecall.services.openai_api import UpstreamFailed

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
MAX_MESSAGES = 2000
# OpenAI samplers forwarded only to providers that speak OpenAI's wire format (others name them differently).
OPENAI_SAMPLERS = frozenset({
    "presence_penalty", "frequency_penalty", "seed", "logit_bias", "response_format", "reasoning_effort",
    "top_k", "min_p", "repetition_penalty",
})
FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter", "tool_calls": "tool_calls"}
DONE = b"data: [DONE]\n\n"


class WireError(Exception):
    """An OpenAI-shaped error answer."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class Completion:
    """A parsed ``POST /v1/chat/completions`` body."""

    model: str
    stream: bool
    include_usage: bool
    request: ChatRequest
    samplers: Mapping[str, Any]


def _bad(message: str, param: str | None) -> WireError:
    return WireError(400, message, param=param)


def parse_completion(raw: bytes) -> Completion:
    try:
        body = json.loads(raw, parse_constant=_not_json)
    except ValueError:
        raise _bad("We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
                   "your HTTP library correctly.)", None) from None
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.", None)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("you must provide a model parameter", "model")
    stream = _flag(body, "stream")
    options = body.get("stream_options")
    if options is not None and not stream:
        raise _bad("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
    if options is not None and not isinstance(options, dict):
        raise _bad("'stream_options' must be an object.", "stream_options")
    include_usage = bool(options and options.get("include_usage"))
    _refuse_unsupported(body)
    request = ChatRequest(
        _messages(body.get("messages")), model,
        max_tokens=_int(body, "max_completion_tokens") or _int(body, "max_tokens"),
        temperature=_number(body, "temperature", 0, 2), top_p=_number(body, "top_p", 0, 1), stop=_stop(body.get("stop")),
    )
    samplers = {k: v for k, v in body.items() if k in OPENAI_SAMPLERS and v is not None}
    return Completion(model, stream, include_usage, request, samplers)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")  # Python's reader would take NaN and Infinity


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise _bad(f"'{name}' must be a boolean.", name)
    return bool(value)


def _refuse_unsupported(body: dict[str, Any]) -> None:
    for name in ("tools", "functions"):
        if body.get(name):
            raise _bad("Tool and function calls are not supported by RoleCall's API yet.", name)
    n = body.get("n")
    if n is not None and n != 1:
        raise _bad("Only one choice per request is supported ('n' must be 1).", "n")
    if body.get("logprobs"):
        raise _bad("'logprobs' is not supported by RoleCall's API.", "logprobs")


def _messages(value: Any) -> tuple[ChatMessage, ...]:
    if not isinstance(value, list) or not value:
        raise _bad("'messages' must be a non-empty array.", "messages")
    if len(value) > MAX_MESSAGES:
        raise _bad(f"At most {MAX_MESSAGES} messages per request.", "messages")
    out = []
    for index, message in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _bad(f"{where} must be an object.", where)
        role = ROLES.get(message.get("role"))  # type: ignore[arg-type]
        if role is None:
            raise _bad(f"{where}.role: '{message.get('role')}' is not supported (use system, developer, user or "
                       "assistant).", f"{where}.role")
        out.append(ChatMessage(role, _content(message.get("content"), where)))  # type: ignore[arg-type]
    return tuple(out)


def _content(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise _bad(f"{where}.content: only text parts are supported.", f"{where}.content")
            parts.append(part["text"])
        return "".join(parts)
    raise _bad(f"{where}.content must be a string or an array of text parts.", f"{where}.content")


def _int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _bad(f"'{name}' must be a positive integer.", name)
    return value


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise _bad(f"'{name}' must be a number from {low} to {high}.", name)
    return float(value)


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or len(stops) > 4 or not all(isinstance(s, str) for s in stops):
        raise _bad("'stop' must be a string or an array of up to 4 strings.", "stop")
    return tuple(stops)


# --- answers ------------------------------------------------------------------------------------

def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def usage_body(usage: Usage | None) -> dict[str, Any]:
    prompt = (usage.input_tokens if usage else None) or 0
    completion = (usage.output_tokens if usage else None) or 0
    body: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if usage is not None and usage.reasoning_tokens is not None:
        body["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return body


def finish_word(reason: str | None) -> str:
    return FINISH.get(reason or "stop", "stop")


def completion_body(model: str, result: ChatResult) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.text, "refusal": None}
    if result.reasoning:
        message["reasoning_content"] = result.reasoning
    return {
        "id": completion_id(), "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_word(result.finish_reason)}],
        "usage": usage_body(result.usage), "system_fingerprint": None,
    }


def models_body(models: list[Any]) -> dict[str, Any]:
    return {"object": "list", "data": [{"id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by}
                                       for m in models]}


# One encoder for every chunk: `json.dumps` with these options builds a new one per call.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class ChunkEncoder:
    """The SSE frames of one stream. Everything but the text piece is encoded once, up front.

    With ``include_usage`` every chunk carries ``"usage": null`` and a last chunk (no choices)
    carries the usage, as OpenAI sends them.
    """

    def __init__(self, model: str, include_usage: bool = False) -> None:
        head = _dumps({"id": completion_id(), "object": "chat.completion.chunk", "created": int(time.time()),
                       "model": model, "system_fingerprint": None})[:-1]
        self._head = "data: " + head + ',"choices":[{"index":0,"delta":'
        self._end = '}]' + (',"usage":null' if include_usage else "") + "}\n\n"
        self._text = (self._head + '{"content":').encode()
        self._reasoning = (self._head + '{"reasoning_content":').encode()
        self._tail = ('},"logprobs":null,"finish_reason":null' + self._end).encode()
        self._usage_head = ("data: " + head + ',"choices":[],"usage":').encode()

    def role(self) -> bytes:
        return (self._head + '{"role":"assistant","content":""').encode() + self._tail

    def text(self, piece: str) -> bytes:
        return self._text + _dumps(piece).encode() + self._tail

    def reasoning(self, piece: str) -> bytes:
        return self._reasoning + _dumps(piece).encode() + self._tail

    def finish(self, reason: str | None) -> bytes:
        return (self._head + '{},"logprobs":null,"finish_reason":' + _dumps(finish_word(reason)) + self._end).encode()

    def usage(self, usage: Usage | None) -> bytes:
        return self._usage_head + _dumps(usage_body(usage)).encode() + b"}\n\n"


def error_frame(error: WireError) -> bytes:
    return b"data: " + _dumps(error.body()).encode() + b"\n\n"


# --- errors -------------------------------------------------------------------------------------

V1_PREFIX = "/v1/"
# Provider error kind -> (status, type, code). "upstream" codes say the provider failed, not the token.
UPSTREAM: Mapping[str, tuple[int, str, str | None]] = {
    "auth": (502, "api_error", "upstream_invalid_api_key"),
    "forbidden": (403, "invalid_request_error", "upstream_permission_denied"),
    "billing": (429, "insufficient_quota", "insufficient_quota"),
    "not_found": (404, "invalid_request_error", "model_not_found"),
    "rate_limited": (429, "requests", "rate_limit_exceeded"),
    "unavailable": (502, "server_error", "upstream_unavailable"),
    "timeout": (504, "server_error", "upstream_timeout"),
    "bad_request": (400, "invalid_request_error", None),
    "refused": (400, "invalid_request_error", "content_policy_violation"),
    "context_too_long": (400, "invalid_request_error", "context_length_exceeded"),
    "bad_response": (502, "server_error", "upstream_bad_response"),
    "blocked": (502, "api_error", "upstream_blocked"),
    "config_broken": (500, "server_error", "config_broken"),
    # A walk where nothing could be called (services.chain_run's skip reasons).
    "balance_empty": (429, "insufficient_quota", "premiere_balance_empty"),
    "premiere_unavailable": (503, "server_error", "premiere_unavailable"),
    "key_needed": (404, "invalid_request_error", "model_not_found"),
    "no_model": (404, "invalid_request_error", "model_not_found"),
}
# Answers a retry cannot fix: the SDKs honour this header instead of retrying 429/5xx.
NO_RETRY = frozenset({"auth", "billing", "blocked", "config_broken", "balance_empty", "key_needed", "no_model"})
PARAMS = {"not_found": "model", "context_too_long": "messages"}


def upstream_error(kind: str, message: str, retry_after: float | None, overloaded: bool = False) -> WireError:
    status, type_, code = UPSTREAM.get(kind, (502, "server_error", "upstream_error"))
    if kind == "unavailable" and overloaded:
        status = 503
    headers = {"x-should-retry": "false"} if kind in NO_RETRY else {}
    if retry_after:
        headers["retry-after"] = str(max(1, round(retry_after)))
    return WireError(status, message, type=type_, param=PARAMS.get(kind), code=code, headers=headers)


def wire_error(exc: Exception) -> WireError:
    """Any error raised while answering under /v1, in OpenAI's shape."""
    if isinstance(exc, WireError):
        return exc
    if isinstance(exc, UpstreamFailed):
        return upstream_error(exc.kind, exc.message, exc.retry_after, exc.upstream_status in (503, 529))
    if isinstance(exc, TokenRefused):
        return WireError(401, exc.message, code="invalid_api_key", headers={"www-authenticate": "Bearer"})
    if isinstance(exc, RateLimited):
        return WireError(429, exc.message, type="requests", code="rate_limit_exceeded",
                         headers={"retry-after": str(exc.retry_after)})
    if isinstance(exc, ServiceError):
        return WireError(exc.status, exc.message, type="invalid_request_error" if exc.status < 500 else "server_error",
                         param=exc.field, code=exc.code)
    if isinstance(exc, HTTPException):
        if exc.status_code in (404, 405):
            return WireError(exc.status_code, "Invalid URL: RoleCall's API answers GET /v1/models and "
                             "POST /v1/chat/completions.")
        return WireError(exc.status_code, str(exc.detail))
    return WireError(500, "The server had an error while processing your request.", type="server_error")
