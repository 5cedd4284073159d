"""The OpenAPI document, with every error answer a route really gives, in the one error shape.

FastAPI documents only the success answer and its own 422 shape (``{"detail": ...}``), which is
not what this API sends. ``install_openapi`` rewrites each operation's error answers:

* every operation: 400 (bad input, a NUL character, JSON nested too deeply), 431 (too many headers);
* with a request body: 413 (over the body cap) and 422 (a field fails validation);
* behind log-in: 401; state-changing methods: 403 (CSRF);
* with a path parameter: 404 (another account's object answers 404 too);
* ``EXTRA`` lists the rest: 409 conflicts and 429 rate limits (those carry ``Retry-After``).

The property test in ``tests/web/test_fuzz.py`` fails if a route answers a status this document
does not list, so the table cannot drift from the routes.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from rolecall.web.deps import current_account


class ErrorItem(BaseModel):
    field: str | None
    message: str


class ErrorOut(BaseModel):
    """The one error shape (see ``web/errors.py``)."""

    ok: Literal[False]
    status: int
    code: str
    error: str
    field: str | None
    errors: list[ErrorItem]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorOut(BaseModel):
    """OpenAI's error shape, used by the OpenAI-compatible API under /v1 (see ``web/openai_wire.py``)."""

    error: OpenAIErrorDetail


# /v1 answers in OpenAI's shape; its statuses are what OpenAI's SDKs map to their error classes.
OPENAI_DESCRIPTIONS = {
    400: "The request is not acceptable (`param` names the field); context_length_exceeded from the provider too.",
    401: "No access token, or an unknown, revoked or expired one (code invalid_api_key).",
    403: "The access token lacks the scope, or the provider refused this key that model.",
    404: "No such model for this token (code model_not_found), or no such path.",
    413: "The request body is larger than the server accepts.",
    429: "Too many requests for this token, or the provider's rate limit or quota: wait for Retry-After.",
    431: "Too many request headers.",
    500: "A config that can't be opened any more.",
    502: "The provider failed: its key was rejected, it is down, or it answered something broken.",
    503: "The provider is overloaded.",
    504: "The provider took too long.",
}

DESCRIPTIONS = {
    400: "The input is not acceptable (says which field), including a NUL character or JSON nested too deeply.",
    401: "Not logged in.",
    403: "The CSRF check failed: send the X-CSRF-Token header from GET /api/csrf.",
    404: "No such object (another account's objects answer 404 too).",
    409: "Conflicts with the current state (says which field).",
    413: "The request body is larger than the server accepts.",
    422: "A field has the wrong type or length.",
    429: "Too many requests: wait for the seconds in Retry-After.",
    431: "Too many request headers.",
}

_TOO_MANY = (429,)
EXTRA: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/api/auth/signup"): (409, *_TOO_MANY),
    ("post", "/api/auth/login"): (401, *_TOO_MANY),
    ("post", "/api/encryption/setup"): (409,),
    ("post", "/api/encryption/change-phrase"): (409,),
    ("post", "/api/provider-configs/test"): (409, *_TOO_MANY),
    ("post", "/api/provider-configs"): (409, *_TOO_MANY),
    ("patch", "/api/provider-configs/{config_id}"): (409, *_TOO_MANY),
    ("post", "/api/provider-configs/{config_id}/test"): _TOO_MANY,
    ("post", "/api/catalog/stars"): (404,),
    ("post", "/api/scenes"): (404,),  # a character id that is not yours
    ("patch", "/api/scenes/{scene_id}/messages/{message_id}"): (409,),  # editing a reply still being written
    ("post", "/api/scenes/{scene_id}/messages/{message_id}/polish"): (409,),  # polishing one still being written
    # A chain naming a config the account does not have is a 404; a second preset of the same name a 409.
    ("post", "/api/presets"): (404, 409),
    ("patch", "/api/presets/{preset_id}"): (409,),
    # A scene or reply that is not yours is a 404; the same schedule twice a 409.
    ("post", "/api/schedules"): (404, 409),
    ("get", "/api/schedules"): (404,),
}
UNSAFE = {"post", "put", "patch", "delete"}


def _answer(code: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": DESCRIPTIONS[code],
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
    if code == 429:
        answer["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
    return answer


def _openai_answer(code: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": OPENAI_DESCRIPTIONS[code],
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIErrorOut"}}}}
    if code == 429:
        answer["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
    return answer


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every endpoint, including those of included routers (FastAPI keeps them nested)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(_api_routes(route.original_router.routes))
    return found


def _needs_login(route: APIRoute) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if dependency.call is current_account:
            return True
        pending.extend(dependency.dependencies)
    return False


def _codes(method: str, path: str, operation: dict[str, Any], logged_in: bool) -> list[int]:
    codes = [400, 431]
    if "requestBody" in operation:
        codes += [413, 422]
    if operation.get("parameters"):
        codes.append(422)
    if logged_in:
        codes.append(401)
    if method in UNSAFE:
        codes.append(403)
    if "{" in path:
        codes.append(404)
    return codes + list(EXTRA.get((method, path), ()))


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(error_schema.pop("$defs", {}))
        components["ErrorOut"] = error_schema
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        logins = {(m.lower(), r.path): _needs_login(r) for r in _api_routes(app.routes) for m in (r.methods or ())}
        openai_schema = OpenAIErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(openai_schema.pop("$defs", {}))
        components["OpenAIErrorOut"] = openai_schema
        for path, item in schema["paths"].items():
            for method, operation in item.items():
                answers = operation.setdefault("responses", {})
                if path.startswith("/v1/"):
                    answers.pop("422", None)
                    for code in OPENAI_DESCRIPTIONS:
                        answers[str(code)] = _openai_answer(code)
                    continue
                for code in sorted(set(_codes(method, path, operation, logins.get((method, path), False)))):
                    answers[str(code)] = _answer(code)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
