"""The one place that turns errors into responses: JSON under /api, HTML pages elsewhere.

JSON error shape (locked by tests/web/test_error_shape.py)::

    {"ok": false, "status": 400, "code": "invalid", "error": "human sentence", "field": "name" | null,
     "errors": [{"field": ..., "message": ...}]}
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from rolecall.services.errors import RateLimited, ServiceError, Unauthorized
from rolecall.web.deps import render
from rolecall.web.openai_wire import V1_PREFIX, WireError, wire_error
from rolecall.web.security import CsrfRefused

log = logging.getLogger(__name__)


def error_body(status: int, code: str, message: str, field: str | None = None,
               errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "ok": False,
        "status": status,
        "code": code,
        "error": message,
        "field": field,
        "errors": errors if errors is not None else [{"field": field, "message": message}],
    }


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def respond(request: Request, status: int, code: str, message: str, field: str | None = None,
            errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> Response:
    if request.url.path.startswith(V1_PREFIX):  # the edge guard's refusals, in OpenAI's shape there
        kind = "invalid_request_error" if status < 500 else "server_error"
        return JSONResponse(WireError(status, message, type=kind, param=field, code=None).body(), status_code=status,
                            headers=headers)
    if wants_json(request):
        return JSONResponse(error_body(status, code, message, field, errors), status_code=status, headers=headers)
    response = render(request, "errors/error.html", status_code=status, status=status, message=message)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    if isinstance(exc, Unauthorized) and not wants_json(request) and request.method == "GET":
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return respond(request, exc.status, exc.code, exc.message, exc.field, headers=headers)


async def _csrf_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CsrfRefused)
    return respond(request, 403, "csrf", exc.message)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = [
        {"field": ".".join(str(p) for p in err["loc"][1:]) or None, "message": str(err["msg"])}
        for err in exc.errors()
    ]
    first = errors[0] if errors else {"field": None, "message": "Invalid request."}
    field, text = first["field"], str(first["message"])
    return respond(request, 422, "invalid", f"{field}: {text}" if field else text, field, errors)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "Nothing is here.", 405: "That method is not allowed here."}
    if isinstance(exc.detail, str) and exc.status_code not in messages:
        message = exc.detail
    else:
        message = messages.get(exc.status_code, str(exc.detail))
    return respond(request, exc.status_code, "http_error", message, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("Unhandled error on %s %s", request.method, request.url.path)
    return respond(request, 500, "internal", "Something went wrong on our side. Try again.")


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _openai_shape(handler: Handler) -> Handler:
    """Under /v1 every error takes OpenAI's shape, so OpenAI clients and SDKs read it as their own."""

    async def handle(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(V1_PREFIX):
            return await handler(request, exc)
        error = wire_error(exc)
        if error.status >= 500 and not isinstance(exc, (ServiceError, WireError)):
            log.exception("Unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    return handle


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(WireError, _openai_shape(_unexpected))  # raised under /v1 only
    app.add_exception_handler(ServiceError, _openai_shape(_service_error))
    app.add_exception_handler(CsrfRefused, _openai_shape(_csrf_error))
    app.add_exception_handler(RequestValidationError, _openai_shape(_validation_error))
    app.add_exception_handler(HTTPException, _openai_shape(_http_error))
    app.add_exception_handler(Exception, _openai_shape(_unexpected))
